"""Metadata of the listed files, read off the GUI thread (no pixels) and cached."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from qtpy.QtCore import QObject, Signal

from ..io.reader import read_info
from ..io.sources import SourceInfo
from ..runnable import FileProblem, problem_of
from ._worker import Background


class ReadError(str):
    """Why a file cannot be read: the message shown, with its typed :class:`~..runnable.FileProblem`."""

    problem: FileProblem

    def __new__(cls, problem: FileProblem) -> ReadError:
        made = super().__new__(cls, problem.message)
        made.problem = problem
        return made


def read_info_safe(path: Path, axes: str | None = None) -> SourceInfo | str:
    """The file's :class:`SourceInfo` (read with ``axes`` when given), or why it cannot be read.

    The reason is a :class:`ReadError`: ambiguous axes are told by the reader's exception type, not
    by its words.
    """
    try:
        return read_info(path, axes)
    except Exception as exc:  # noqa: BLE001 - shown to the user next to the file
        return ReadError(problem_of(exc))


def describe_info(info: SourceInfo | str | None) -> str:
    """Multi-line summary of a file's metadata for the info panel."""
    if info is None:
        return "reading metadata…"
    if isinstance(info, str):
        return f"cannot read: {info}"
    s = info.sizes
    axes = "".join(a for a in "PTCZYX" if s[a] > 1 or a in "YX")
    sizes = " × ".join(f"{a}={s[a]}" for a in axes)
    ps = info.pixel_size
    if ps.x:
        pix = f"{ps.x:.4g} × {ps.y:.4g} µm" + (f", Z step {ps.z:.4g} µm" if ps.z and s["Z"] > 1 else "")
    else:
        pix = "unknown"
    channels = ", ".join(f"{i}: {n}" for i, n in enumerate(info.channel_names))
    lines = [
        f"format: {info.format or '?'}; axes: {axes} (file: {info.native_axes or '?'})",
        f"sizes: {sizes}; {info.dtype}",
        f"channels: {channels}",
        f"pixel size: {pix}",
    ]
    if s["P"] > 1:
        lines.append(f"positions: {s['P']} (each gives its own output)")
    return "\n".join(lines)


class InfoCache(QObject):
    """Reads metadata of files in a worker thread; emits ``updated`` as each file is known."""

    updated = Signal(object)  # Path

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._infos: dict[Path, SourceInfo | str] = {}
        self._queued: set[Path] = set()
        #: metadata of ambiguous files read with the axes chosen for them
        self._with_axes: dict[tuple[Path, str], SourceInfo | str] = {}
        self._queued_axes: set[tuple[Path, str]] = set()
        #: the metadata is read by daemon threads (a thread never touches Qt; see :mod:`._worker`)
        self.background = Background(self)

    def get(self, path: Path) -> SourceInfo | str | None:
        """Cached metadata (``None`` while unknown)."""
        return self._infos.get(Path(path))

    def infos(self, paths: Iterable[str | Path]) -> list[SourceInfo]:
        """Known, readable metadata of ``paths``."""
        out: list[SourceInfo] = []
        for p in paths:
            i = self._infos.get(Path(p))
            if isinstance(i, SourceInfo):
                out.append(i)
        return out

    def request(self, paths: Iterable[str | Path]) -> None:
        """Read, in a worker thread, the metadata of the paths not known yet."""
        todo = [Path(p) for p in paths if Path(p) not in self._infos and Path(p) not in self._queued]
        if not todo:
            return
        self._queued.update(todo)

        def work() -> Iterator[tuple[Path, SourceInfo | str]]:
            for p in todo:
                yield p, read_info_safe(p)

        self.background.submit(work, on_item=self._on_info, name="batchseg-metadata")

    def with_axes(self, path: str | Path, axes: str | None) -> SourceInfo | str | None:
        """Metadata of ``path`` as it will be read with ``axes`` (an ambiguous file given its axes).

        Without ``axes``, the file's own (:meth:`get`). Unknown yet: ``None``, and a worker reads it.
        """
        path = Path(path)
        if not axes:
            return self.get(path)
        key = (path, axes)
        if key in self._with_axes:
            return self._with_axes[key]
        if key not in self._queued_axes:
            self._queued_axes.add(key)

            def work() -> Iterator[tuple[tuple[Path, str], SourceInfo | str]]:
                yield key, read_info_safe(path, axes)

            self.background.submit(work, on_item=self._on_axes_info, name="batchseg-metadata")
        return None

    @property
    def busy(self) -> bool:
        """Whether a worker is still reading."""
        return self.background.busy

    def close(self) -> None:
        """Deliver nothing more (the widget is closing)."""
        self.background.close()

    def _on_axes_info(self, item: tuple[tuple[Path, str], SourceInfo | str]) -> None:
        key, info = item
        self._queued_axes.discard(key)
        self._with_axes[key] = info
        self.updated.emit(key[0])

    def _on_info(self, item: tuple[Path, SourceInfo | str]) -> None:
        path, info = item
        self._queued.discard(path)
        self._infos[path] = info
        self.updated.emit(path)
