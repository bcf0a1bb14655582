"""The supported file formats: file-name endings, magic bytes, and the checks every reader shares.

This module is the bottom of :mod:`napari_batchseg.io`'s readers: :mod:`.reader` chooses a reader with
it, and :mod:`.tiff` / :mod:`.nd2` use its checks, so neither format reader imports :mod:`.reader` back.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from ..errors import InputError
from .sources import CANONICAL_AXES


@dataclass(frozen=True)
class Format:
    """One input format: how its files are named and start, and what reading it needs.

    A new format is one more entry in :data:`FORMATS` plus its opener in :mod:`.reader`.

    Attributes
    ----------
    kind
        Short name (``"tiff"``, ``"nd2"``, ``"hdf5"``, ``"czi"``, ...), the key of its opener.
    label
        Name in messages (``"TIFF"``).
    suffixes
        File-name endings, lower case.
    magic
        Possible first bytes of the content; empty for a folder format.
    folder
        Whether an image is a folder (OME-Zarr), not a file.
    requires
        Python modules reading it needs (checked with :func:`importlib.util.find_spec`, not imported).
    extra
        The pip extra of napari-batchseg that installs them (``None``: always installed).
    """

    kind: str
    label: str
    suffixes: tuple[str, ...]
    magic: tuple[bytes, ...] = ()
    folder: bool = False
    requires: tuple[str, ...] = ()
    extra: str | None = None

    def available(self) -> bool:
        """Whether every module reading this format needs is installed."""
        return all(_installed(m) for m in self.requires)

    def install_hint(self) -> str:
        """How to install what this format needs (``pip install 'napari-batchseg[formats]'``)."""
        what = f"napari-batchseg[{self.extra}]" if self.extra else " ".join(self.requires)
        return f"pip install '{what}'"


def _installed(module: str) -> bool:
    try:
        return find_spec(module) is not None
    except (ImportError, ValueError):
        return False


_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic TIFF and BigTIFF
_ND2_MAGIC = (
    b"\xda\xce\xbe\x0a",  # modern ND2 (chunk map format)
    b"\x00\x00\x00\x0cjP  \r\n\x87\n",  # legacy ND2 (JPEG 2000 container)
)
_HDF5_MAGIC = (b"\x89HDF\r\n\x1a\n",)
_CZI_MAGIC = (b"ZISRAWFILE",)
_LIF_MAGIC = (b"\x70\x00\x00\x00",)  # Leica LIF: test value 0x70, then the XML header's length

#: Every format this package knows, in the order files are matched (longest endings first within).
FORMATS: tuple[Format, ...] = (
    Format("tiff", "TIFF", (".ome.tiff", ".ome.tif", ".tiff", ".tif"), _TIFF_MAGIC),
    Format("nd2", "ND2", (".nd2",), _ND2_MAGIC),
    Format("hdf5", "HDF5", (".hdf5", ".h5"), _HDF5_MAGIC, requires=("h5py",)),
    Format("ome-zarr", "OME-Zarr", (".ome.zarr", ".zarr"), folder=True,
           requires=("bioio", "bioio_ome_zarr"), extra="bioio"),
    Format("czi", "CZI", (".czi",), _CZI_MAGIC, requires=("bioio", "bioio_czi"), extra="formats"),
    Format("lif", "LIF", (".lif",), _LIF_MAGIC, requires=("bioio", "bioio_lif"), extra="formats"),
)
_BY_KIND = {f.kind: f for f in FORMATS}
_ALL_SUFFIXES = sorted(((s, f) for f in FORMATS for s in f.suffixes), key=lambda sf: -len(sf[0]))


def format_named(kind: str) -> Format:
    """The :class:`Format` of a kind (``"tiff"``, ``"hdf5"``, ...)."""
    return _BY_KIND[kind]


def _match(path: str | Path) -> tuple[str, Format] | None:
    name = Path(path).name.lower()
    for suffix, fmt in _ALL_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return suffix, fmt
    return None


def zarr_attrs(path: str | Path) -> dict[str, Any]:
    """The attributes of a Zarr group (format 2 ``.zattrs`` or 3 ``zarr.json``), ``{}`` if none."""
    for name, key in ((".zattrs", None), ("zarr.json", "attributes")):
        meta = Path(path) / name
        if meta.is_file():
            try:
                data = json.loads(meta.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return {}
            data = data.get(key, {}) if key else data
            return data if isinstance(data, dict) else {}
    return {}


def ome_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    """OME-NGFF keys of a group's attributes: at the top (0.4) or under ``"ome"`` (0.5)."""
    nested = attrs.get("ome")
    return nested if isinstance(nested, dict) else attrs


#: the OME-NGFF keys that make a Zarr group an image (``multiscales``) or part of an HCS plate
NGFF_KEYS = ("multiscales", "plate", "well")


def _ngff_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder whose Zarr attributes are OME-NGFF (an image, a plate or a well).

    So an image inside a plate (``plate.ome.zarr/A/1/0``), whose name has no ``.zarr``, is an OME-Zarr.
    """
    try:
        if not Path(path).is_dir():
            return False
    except OSError:
        return False
    found = ome_attrs(zarr_attrs(path))
    return any(key in found for key in NGFF_KEYS)


def format_of(path: str | Path) -> Format | None:
    """The format ``path``'s name says (installed or not), or ``None``.

    A folder whose name says nothing is OME-Zarr when its Zarr attributes are OME-NGFF (the images
    inside an HCS plate are named ``0``, ``1``, ...).
    """
    hit = _match(path)
    if hit is not None:
        return hit[1]
    return _BY_KIND["ome-zarr"] if _ngff_folder(path) else None


def supported_extensions() -> tuple[str, ...]:
    """The file-name endings this installation reads (formats whose reader modules are installed).

    The one list the CLI (``batchseg info``, the default ``--ext``), folder discovery and the napari
    plugin follow: CZI and LIF appear only with the ``[formats]`` extra, OME-Zarr with ``[bioio]``.
    """
    return tuple(s for f in FORMATS if f.available() for s in f.suffixes)


#: The endings this installation reads, as found when the package was imported.
SUFFIXES: tuple[str, ...] = supported_extensions()


def matching_suffix(path: str | Path) -> str | None:
    """The recognised ending of ``path`` (lower case, e.g. ``".ome.tif"``), or ``None``."""
    hit = _match(path)
    return None if hit is None else hit[0]


def stem_of(path: str | Path) -> str:
    """File name without its image extension (``a.ome.tiff`` -> ``a``, ``b.nd2`` -> ``b``).

    Double extensions ``.ome.tif``/``.ome.tiff``/``.ome.zarr`` are removed whole. For other extensions
    only the last suffix is removed.
    """
    name = Path(path).name
    suffix = matching_suffix(name)
    if suffix is not None:
        return name[: -len(suffix)]
    return Path(name).stem


def kind_of_suffix(path: str | Path) -> str | None:
    """The format kind (``"tiff"``, ``"nd2"``, ``"hdf5"``, ...) according to the file name alone."""
    fmt = format_of(path)
    return None if fmt is None else fmt.kind


def _describe_start(head: bytes) -> str:
    """How a file starts, for messages: ``'hello wor'`` for text, hex bytes otherwise."""
    head = head[:9]
    if head and all(32 <= b < 127 for b in head):
        return repr(head.decode("ascii"))
    return "bytes " + head.hex(" ")


def _kind_of_head(head: bytes) -> str | None:
    """The format kind a file's first bytes say (``"tiff"``, ``"nd2"``, ...), ``None`` if none."""
    for fmt in FORMATS:
        if any(head.startswith(m) for m in fmt.magic):
            return fmt.kind
    return None


def _special_kind(mode: int) -> str:
    """What a non-regular file is, in words (``"a named pipe"``, ``"a socket"``, ...)."""
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


def _article(label: str) -> str:
    return "an" if label[0] in "AEFHILMNORSX" else "a"


def _check_folder_image(path: Path, fmt: Format) -> str:
    """Check that ``path`` is a folder holding Zarr metadata (``.zattrs`` / ``zarr.json``)."""
    name = path.name or str(path)
    if not path.is_dir():
        raise InputError(f"{name}: not an {fmt.label} folder (it is a file)")
    if not any((path / m).is_file() for m in (".zattrs", ".zgroup", "zarr.json")):
        raise InputError(f"{name}: not an {fmt.label} image (the folder holds no .zattrs or zarr.json)")
    return fmt.kind


def check_file(path: str | Path, expected: str) -> str:
    """Check that ``path`` is a readable, non-empty file whose content is ``expected`` (a format kind).

    Returns the kind found in the content (``"tiff"``, ``"nd2"``, ``"hdf5"``, ...); raises
    :class:`InputError` with a plain-words message otherwise. A folder format (OME-Zarr) is checked
    for its Zarr metadata instead.
    """
    path = Path(path)
    name = path.name or str(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    fmt = _BY_KIND[expected]
    if fmt.folder:
        return _check_folder_image(path, fmt)
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an image file")
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise InputError(f"{name}: not a regular file ({_special_kind(mode)}); only files are read")
        # O_NONBLOCK: should the path be swapped for a pipe after the check, opening it cannot block.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise InputError(f"{name}: not a regular file; only files are read")
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(16)
    except PermissionError as exc:
        raise InputError(f"{name}: cannot be read (permission denied)") from exc
    except OSError as exc:
        raise InputError(f"{name}: cannot be read ({exc.strerror or exc})") from exc
    if size == 0:
        raise InputError(f"{name}: file is empty (0 bytes)")
    found = _kind_of_head(head)
    if found is None:
        raise InputError(
            f"{name}: not {_article(fmt.label)} {fmt.label} file "
            f"(it starts with {_describe_start(head)})"
        )
    if len(head) < 8:
        raise InputError(f"{name}: truncated or corrupt {_BY_KIND[found].label}: only {size} bytes")
    return found


def parse_axes(axes: str | None, path: str | Path) -> str | None:
    """Validate an axes override such as ``"TYX"`` (letters P T C Z Y X, no repeats, ending in YX)."""
    if axes is None:
        return None
    name = Path(path).name
    text = str(axes).strip().upper()
    bad = sorted({a for a in text if a not in CANONICAL_AXES})
    if bad:
        raise InputError(
            f"{name}: axes={axes!r} has unknown letter(s) {', '.join(bad)} "
            f"(use P, T, C, Z, Y, X, e.g. 'TYX' or 'ZCYX')"
        )
    repeated = sorted({a for a in text if text.count(a) > 1})
    if repeated:
        raise InputError(f"{name}: axes={axes!r} repeats {', '.join(repeated)}")
    if not text.endswith("YX"):
        raise InputError(f"{name}: axes={axes!r} must end in 'YX' (rows, then columns)")
    return text


__all__ = [
    "FORMATS",
    "SUFFIXES",
    "Format",
    "check_file",
    "format_named",
    "format_of",
    "kind_of_suffix",
    "matching_suffix",
    "parse_axes",
    "stem_of",
    "supported_extensions",
]
