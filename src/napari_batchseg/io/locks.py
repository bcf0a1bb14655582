"""Output claims: an exclusive lock file beside each output while a run produces it.

Before producing ``X_vSM.ome.tif`` a run creates ``.X_vSM.ome.tif.lock`` with ``O_CREAT | O_EXCL``
(atomic on local file systems and on NFSv3+/SMB), holding the pid, host name, boot id, PID namespace,
process start time, the output's name and the time the claim began, and keeps an OS-level lock
(``flock``) on it while it holds the claim. A second run that finds the lock reports the output as
being produced by that pid on that host and leaves it alone, so concurrent runs (one machine or
several sharing a file system) split the work. The lock is removed when the output is finished,
failed or cancelled, and at interpreter exit. A name too long for a lock (or temporary) file is
shortened with a hash (:func:`~.atomic.hidden_name`).

A lock left by a crash is *stale* and is taken over. Who can tell, and how:

* same kernel (same boot id), holder took an OS-level lock: stale when that lock is free (the kernel
  drops it when the holder dies, whatever PID namespace the holder ran in);
* same host, boot and PID namespace: its process is gone (no such pid, or a pid reused by a process
  started later);
* anything else (another host; a container with the host's name but another boot id or PID
  namespace, where the pid means another process): its file has not been touched for
  :data:`STALE_AFTER_S` seconds. Holders touch their locks every :data:`HEARTBEAT_S` seconds from a
  background thread, however long a frame takes.

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
from .atomic import BOOT_ID, PID_NS, hidden_name, pid_alive

__all__ = ["HEARTBEAT_S", "LOCK_SUFFIX", "STALE_AFTER_S", "LockInfo", "OutputLock", "claim", "live_holder",
           "lock_path", "read_lock"]

LOCK_SUFFIX = ".lock"
#: a lock of another host untouched this long is stale (seconds)
STALE_AFTER_S = 600.0
#: how often a holder touches its locks (seconds)
HEARTBEAT_S = 60.0
#: a lock file still empty this long after creation was left by a crash while it was being written
_EMPTY_GRACE_S = 10.0
HOST = socket.gethostname()


def lock_path(target: str | Path) -> Path:
    """The lock file of output ``target``: ``.<name>.lock`` in the same folder (hash-shortened if long)."""
    target = Path(target)
    return target.with_name(f"{hidden_name(target.name)}{LOCK_SUFFIX}")


def _proc_start(pid: int) -> str | None:
    """Start time of process ``pid`` in clock ticks since boot (Linux), else ``None``."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read().decode("ascii", "replace")
    except OSError:
        return None
    fields = data.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def _flock(fd: int) -> bool:
    """Take an exclusive OS-level lock on ``fd`` without waiting; ``False`` where unsupported."""
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except (ImportError, OSError):
        return False


def _flock_held(path: Path) -> bool | None:
    """Whether some process holds an OS-level lock on ``path``; ``None`` when it cannot be told."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    finally:
        os.close(fd)  # closing drops the lock if it was taken here
    return False


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
    #: the holder's kernel boot id and PID namespace (``None`` in older locks or off Linux)
    boot_id: str | None = None
    pid_ns: str | None = None
    #: whether the holder keeps an OS-level lock on the file while it holds the claim
    flock: bool = False
    #: the output's file name as the holder recorded it (``None`` in older locks)
    output: str | None = None

    def describe(self) -> str:
        """``pid N on host H since HH:MM:SS``."""
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))
        where = "" if self._same_pid_space() or self.host != HOST else " (another PID namespace)"
        return f"pid {self.pid} on host {self.host}{where} (since {since})"

    def _same_kernel(self) -> bool:
        return self.boot_id is not None and self.boot_id == BOOT_ID

    def _same_pid_space(self) -> bool:
        """Whether the recorded pid means the same process here (same host, boot, PID namespace)."""
        if self.host != HOST:
            return False
        if self.boot_id is None and self.pid_ns is None:  # an older lock: as before, by host name
            return True
        return self._same_kernel() and self.pid_ns is not None and self.pid_ns == PID_NS

    def is_this_process(self) -> bool:
        """Whether this process wrote the lock."""
        return self.pid == os.getpid() and self._same_pid_space()

    def is_stale(self, now: float | None = None) -> bool:
        """Whether the holder is gone (see the module notes)."""
        now = time.time() if now is None else now
        if self.flock and self._same_kernel():
            held = _flock_held(self.path)
            if held is not None:
                return not held
        if self._same_pid_space():
            if not _pid_alive(self.pid):
                return True
            if self.proc_start is not None:
                current = _proc_start(self.pid)
                if current is not None and current != self.proc_start:
                    return True  # the pid now belongs to another process
            return False
        return now - self.mtime > STALE_AFTER_S


def _parse_lock(path: Path, data: object, mtime: float) -> LockInfo | None:
    if not isinstance(data, dict):
        return None
    try:
        output = data.get("output")
        return LockInfo(path, int(data["pid"]), str(data["host"]), float(data["started"]),
                        data.get("proc_start"), str(data["token"]), mtime,
                        boot_id=data.get("boot_id"), pid_ns=data.get("pid_ns"),
                        flock=bool(data.get("flock", False)),
                        output=str(output) if output is not None else None)
    except (KeyError, TypeError, ValueError):
        return None


def read_lock(path: str | Path) -> LockInfo | None:
    """The holder recorded in lock file ``path`` (``None``: no such file, or not readable yet)."""
    path = Path(path)
    try:
        st = path.stat()
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return _parse_lock(path, data, st.st_mtime)


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
    if info.is_this_process():
        return None if info.token in _held else info
    return None if info.is_stale() else info


class OutputLock:
    """A claim on one output held by this process; :meth:`release` (or exit) removes it."""

    def __init__(self, target: Path, path: Path, token: str, fd: int | None = None) -> None:
        self.target = target
        self.path = path
        self.token = token
        self._fd = fd  # open while held: it carries the OS-level lock

    def release(self) -> None:
        """Remove the lock file if it is still this claim's, then drop the OS-level lock."""
        _held.pop(self.token, None)
        info = read_lock(self.path)
        if info is not None and info.token == self.token:
            with contextlib.suppress(OSError):
                self.path.unlink()
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

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
            if not info.is_stale() and not (info.is_this_process() and info.token not in _held):
                return info
            _break_stale(path, info)
            continue
        except OSError as exc:  # no such folder, no permission, full disk
            raise OutputError(f"cannot claim {target}: {exc.strerror or exc}") from exc
        locked = _flock(fd)  # before the record: a reader that sees the record sees the lock
        record = {"pid": os.getpid(), "host": HOST, "boot_id": BOOT_ID, "pid_ns": PID_NS,
                  "started": time.time(), "proc_start": _proc_start(os.getpid()), "token": token,
                  "output": target.name, "flock": locked, "tool": "napari-batchseg"}
        try:
            os.write(fd, json.dumps(record).encode("utf-8"))
        except OSError as exc:
            os.close(fd)
            with contextlib.suppress(OSError):
                path.unlink()
            text = f"cannot claim {target} (lock file {path.name}): {exc.strerror or exc}"
            raise OutputError(text) from exc
        if not locked:
            os.close(fd)
        lock = OutputLock(target, path, token, fd if locked else None)
        _held[token] = lock
        _start_heartbeat()
        return lock
    info = read_lock(path)
    return info if info is not None else LockInfo(path, 0, "?", time.time(), None, "", time.time())
