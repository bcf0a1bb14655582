"""Open any supported microscopy file as a lazy :class:`~.sources.ImageSource`.

:func:`open_source` checks the file (exists, not empty, content matches a supported format) and hands it
to :class:`~.tiff.TiffSource` or :class:`~.nd2.ND2Source`. Every problem with an input file is raised as
:class:`~napari_batchseg.errors.InputError` whose message starts with the file name and says what is
wrong in plain words.

The file-name and content checks live in :mod:`.formats` (shared with the format readers); they are
re-exported here, so ``from napari_batchseg.io.reader import stem_of`` keeps working.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import InputError
from .formats import SUFFIXES, check_file, kind_of_suffix, matching_suffix, parse_axes, stem_of
from .sources import ImageSource, SourceInfo

#: sources that are not files (e.g. a napari layer), opened by their opener under a made-up path
_IN_MEMORY: dict[Path, Callable[[], ImageSource]] = {}


def register_source(path: str | Path, opener: Callable[[], ImageSource]) -> None:
    """Make :func:`open_source` (hence the engine) open ``path`` with ``opener()`` instead of a file.

    Lets in-memory images (the napari widget's image layers) go through the same engine as files; the
    path only names the input and its outputs. Undo with :func:`unregister_source`.
    """
    _IN_MEMORY[Path(path)] = opener


def unregister_source(path: str | Path) -> None:
    """Forget a source registered with :func:`register_source`."""
    _IN_MEMORY.pop(Path(path), None)


def open_source(path: str | Path, axes: str | None = None) -> ImageSource:
    """Open ``path`` lazily as an :class:`ImageSource` (no pixels are read).

    Parameters
    ----------
    path
        An ``.nd2``, ``.tif``, ``.tiff``, ``.ome.tif`` or ``.ome.tiff`` file.
    axes
        Optional override of the file's own axes, one letter of ``P T C Z Y X`` per file dimension in
        the file's order and ending in ``YX`` (e.g. ``"TYX"`` for a stack whose planes are time points).
        RGB samples of a TIFF always become channels and are not counted.

    Returns
    -------
    ImageSource
        A :class:`~.tiff.TiffSource` or :class:`~.nd2.ND2Source`, chosen by the file's content.

    Raises
    ------
    InputError
        When the file is missing, empty, of an unsupported type, not what its extension says, corrupt,
        or when its axes are ambiguous / do not fit ``axes``.
    """
    path = Path(path)
    opener = _IN_MEMORY.get(path)
    if opener is not None:
        return opener()
    name = path.name or str(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    expected = kind_of_suffix(path)
    if expected is None:
        what = f"file type {path.suffix!r}" if path.suffix else "file type (no extension)"
        raise InputError(
            f"{name}: unsupported {what}; supported: .nd2, .tif, .tiff, .ome.tif, .ome.tiff"
        )
    found = check_file(path, expected)  # the only read of the file's first bytes
    if found == "nd2":
        from .nd2 import ND2Source

        return ND2Source(path, axes=axes, checked=True)
    from .tiff import TiffSource

    return TiffSource(path, axes=axes, checked=True)


def read_info(path: str | Path, axes: str | None = None) -> SourceInfo:
    """Metadata of ``path`` (sizes, channels, pixel size, ...) without reading pixels."""
    with open_source(path, axes=axes) as src:
        return src.info


__all__ = [
    "SUFFIXES",
    "check_file",
    "kind_of_suffix",
    "matching_suffix",
    "open_source",
    "parse_axes",
    "read_info",
    "register_source",
    "stem_of",
    "unregister_source",
]
