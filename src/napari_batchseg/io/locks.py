"""Output claims: an exclusive lock file beside each output while a run produces it.

Before producing ``X_vSM.ome.tif`` a run creates ``.X_vSM.ome.tif.lock`` with ``O_CREAT | O_EXCL``
(atomic on local file systems and on NFSv3+/SMB), holding the pid, host name, process start time and
the time the claim began. A second run that finds the lock reports the output as being produced by
that pid on that host and leaves it alone, so concurrent runs (one machine or several sharing a file
system) split the work. The lock is removed when the output is finished, failed or cancelled, and at
interpreter exit.

A lock left by a crash is *stale* and is taken over:

* same host: its process is gone (no such pid, or a pid reused by a process started later);
* another host: its file has not been touched for :data:`STALE_AFTER_S` seconds. Holders touch their
  locks every :data:`HEARTBEAT_S` seconds from a background thread, however long a frame takes.

Taking over renames the stale lock to a unique name first, so two runs that both find it stale cannot
both take it.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..errors import OutputError
from .atomic import PARTIAL_MARK, PROBE_PREFIX, pid_alive, stale_probe

__all__ = [
    "HEARTBEAT_S", "LOCK_SUFFIX", "STALE_AFTER_S", "Leftover", "LockInfo", "OutputLock", "belongs_to",
    "claim", "find_leftovers", "live_holder", "lock_path", "partials_of", "read_lock",
]

LOCK_SUFFIX = ".lock"
#: a lock of another host untouched this long is stale (seconds)
STALE_AFTER_S = 600.0
#: how often a holder touches its locks (seconds)
HEARTBEAT_S = 60.0
#: a lock file still empty this long after creation was left by a crash while it was being written
_EMPTY_GRACE_S = 10.0
HOST = socket.gethostname()


def lock_path(target: str | Path) -> Path:
    """The lock file of output ``target``: ``.<name>.lock`` in the same folder."""
    target = Path(target)
    return target.with_name(f".{target.name}{LOCK_SUFFIX}")


def _proc_start(pid: int) -> str | None:
    """Start time of process ``pid`` in clock ticks since boot (Linux), else ``None``."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read().decode("ascii", "replace")
    except OSError:
        return None
    fields = data.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


_pid_alive = pid_alive


@dataclass(frozen=True)
class LockInfo:
    """Who holds a lock (read from the lock file)."""

    path: Path
    pid: int
    host: str
    started: float
    proc_start: str | None
    token: str
    mtime: float

    def describe(self) -> str:
        """``pid N on host H since HH:MM:SS``."""
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))
        return f"pid {self.pid} on host {self.host} (since {since})"

    def is_stale(self, now: float | None = None) -> bool:
        """Whether the holder is gone (see the module notes)."""
        now = time.time() if now is None else now
        if self.host == HOST:
            if not _pid_alive(self.pid):
                return True
            if self.proc_start is not None:
                current = _proc_start(self.pid)
                if current is not None and current != self.proc_start:
                    return True  # the pid now belongs to another process
            return False
        return now - self.mtime > STALE_AFTER_S


def read_lock(path: str | Path) -> LockInfo | None:
    """The holder recorded in lock file ``path`` (``None``: no such file, or not readable yet)."""
    path = Path(path)
    try:
        st = path.stat()
        data = json.loads(path.read_text(encoding="utf-8"))
        return LockInfo(path, int(data["pid"]), str(data["host"]), float(data["started"]),
                        data.get("proc_start"), str(data["token"]), st.st_mtime)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _lock_age(path: Path) -> float | None:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return None


def live_holder(target: str | Path) -> LockInfo | None:
    """The live run holding ``target``'s lock, else ``None`` (no lock, or a stale one)."""
    path = lock_path(target)
    info = read_lock(path)
    if info is None:
        age = _lock_age(path)
        if age is not None and age < _EMPTY_GRACE_S:  # being written right now
            return LockInfo(path, 0, "?", time.time(), None, "", time.time())
        return None
    if info.pid == os.getpid() and info.host == HOST:
        return None if info.token in _held else info
    return None if info.is_stale() else info


class OutputLock:
    """A claim on one output held by this process; :meth:`release` (or exit) removes it."""

    def __init__(self, target: Path, path: Path, token: str) -> None:
        self.target = target
        self.path = path
        self.token = token

    def release(self) -> None:
        """Remove the lock file if it is still this claim's."""
        _held.pop(self.token, None)
        info = read_lock(self.path)
        if info is not None and info.token == self.token:
            with contextlib.suppress(OSError):
                self.path.unlink()

    def touch(self) -> None:
        """Show that the holder is alive (for runs on other hosts)."""
        with contextlib.suppress(OSError):
            os.utime(self.path)

    def __enter__(self) -> OutputLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


_held: dict[str, OutputLock] = {}
_heartbeat: threading.Thread | None = None
_heartbeat_lock = threading.Lock()


def _beat() -> None:
    while True:
        time.sleep(HEARTBEAT_S)
        for lock in list(_held.values()):
            lock.touch()


def _start_heartbeat() -> None:
    global _heartbeat
    with _heartbeat_lock:
        if _heartbeat is None or not _heartbeat.is_alive():
            _heartbeat = threading.Thread(target=_beat, name="batchseg-lock-heartbeat", daemon=True)
            _heartbeat.start()


@atexit.register
def _release_all() -> None:
    for lock in list(_held.values()):
        lock.release()


def _break_stale(path: Path, info: LockInfo | None) -> None:
    """Move a stale lock aside (unique name), check it is the one judged stale, then delete it."""
    aside = path.with_name(f"{path.name}.stale-{uuid.uuid4().hex[:8]}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return  # another run broke it first
    moved = read_lock(aside)
    judged = info.token if info is not None else None
    moved_token = moved.token if moved is not None else None
    if moved_token != judged:  # a fresh lock was created meanwhile: put it back
        with contextlib.suppress(OSError):
            os.link(aside, path)
    with contextlib.suppress(OSError):
        aside.unlink()


def claim(target: str | Path) -> OutputLock | LockInfo:
    """Claim output ``target``: an :class:`OutputLock`, or the :class:`LockInfo` of its live holder.

    Raises :class:`~..errors.OutputError` when the lock file cannot be written (full disk, no folder,
    no permission); nothing is left behind then.
    """
    target = Path(target)
    path = lock_path(target)
    for _ in range(5):
        token = uuid.uuid4().hex
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            info = read_lock(path)
            if info is None:
                age = _lock_age(path)
                if age is None:
                    continue  # removed meanwhile: try again
                if age < _EMPTY_GRACE_S:
                    return LockInfo(path, 0, "?", time.time(), None, "", time.time())
                _break_stale(path, None)
                continue
            if not info.is_stale() and not (info.pid == os.getpid() and info.host == HOST
                                            and info.token not in _held):
                return info
            _break_stale(path, info)
            continue
        except OSError as exc:  # no such folder, no permission, full disk
            raise OutputError(f"cannot claim {target}: {exc.strerror or exc}") from exc
        record = {"pid": os.getpid(), "host": HOST, "started": time.time(),
                  "proc_start": _proc_start(os.getpid()), "token": token, "output": target.name}
        try:
            os.write(fd, json.dumps(record).encode("utf-8"))
        except OSError as exc:
            os.close(fd)
            with contextlib.suppress(OSError):
                path.unlink()
            text = f"cannot claim {target} (lock file {path.name}): {exc.strerror or exc}"
            raise OutputError(text) from exc
        os.close(fd)
        lock = OutputLock(target, path, token)
        _held[token] = lock
        _start_heartbeat()
        return lock
    info = read_lock(path)
    return info if info is not None else LockInfo(path, 0, "?", time.time(), None, "", time.time())


# --------------------------------------------------------------------------- leftovers
_MASK_EXT = ".ome.tif"
_listing_cache: dict[Path, tuple[float, list[str]]] = {}
_LISTING_TTL_S = 30.0


def _output_base(mask: Path) -> str:
    name = mask.name
    return name[: -len(_MASK_EXT)] if name.endswith(_MASK_EXT) else mask.stem


def _partial_target(name: str) -> str | None:
    if not name.startswith(".") or PARTIAL_MARK not in name:
        return None
    return name[1:].split(PARTIAL_MARK, 1)[0]


def belongs_to(target_name: str, mask: Path) -> bool:
    """Whether a file named ``target_name`` is one of the outputs of ``mask`` (mask, log, debug)."""
    base = _output_base(mask)
    if target_name in (mask.name, base + ".log"):
        return True
    rest = target_name[len(base):] if target_name.startswith(base + "_") else ""
    return rest.endswith(".tif") and rest[1:-4].isalnum()


def partials_of(mask: str | Path) -> list[Path]:
    """Temporary files (``.<output>.partial-*``) of ``mask``'s outputs present in its folder.

    The folder is listed at most every :data:`_LISTING_TTL_S` seconds per process (a batch of many
    outputs in one folder does not list it once per output).
    """
    mask = Path(mask)
    folder = mask.parent
    now = time.monotonic()
    cached = _listing_cache.get(folder)
    if cached is None or now - cached[0] > _LISTING_TTL_S:
        try:
            names = [e.name for e in os.scandir(folder) if _partial_target(e.name) is not None]
        except OSError:
            names = []
        cached = (now, names)
        _listing_cache[folder] = cached
    out = []
    for name in cached[1]:
        target = _partial_target(name)
        if target is not None and belongs_to(target, mask) and (folder / name).exists():
            out.append(folder / name)
    return out


@dataclass(frozen=True)
class Leftover:
    """A file a crashed or killed run left behind."""

    path: Path
    kind: str  # "partial", "lock" or "lock-aside"
    size: int
    reason: str


def find_leftovers(
    folder: str | Path, recursive: bool = False, min_age_s: float = 60.0
) -> tuple[list[Leftover], list[str]]:
    """Leftovers in ``folder`` that no live run holds, and notes on those skipped because one does.

    Leftovers: temporary and buffer files (``.<name>.partial-*``), stale lock files and locks moved
    aside while being taken over. A temporary file of an output whose lock is held by a live run is
    that run's work in progress and is not listed; nor is one modified in the last ``min_age_s``
    seconds (a write of another tool that takes no lock, such as an export, may be under way).
    """
    root = Path(folder)
    found: list[Leftover] = []
    held: list[str] = []
    dirs = [root] + ([p for p in root.rglob("*") if p.is_dir()] if recursive else [])
    for d in dirs:
        try:
            entries = [e for e in os.scandir(d) if e.is_file(follow_symlinks=False)]
        except OSError:
            continue
        live_masks: list[Path] = []
        stale_masks: list[Path] = []
        for e in entries:
            if e.name.startswith(".") and e.name.endswith(LOCK_SUFFIX):
                info = read_lock(e.path)
                mask = d / e.name[1: -len(LOCK_SUFFIX)]
                holder = live_holder(mask)
                if holder is not None:
                    live_masks.append(mask)
                    held.append(f"{mask}: being produced by {holder.describe()}")
                else:
                    stale_masks.append(mask)
                    who = info.describe() if info is not None else "unreadable"
                    found.append(Leftover(Path(e.path), "lock", e.stat().st_size, f"stale lock ({who})"))
            elif e.name.startswith(PROBE_PREFIX):
                if stale_probe(e.name, time.time() - e.stat().st_mtime):
                    found.append(Leftover(Path(e.path), "probe", e.stat().st_size,
                                          "write probe of a killed run"))
            elif e.name.startswith(".") and LOCK_SUFFIX + ".stale-" in e.name:
                found.append(Leftover(Path(e.path), "lock-aside", e.stat().st_size,
                                     "stale lock moved aside"))
        for e in entries:
            if not e.name.startswith(".") or PARTIAL_MARK not in e.name:
                continue
            target = _partial_target(e.name) or ""
            if any(belongs_to(target, m) for m in live_masks):
                continue
            st = e.stat()
            crashed = any(belongs_to(target, m) for m in stale_masks)  # its run is gone: no grace
            if not crashed and time.time() - st.st_mtime < min_age_s:
                held.append(f"{e.path}: modified {time.time() - st.st_mtime:.0f} s ago, left alone")
                continue
            found.append(Leftover(Path(e.path), "partial", st.st_size,
                                  "temporary file of an unfinished write"))
    return found, held
