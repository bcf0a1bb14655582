"""The one atomic writer of text files: a hidden temporary file beside the target, synced, then one rename.

A failure (a full disk, a file size limit) or a kill never leaves a file cut short under the target's
name: the earlier file stays as it was. Foundation layer (it imports nothing of the package), so that the
parameters (:meth:`~napari_batchseg.params.SegmentationParams.save`) write through it as
:func:`napari_batchseg.io.atomic.atomic_write_text` (every log, table and registry) does; the names of
temporary files (:func:`hidden_name`, :func:`partial_prefix`) and the process umask are here for both.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["NAME_MAX", "PARTIAL_MARK", "UMASK", "hidden_name", "new_temp_file", "partial_prefix",
           "write_text_atomic"]

PARTIAL_MARK = ".partial-"
#: the longest file name (bytes) most file systems take (ext4, XFS, APFS, NTFS in UTF-16 units)
NAME_MAX = 255
#: bytes kept free after a hidden name for what follows it (``.partial-XXXXXXXX.buffer``,
#: ``.lock.stale-XXXXXXXX``)
_TAIL_ROOM = 32
_HASH_CHARS = 16


def _read_umask() -> int:
    mask = os.umask(0)  # (0 for a moment: read once per process, at import)
    os.umask(mask)
    return mask


#: the process umask: a temporary file gets the permissions any new file would get
UMASK = _read_umask()


def hidden_name(name: str) -> str:
    """``.<name>``, the base of a temporary or lock file of output ``name``, short enough to exist.

    When ``.<name>`` plus the longest tail added to it would pass :data:`NAME_MAX` bytes, the name
    is cut and a hash of the whole name is added (``.<start of name>~<16 hex>``): an output whose own
    name is legal never fails because its lock or temporary file name would not be.
    """
    full = f".{name}"
    if len(full.encode("utf-8")) + _TAIL_ROOM <= NAME_MAX:
        return full
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:_HASH_CHARS]
    keep = NAME_MAX - _TAIL_ROOM - _HASH_CHARS - 2
    start = full.encode("utf-8")[:keep].decode("utf-8", "ignore")
    return f"{start}~{digest}"


def partial_prefix(target: str | Path) -> str:
    """The name prefix of ``target``'s temporary files: ``.<name>.partial-`` (see :func:`hidden_name`)."""
    return hidden_name(Path(target).name) + PARTIAL_MARK


def new_temp_file(folder: str | Path, prefix: str) -> tuple[int, str]:
    """A new temporary file in ``folder`` (``mkstemp``), open: ``(fd, path)``; it raises :class:`OSError`.

    ``mkstemp`` makes 0600 files: this one gets the permissions any new file would get (no ``fchmod``
    on Windows before Python 3.13, where ``mkstemp``'s files are as any other).
    """
    fd, tmp = tempfile.mkstemp(prefix=prefix, dir=folder)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o666 & ~UMASK)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return fd, tmp


def _named(exc: OSError, target: Path, _creating: bool) -> BaseException:
    """``exc`` naming ``target``, not the temporary file (the file asked for)."""
    return exc if exc.errno is None else type(exc)(exc.errno, exc.strerror, str(target))


def write_text_atomic(
    target: str | Path, text: str, prefix: str | None = None, *,
    write: Callable[[int, bytes], int] = os.write,
    fsync: Callable[[int], None] = os.fsync,
    place: Callable[[Path, Path], object] = os.replace,
    error: Callable[[OSError, Path, bool], BaseException] = _named,
) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically.

    Parameters
    ----------
    target
        The file; its earlier file is left as it was when anything fails.
    text
        Its new contents.
    prefix
        The temporary file's name prefix (default :func:`partial_prefix`: ``.<name>.partial-``).
    write, fsync, place
        The system calls: ``os.write``, ``os.fsync`` and ``place(tmp, target)``, which puts the synced
        temporary file in place (``os.replace``; :mod:`napari_batchseg.io.atomic` passes its own, and
        hands the file to a stage instead of renaming it inside ``staged()``).
    error
        What an :class:`OSError` is raised as, told the target and whether the temporary file could not
        be made (the folder's fault): by default the same error naming ``target``.

    Raises
    ------
    OSError
        (``error``'s) The file cannot be written; the temporary file is removed.
    """
    target = Path(target)
    try:
        fd, tmp = new_temp_file(target.parent, prefix or partial_prefix(target))
    except OSError as exc:
        raise error(exc, target, True) from exc
    try:
        try:
            data = memoryview(text.encode("utf-8"))
            while data:
                data = data[write(fd, bytes(data)):]
            fsync(fd)  # on disk before the rename: no empty file after a power cut
        finally:
            os.close(fd)
        place(Path(tmp), target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise error(exc, target, False) from exc
        raise
