"""Atomic file writes: data goes to a hidden temporary file beside the target, then one rename.

A crash or cancel never leaves a half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import OutputError

PARTIAL_MARK = ".partial-"


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path in ``target``'s folder; on success rename it onto ``target``.

    On any exception the temporary file is removed and ``target`` is left as it was.
    """
    target = Path(target)
    folder = target.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}{PARTIAL_MARK}", dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write in output folder {folder}: {exc.strerror or exc}") from exc
    try:  # mkstemp makes 0600 files: give results the permissions any new file would get
        os.fchmod(fd, 0o666 & ~_UMASK)
    finally:
        os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:  # on disk before the rename: no empty file after a power cut
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


def atomic_write_text(target: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def check_writable_dir(folder: str | Path) -> None:
    """Raise :class:`OutputError` unless ``folder`` exists (or can be made) and accepts files."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {folder}: {exc.strerror or exc}") from exc
    if not folder.is_dir():
        raise OutputError(f"output folder {folder} is not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".batchseg-write-test-", dir=folder)
    except OSError as exc:
        raise OutputError(f"output folder {folder} is not writable: {exc.strerror or exc}") from exc
    os.close(fd)
    os.unlink(probe)
