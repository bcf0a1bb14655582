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
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import OutputError
from .atomic import ASIDE_MARK, PARTIAL_MARK, PROBE_PREFIX, hidden_name, pid_alive, same_entry, stale_probe

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


def _boot_id() -> str | None:
    """The running kernel's boot id (Linux): equal for every process and container of one boot."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            return fh.read().strip() or None
    except OSError:
        return None


def _pid_namespace() -> str | None:
    """The PID namespace of this process (its inode, Linux): a pid means one process only inside it."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return None


BOOT_ID = _boot_id()
PID_NS = _pid_namespace()


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


# --------------------------------------------------------------------------- leftovers
_MASK_EXT = ".ome.tif"
_listing_cache: dict[Path, tuple[float, list[str]]] = {}
_LISTING_TTL_S = 30.0
#: a temporary file's name: ``.<output name>.partial-<random characters>[.buffer]`` (mkstemp: 8)
_PARTIAL_RE = re.compile(r"^(?P<stem>\..+)" + re.escape(PARTIAL_MARK) + r"[A-Za-z0-9_]{1,16}(?:\.buffer)?$")
#: an earlier file kept aside while its output was replaced (:func:`~.atomic.aside_path`):
#: ``.<output name>.partial-old-<pid>-<8 hex>`` (``<pid>-`` absent in the first version)
_ASIDE_RE = re.compile(r"^(?P<stem>\..+)" + re.escape(ASIDE_MARK) + r"(?:(?P<pid>\d{1,10})-)?[0-9a-f]{8}$")
_STALE_RE = re.compile(r"^(?P<stem>\..+)" + re.escape(LOCK_SUFFIX) + r"\.stale-[0-9A-Za-z]{1,16}$")


def _output_base(mask: Path) -> str:
    name = mask.name
    return name[: -len(_MASK_EXT)] if name.endswith(_MASK_EXT) else mask.stem


def _partial_target(name: str) -> str | None:
    """The hidden name (``.<output>`` or its hash-shortened form) a temporary file belongs to."""
    match = _PARTIAL_RE.match(name)
    return match.group("stem") if match else None


def _output_files(mask: Path) -> list[str]:
    """The names of the files one output may write: mask, log, debug stacks."""
    from .naming import DEBUG_KINDS

    base = _output_base(mask)
    return [mask.name, base + ".log"] + [f"{base}_{kind}.tif" for kind in DEBUG_KINDS]


def belongs_to(hidden: str, mask: Path) -> bool:
    """Whether ``hidden`` (``.<name>``, see :func:`~.atomic.hidden_name`) names one of ``mask``'s files."""
    return any(hidden == hidden_name(name) for name in _output_files(mask))


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
    kind: str  # "partial", "lock", "lock-aside", "probe", "aside" or "put-back"
    size: int
    reason: str
    #: "put-back": where the file goes back (the output it is the only copy of)
    target: Path | None = None


def _mask_of_hidden(hidden: str, names: set[str]) -> Path | None:
    """The output (mask name) whose file has hidden name ``hidden``, among output-like ``names``."""
    from .naming import mask_name_for

    for name in names:
        if hidden_name(name) == hidden:
            mask = mask_name_for(name)
            if mask is not None:
                return Path(mask)
    if hidden.startswith(".") and "~" not in hidden:
        mask = mask_name_for(hidden[1:])
        if mask is not None:
            return Path(mask)
    return None


_TIFF_MAGIC = (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")
_LOG_RECORD = re.compile(rb"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \| ")


def _looks_like_ours(path: str, name: str) -> bool:
    """Whether a temporary file's content is what this tool writes there (TIFF, log, raw buffer)."""
    if name.endswith(".buffer"):
        return True  # a raw frame buffer: no header to check; its exact name is the proof
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError:
        return False
    return not head or head[:4] in _TIFF_MAGIC or _LOG_RECORD.match(head) is not None


def _folders(root: Path, recursive: bool) -> Iterator[Path]:
    """``root`` and, with ``recursive``, its sub-folders; never through a symbolic link."""
    yield root
    if not recursive:
        return
    for here, dirs, _files in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not os.path.islink(os.path.join(here, d)))
        for d in dirs:
            yield Path(here) / d


def find_leftovers(
    folder: str | Path, recursive: bool = False, min_age_s: float = 60.0
) -> tuple[list[Leftover], list[str]]:
    """Leftovers in ``folder`` that no live run holds, and notes on what was left alone and why.

    Only files whose name and content prove they are this tool's, and whose output they belong to:
    lock files holding a lock record that names their output (or, from older runs, a lock of a
    ``_vSM`` output), locks moved aside while being taken over (same record), temporary files named
    ``.<output>.partial-XXXXXXXX[.buffer]`` of a ``_vSM`` output holding what this tool writes
    there (a TIFF, a log, a raw buffer, or nothing yet), and write probes of killed runs. Symbolic
    links are never followed, nor listed. A temporary file of an output whose lock is held by a live
    run is that run's work in progress and is not listed; nor is one modified in the last
    ``min_age_s`` seconds (a write of another tool that takes no lock may be under way).
    """
    root = Path(folder)
    found: list[Leftover] = []
    held: list[str] = []
    for d in _folders(root, recursive):
        try:
            entries = [e for e in os.scandir(d) if e.is_file(follow_symlinks=False)]
        except OSError:
            continue
        names = {e.name for e in entries if not e.name.startswith(".")}
        live: list[Path] = []
        stale: list[Path] = []
        for e in entries:
            if e.name.startswith(".") and e.name.endswith(LOCK_SUFFIX):
                info = read_lock(e.path)
                mask = _lock_output(e.name, info, names, e.stat().st_size)
                if mask is None:
                    held.append(f"{e.path}: not a lock of this tool's (its content names no output of "
                                "this name), left alone")
                    continue
                mask = d / mask.name
                holder = live_holder(mask)
                if holder is not None:
                    live.append(mask)
                    held.append(f"{mask}: being produced by {holder.describe()}")
                else:
                    stale.append(mask)
                    who = info.describe() if info is not None else "empty: its run died creating it"
                    found.append(Leftover(Path(e.path), "lock", e.stat().st_size, f"stale lock ({who})"))
            elif e.name.startswith(PROBE_PREFIX):
                if stale_probe(e.name, time.time() - e.stat().st_mtime):
                    found.append(Leftover(Path(e.path), "probe", e.stat().st_size,
                                          "write probe of a killed run"))
            elif (m := _STALE_RE.match(e.name)) is not None:
                info = read_lock(e.path)
                if info is None or _lock_output(m.group("stem") + LOCK_SUFFIX, info, names) is None:
                    held.append(f"{e.path}: not a lock of this tool's, left alone")
                    continue
                found.append(Leftover(Path(e.path), "lock-aside", e.stat().st_size,
                                      "stale lock moved aside"))
        for e in entries:
            target = _partial_target(e.name)
            if target is None:
                if _ASIDE_RE.match(e.name):
                    continue  # (below)
                if e.name.startswith(".") and PARTIAL_MARK in e.name:
                    held.append(f"{e.path}: not a temporary file of this tool's (name), left alone")
                continue
            mask = _mask_of_hidden(target, names | {m.name for m in live + stale})
            if mask is None or not _looks_like_ours(e.path, e.name):
                held.append(f"{e.path}: not a temporary file of this tool's (name or content), left alone")
                continue
            mask = d / mask.name
            if any(belongs_to(target, m) for m in live):
                continue
            st = e.stat()
            crashed = any(belongs_to(target, m) for m in stale)  # its run is gone: no grace
            if not crashed and time.time() - st.st_mtime < min_age_s:
                held.append(f"{e.path}: modified {time.time() - st.st_mtime:.0f} s ago, left alone")
                continue
            found.append(Leftover(Path(e.path), "partial", st.st_size,
                                  f"temporary file of an unfinished write of {mask.name}"))
        _asides(d, live, min_age_s, found, held)
    return found, held


def _asides(d: Path, live: list[Path], min_age_s: float, found: list[Leftover], held: list[str]) -> None:
    """The earlier files (or folders) kept aside in ``d`` while their outputs were replaced.

    One of a live process (its pid runs here), or of an output a live run holds, is left alone. One
    whose output is missing is its only copy: listed to be put back (``"put-back"``). One whose output is
    there is listed for removal, unless changed (linked, renamed) in the last ``min_age_s`` seconds: a
    replacement of another host may be under way.
    """
    try:
        entries = [e for e in os.scandir(d) if _ASIDE_RE.match(e.name)]
        shown = [e.name for e in os.scandir(d) if not e.name.startswith(".")]
    except OSError:
        return
    for e in entries:
        match = _ASIDE_RE.match(e.name)
        assert match is not None
        stem, pid = match.group("stem"), match.group("pid")
        if pid is not None and pid_alive(int(pid)):
            held.append(f"{e.path}: kept aside by process {pid}, still running, while it replaces its "
                        "output; left alone")
            continue
        if any(belongs_to(stem, m) for m in live):
            continue
        names = [n for n in shown if hidden_name(n) == stem]
        if not names and "~" in stem:
            held.append(f"{e.path}: an earlier output kept aside, whose name was shortened: its output is "
                        "not known; left alone (rename it yourself)")
            continue
        target = d / (names[0] if names else stem[1:])
        try:
            st = e.stat(follow_symlinks=False)
        except OSError:
            continue
        if not os.path.lexists(target):
            found.append(Leftover(Path(e.path), "put-back", 0, f"the only copy of {target.name}, kept "
                                  "aside by a run killed while it replaced it", target))
            continue
        age = time.time() - max(st.st_mtime, st.st_ctime)
        if age < min_age_s:
            held.append(f"{e.path}: kept aside {age:.0f} s ago while {target.name} was replaced, left alone")
            continue
        same = same_entry(Path(e.path), target)
        try:
            size = 0 if same else _size(Path(e.path))
        except OSError:
            continue
        found.append(Leftover(Path(e.path), "aside", size,
                              f"second name of {target.name}, left by a killed run" if same else
                              f"earlier {target.name} kept aside while it was replaced ({target.name} is in "
                              "place), left by a killed run"))


def _size(path: Path) -> int:
    """Bytes of a file, or of the files in a folder (links not followed)."""
    if not path.is_dir() or path.is_symlink():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _lock_output(lock_name: str, info: LockInfo | None, names: set[str], size: int = 0) -> Path | None:
    """The output a lock file belongs to, when its content proves it is this tool's; else ``None``.

    A lock record naming its output must match the lock's own name; an older record (no output
    named) or an empty file (a run killed while creating it) must be the lock of a ``_vSM`` output.
    Anything else in a ``.lock`` file is not this tool's.
    """
    from .naming import mask_name_for

    hidden = lock_name[: -len(LOCK_SUFFIX)]
    if info is not None and info.output is not None:
        if hidden_name(info.output) != hidden or mask_name_for(info.output) != info.output:
            return None
        return Path(info.output)
    if info is None and size > 0:
        return None
    return _mask_of_hidden(hidden, names)
