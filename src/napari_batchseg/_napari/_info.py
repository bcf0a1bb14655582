"""Metadata of the listed files, read off the GUI thread (no pixels) and cached.

What is read per file (:func:`~napari_batchseg.view.file_info.read_file_info`): its metadata, or why it
cannot be read, and, for HDF5, the names of its image datasets; all of it in the worker, so that the GUI
thread does no disk I/O for the Files tab.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from qtpy.QtCore import QObject, Signal

from ..io.sources import SourceInfo
from ..view.file_info import FileInfo, read_file_info, read_info_safe
from ._worker import Background


class InfoCache(QObject):
    """Reads metadata of files in a worker thread; emits ``updated`` as each file is known."""

    updated = Signal(object)  # Path

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._infos: dict[Path, SourceInfo | str] = {}
        self._datasets: dict[Path, tuple[str, ...]] = {}
        self._queued: set[Path] = set()
        #: metadata of ambiguous files read with the axes chosen for them
        self._with_axes: dict[tuple[Path, str], SourceInfo | str] = {}
        self._queued_axes: set[tuple[Path, str]] = set()
        #: the metadata is read by daemon threads (a thread never touches Qt; see :mod:`._worker`)
        self.background = Background(self)

    def get(self, path: Path) -> SourceInfo | str | None:
        """Cached metadata (``None`` while unknown)."""
        return self._infos.get(Path(path))

    def datasets(self, path: Path) -> tuple[str, ...]:
        """The image datasets of an HDF5 file, as the worker read them (empty while unknown, or none)."""
        return self._datasets.get(Path(path), ())

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

        def work() -> Iterator[FileInfo]:
            for p in todo:
                yield read_file_info(p)

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

    def _on_info(self, item: FileInfo) -> None:
        self._queued.discard(item.path)
        self._infos[item.path] = item.info
        self._datasets[item.path] = item.datasets
        self.updated.emit(item.path)
