"""The supported file formats: file-name endings, magic bytes, and the checks every reader shares.

This module is the bottom of :mod:`napari_batchseg.io`'s readers: :mod:`.reader` chooses a reader with
it, and :mod:`.tiff` / :mod:`.nd2` use its checks, so neither format reader imports :mod:`.reader` back.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import InputError
from .sources import CANONICAL_AXES

#: Recognised file-name endings, longest first (matched case-insensitively).
SUFFIXES: tuple[str, ...] = (".ome.tiff", ".ome.tif", ".tiff", ".tif", ".nd2")

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic TIFF and BigTIFF
_ND2_MAGIC = (
    b"\xda\xce\xbe\x0a",  # modern ND2 (chunk map format)
    b"\x00\x00\x00\x0cjP  \r\n\x87\n",  # legacy ND2 (JPEG 2000 container)
)
_KIND_NAMES = {"tiff": "TIFF", "nd2": "ND2"}


def matching_suffix(path: str | Path) -> str | None:
    """The recognised ending of ``path`` (lower case, e.g. ``".ome.tif"``), or ``None``."""
    name = Path(path).name.lower()
    for suffix in SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return suffix
    return None


def stem_of(path: str | Path) -> str:
    """File name without its image extension (``a.ome.tiff`` -> ``a``, ``b.nd2`` -> ``b``).

    Double extensions ``.ome.tif``/``.ome.tiff`` are removed whole. For other extensions only the last
    suffix is removed.
    """
    name = Path(path).name
    suffix = matching_suffix(name)
    if suffix is not None:
        return name[: -len(suffix)]
    return Path(name).stem


def kind_of_suffix(path: str | Path) -> str | None:
    """``"tiff"``, ``"nd2"`` or ``None`` according to the file name alone."""
    suffix = matching_suffix(path)
    if suffix is None:
        return None
    return "nd2" if suffix == ".nd2" else "tiff"


def _describe_start(head: bytes) -> str:
    """How a file starts, for messages: ``'hello wor'`` for text, hex bytes otherwise."""
    head = head[:9]
    if head and all(32 <= b < 127 for b in head):
        return repr(head.decode("ascii"))
    return "bytes " + head.hex(" ")


def _kind_of_head(head: bytes) -> str | None:
    """``"tiff"`` or ``"nd2"`` from a file's first bytes, ``None`` if neither."""
    if head[:4] in _TIFF_MAGIC:
        return "tiff"
    if any(head.startswith(m) for m in _ND2_MAGIC):
        return "nd2"
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


def check_file(path: str | Path, expected: str) -> str:
    """Check that ``path`` is a readable, non-empty file whose content is ``expected`` (tiff/nd2).

    Returns the kind found in the content (``"tiff"`` or ``"nd2"``); raises :class:`InputError` with a
    plain-words message otherwise.
    """
    path = Path(path)
    name = path.name or str(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
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
            f"{name}: not a{'n' if expected == 'nd2' else ''} {_KIND_NAMES[expected]} file "
            f"(it starts with {_describe_start(head)})"
        )
    if len(head) < 8:
        raise InputError(f"{name}: truncated or corrupt {_KIND_NAMES[found]}: only {size} bytes")
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
    "SUFFIXES",
    "check_file",
    "kind_of_suffix",
    "matching_suffix",
    "parse_axes",
    "stem_of",
]
