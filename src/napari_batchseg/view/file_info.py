"""Metadata of listed files, read by a worker (no pixels), and how it is summed up for the user."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..io.formats import kind_of_suffix
from ..io.hdf5 import image_datasets
from ..io.reader import read_info
from ..io.sources import SourceInfo
from ..runnable import FileProblem, problem_of


class ReadError(str):
    """Why a file cannot be read: the message shown, with its typed :class:`~..runnable.FileProblem`."""

    problem: FileProblem

    def __new__(cls, problem: FileProblem) -> ReadError:  # noqa: D102 - a str with its problem
        made = super().__new__(cls, problem.message)
        made.problem = problem
        return made


def is_ambiguous(error: object) -> bool:
    """Whether a metadata error is ambiguous axes (an axes choice makes the file readable; by type)."""
    return isinstance(error, ReadError) and error.problem.ambiguous


def read_info_safe(path: Path, axes: str | None = None) -> SourceInfo | str:
    """The file's :class:`SourceInfo` (read with ``axes`` when given), or why it cannot be read.

    The reason is a :class:`ReadError`: ambiguous axes are told by the reader's exception type, not
    by its words.
    """
    try:
        return read_info(path, axes)
    except Exception as exc:  # noqa: BLE001 - shown to the user next to the file
        return ReadError(problem_of(exc))


def image_dataset_names(path: Path) -> list[str]:
    """The image datasets of an HDF5 file (``/raw``, ...); ``[]`` for other formats or an unreadable file."""
    if kind_of_suffix(path) != "hdf5":
        return []
    try:
        import h5py  # type: ignore[import-untyped]

        with h5py.File(path, "r") as h5:
            return list(image_datasets(h5))
    except Exception:  # noqa: BLE001 - unreadable: its own error is shown as the file's mark
        return []


@dataclass(frozen=True)
class FileInfo:
    """What a worker reads of one listed file: its metadata (or why not) and its HDF5 image datasets."""

    path: Path
    info: SourceInfo | str
    datasets: tuple[str, ...] = ()


def read_file_info(path: Path) -> FileInfo:
    """Worker thread: the metadata of ``path`` and, for HDF5, the names of its image datasets."""
    return FileInfo(path, read_info_safe(path), tuple(image_dataset_names(path)))


@dataclass
class InfoStore:
    """The metadata of listed files as the workers read it, and what is still to read (no Qt, no disk).

    ``_napari._files.InfoCache`` hands :meth:`todo` to a worker and what it reads to :meth:`take`.
    """

    infos: dict[Path, SourceInfo | str] = field(default_factory=dict)
    dataset_names: dict[Path, tuple[str, ...]] = field(default_factory=dict)
    queued: set[Path] = field(default_factory=set)
    #: metadata of ambiguous files read with the axes chosen for them, by ``(path, axes)``
    with_axes: dict[tuple[Path, str], SourceInfo | str] = field(default_factory=dict)
    queued_axes: set[tuple[Path, str]] = field(default_factory=set)

    def get(self, path: Path) -> SourceInfo | str | None:
        """Known metadata (``None`` while unknown)."""
        return self.infos.get(as_path(path))

    def datasets(self, path: Path) -> tuple[str, ...]:
        """The image datasets of an HDF5 file, as read (empty while unknown, or none)."""
        return self.dataset_names.get(as_path(path), ())

    def readable(self, paths: Iterable[str | Path]) -> list[SourceInfo]:
        """Known, readable metadata of ``paths``."""
        return [i for p in paths if isinstance(i := self.infos.get(Path(p)), SourceInfo)]

    def todo(self, paths: Iterable[str | Path]) -> list[Path]:
        """The paths neither known nor queued, queued from now on (for a worker to read)."""
        todo = [p for p in dict.fromkeys(map(Path, paths)) if p not in self.infos and p not in self.queued]
        self.queued.update(todo)
        return todo

    def take(self, item: FileInfo) -> Path:
        """Keep what a worker read of a file; its path."""
        self.queued.discard(item.path)
        self.infos[item.path] = item.info
        self.dataset_names[item.path] = item.datasets
        return item.path

    def axes_todo(self, key: tuple[Path, str]) -> bool:
        """Whether ``(path, axes)`` is neither known nor queued (then queued from now on)."""
        new = key not in self.with_axes and key not in self.queued_axes
        self.queued_axes.add(key)
        return new

    def take_axes(self, item: tuple[tuple[Path, str], SourceInfo | str]) -> Path:
        """Keep a file's metadata read with the axes chosen for it; its path."""
        key, info = item
        self.queued_axes.discard(key)
        self.with_axes[key] = info
        return key[0]


def info_panel_text(path: Path, info: SourceInfo | str | None, why: str) -> str:
    """The info panel of the current file: its name, why it cannot run as set up, and its metadata.

    The reason is whole here: the list shows it short (:func:`short_reason`). An unreadable file's reason
    is its metadata's line (``cannot read: ...``).
    """
    lines = [path.name, f"⚠ {why}" if why and not isinstance(info, str) else "", describe_info(info)]
    return "\n".join(line for line in lines if line)


def short_reason(why: str) -> str:
    """Why a file cannot run, as the list says it after its name (the tooltip and the panel say it whole).

    An unreadable file: up to the first colon. A long reason: before its first parenthesis or semicolon,
    which give details and advice (a walk: the list's middle elision cut long reasons in the middle).
    """
    if why.startswith("unreadable"):
        return why.split(":")[0]
    head = why.split(" (")[0].split(";")[0].rstrip()  # (a screenshot: its details still cut it)
    return why if len(why) <= SHORT_REASON or len(head) < 8 else head


#: a reason up to this many characters is listed whole
SHORT_REASON = 40


def describe_info(info: SourceInfo | str | None) -> str:
    """Multi-line summary of a file's metadata for the info panel."""
    if info is None:
        return "reading metadata…"
    if isinstance(info, str):
        from .phrasing import for_widget  # (phrasing needs the runners: imported when shown)

        return f"cannot read: {for_widget(info)}"
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
    if s["P"] > 1:  # (their indices and names: what the file's positions field takes)
        names = [f"{i} {name}" for i, name in enumerate(info.position_names)]
        if len(names) > LISTED_POSITIONS:
            names = [*names[:LISTED_POSITIONS - 2], "…", names[-1]]
        named = f": {', '.join(names)}" if names else ""
        lines.append(f"positions: {s['P']} (each gives its own output){named}")
    return "\n".join(lines)


#: positions the info panel names (then "…" and the last)
LISTED_POSITIONS = 8


def as_path(path: str | Path) -> Path:
    """``path`` as a :class:`Path`: a ``Path`` as it is (making one again parses it; lists ask per file)."""
    return path if isinstance(path, Path) else Path(path)
