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
from .formats import (
    SUFFIXES,
    check_file,
    format_named,
    format_of,
    kind_of_suffix,
    matching_suffix,
    parse_axes,
    stem_of,
    supported_extensions,
)
from .sources import ImageSource, SourceInfo

#: format kind -> opener ``(path, axes, dataset) -> ImageSource`` (the file's content checked already)
Opener = Callable[[Path, str | None, str | None], ImageSource]


def _open_tiff(path: Path, axes: str | None, dataset: str | None) -> ImageSource:
    from .tiff import TiffSource

    return TiffSource(path, axes=axes, checked=True)


def _open_nd2(path: Path, axes: str | None, dataset: str | None) -> ImageSource:
    from .nd2 import ND2Source

    return ND2Source(path, axes=axes, checked=True)


def _open_hdf5(path: Path, axes: str | None, dataset: str | None) -> ImageSource:
    from .hdf5 import Hdf5Source

    return Hdf5Source(path, axes=axes, dataset=dataset, checked=True)


def _open_bioio(path: Path, axes: str | None, dataset: str | None) -> ImageSource:
    from .bioio_source import BioioSource

    return BioioSource(path, axes=axes, dataset=dataset)


#: formats whose files are read by their content whatever their name says (an ND2 named .tif)
_INTERCHANGED = frozenset({"tiff", "nd2"})

OPENERS: dict[str, Opener] = {
    "tiff": _open_tiff, "nd2": _open_nd2, "hdf5": _open_hdf5,
    "ome-zarr": _open_bioio, "czi": _open_bioio, "lif": _open_bioio,
}

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


def open_source(path: str | Path, axes: str | None = None, dataset: str | None = None) -> ImageSource:
    """Open ``path`` lazily as an :class:`ImageSource` (no pixels are read).

    Parameters
    ----------
    path
        A file (or OME-Zarr folder) of a supported format: ``.nd2``, ``.tif``, ``.tiff``, ``.ome.tif``,
        ``.ome.tiff``, ``.h5``, ``.hdf5``; with the extras ``.ome.zarr``/``.zarr`` (``[bioio]``) and
        ``.czi``, ``.lif`` (``[formats]``). See :func:`~.formats.supported_extensions`.
    axes
        Optional override of the file's own axes, one letter of ``P T C Z Y X`` per file dimension in
        the file's order and ending in ``YX`` (e.g. ``"TYX"`` for a stack whose planes are time points).
        RGB samples of a TIFF always become channels and are not counted.
    dataset
        HDF5: the path of the image dataset inside the file (needed when it holds several).
        OME-Zarr: ``"labels/<name>"`` opens that label image (e.g. the ``labels/masks`` of our own
        export) instead of the root image. Ignored for the other formats.

    Returns
    -------
    ImageSource
        The reader of the file's format, chosen by its name and checked against its content.

    Raises
    ------
    InputError
        When the file is missing, empty, of an unsupported type, not what its extension says, corrupt,
        of a format whose optional reader is not installed (the message names the extra), or when its
        axes are ambiguous / do not fit ``axes``.
    """
    path = Path(path)
    opener = _IN_MEMORY.get(path)
    if opener is not None:
        return opener()
    name = path.name or str(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    fmt = format_of(path)
    if fmt is None:
        what = f"file type {path.suffix!r}" if path.suffix else "file type (no extension)"
        raise InputError(f"{name}: unsupported {what}; supported: {', '.join(supported_extensions())}")
    if not fmt.available():
        raise InputError(
            f"{name}: reading {fmt.label} files needs the optional reader "
            f"({', '.join(r.replace('_', '-') for r in fmt.requires)}): {fmt.install_hint()}"
            + (" (GPL-3 licensed, hence not installed by default)" if fmt.extra == "formats" else "")
        )
    found = check_file(path, fmt.kind)  # the only read of the file's first bytes
    if found != fmt.kind and not {found, fmt.kind} <= _INTERCHANGED:
        raise InputError(f"{name}: not {fmt.label} content (the file is {format_named(found).label})")
    return OPENERS[found](path, axes, dataset)


def read_info(path: str | Path, axes: str | None = None, dataset: str | None = None) -> SourceInfo:
    """Metadata of ``path`` (sizes, channels, pixel size, ...) without reading pixels."""
    with open_source(path, axes=axes, dataset=dataset) as src:
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
    "supported_extensions",
    "unregister_source",
]
