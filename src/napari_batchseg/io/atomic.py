"""Atomic file writes: data goes to a hidden temporary file beside the target, then one rename.

A crash or cancel never leaves a half-written file under the final name.

Several files that belong together (a mask, its log, its debug images) are written with
:func:`staged`: inside it, :func:`atomic_path` writes and syncs each temporary file but does not
rename it; the caller then renames them in the order it chooses (:func:`publish`), or drops them all
(:meth:`Stage.discard`). The system calls that write, sync and rename go through this module's
``_write``, ``_fsync``, ``_replace`` and ``_link`` so that tests can inject failures at each step.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import signal
import socket
import stat
import tempfile
import threading
import warnings
from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import Path

from .._atomic_text import NAME_MAX as NAME_MAX
from .._atomic_text import PARTIAL_MARK as PARTIAL_MARK
from .._atomic_text import hidden_name as hidden_name
from .._atomic_text import new_temp_file, write_text_atomic
from .._atomic_text import partial_prefix as partial_prefix
from ..errors import OutputError

#: what follows a target's hidden name in the name of a new file (or folder) staged for it without a lock:
#: ``.<name>.partial-new-<pid>-<host tag>-<8 random>`` (:func:`staged_prefix`)
STAGED_MARK = PARTIAL_MARK + "new-"


def staged_prefix(target: str | Path) -> str:
    """``.<name>.partial-new-<pid>-<host tag>-``: the prefix of a new file or folder this process stages.

    For outputs written without a lock (exports): ``batchseg clean`` tells one a killed process of this
    host left (its pid is not running here) from one still being written by its pid, and from one of
    another host sharing the folder (``<host tag>``: :data:`PID_SPACE_TAG`, this host, boot and
    PID namespace); ``mkstemp``/``mkdtemp`` add 8 random characters. Where the name would pass
    :data:`NAME_MAX` bytes with the tag, it has none (``.<name>.partial-new-<pid>-``: of any host).
    """
    base = f"{hidden_name(Path(target).name)}{STAGED_MARK}{os.getpid()}-"
    tagged = f"{base}{PID_SPACE_TAG}-"
    return tagged if len(tagged.encode("utf-8")) + 8 <= NAME_MAX else base

# The calls a commit is made of (tests patch these to inject faults).
_fsync = os.fsync
_replace = os.replace
_link = os.link


def _write(fd: int, data: bytes) -> int:
    return os.write(fd, data)


_local = threading.local()


class Stage:
    """Temporary files written by :func:`atomic_path` inside :func:`staged`, not yet renamed.

    ``files`` maps each target to its synced temporary file, in the order they were written.
    """

    def __init__(self) -> None:
        self.files: dict[Path, Path] = {}

    def discard(self) -> None:
        """Remove every temporary file (the targets are left as they were)."""
        for tmp in self.files.values():
            with contextlib.suppress(OSError):
                tmp.unlink()
        self.files.clear()


@contextlib.contextmanager
def staged() -> Iterator[Stage]:
    """Collect the files :func:`atomic_path` writes in this thread instead of renaming them.

    On an exception every collected temporary file is removed.
    """
    previous = getattr(_local, "stage", None)
    stage = Stage()
    _local.stage = stage
    try:
        yield stage
    except BaseException:
        stage.discard()
        raise
    finally:
        _local.stage = previous


def _sync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        _fsync(fd)
    finally:
        os.close(fd)


def sync_folder(folder: str | Path) -> None:
    """Flush a folder's entries (the renames in it) to disk, where the platform allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            _fsync(fd)
    finally:
        os.close(fd)


def _as_output_error(exc: OSError, target: Path) -> OutputError:
    return OutputError(f"cannot write {target}: {exc.strerror or exc}")


@contextlib.contextmanager
def atomic_path(target: str | Path, prefix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in ``target``'s folder; on success rename it onto ``target``.

    On any exception the temporary file is removed and ``target`` is left as it was. Inside
    :func:`staged`, the synced temporary file is handed to the stage instead of being renamed.
    ``prefix``: the temporary file's name prefix (default :func:`partial_prefix`).
    """
    target = Path(target)
    folder = target.parent
    try:
        fd, tmp = new_temp_file(folder, prefix or partial_prefix(target))
    except OSError as exc:
        raise _folder_error(exc, folder) from exc
    os.close(fd)
    tmp_path = Path(tmp)
    stage: Stage | None = getattr(_local, "stage", None)
    try:
        yield tmp_path
        try:
            _sync_file(tmp_path)  # on disk before the rename: no empty file after a power cut
            if stage is not None:
                stage.files[target] = tmp_path
                return
            _replace(tmp_path, target)
        except OSError as exc:
            raise _as_output_error(exc, target) from exc
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


def _folder_error(exc: OSError, folder: Path) -> OutputError:
    return OutputError(f"cannot write in output folder {folder}: {exc.strerror or exc}")


def atomic_write_text(target: str | Path, text: str, prefix: str | None = None) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically (``prefix``: as :func:`atomic_path`'s).

    Through the one text writer (:func:`napari_batchseg._atomic_text.write_text_atomic`, also
    ``SegmentationParams.save``'s) with this module's ``_write``, ``_fsync`` and ``_replace``; inside
    :func:`staged`, the synced temporary file is handed to the stage instead of being renamed.
    :class:`OutputError` names ``target`` (or its folder, where no temporary file can be made there).
    """
    stage: Stage | None = getattr(_local, "stage", None)

    def place(tmp: Path, to: Path) -> None:
        if stage is None:
            _replace(tmp, to)
        else:
            stage.files[to] = tmp

    def error(exc: OSError, to: Path, creating: bool) -> OutputError:
        return _folder_error(exc, to.parent) if creating else _as_output_error(exc, to)

    write_text_atomic(target, text, prefix, write=_write, fsync=_fsync, place=place, error=error)


def publish(tmp: Path, target: Path, replace: bool = True) -> bool:
    """Rename the synced ``tmp`` onto ``target``; with ``replace=False`` never over an existing file.

    Returns ``False`` (and removes ``tmp``) when ``replace`` is false and ``target`` exists; on an
    error ``tmp`` is removed and :class:`OutputError` names ``target``. The
    no-replace rename is a hard link then an unlink (atomic on POSIX and SMB/NFS); where the file
    system has no hard links, it falls back to a check followed by a rename.
    """
    try:
        if replace:
            _replace(tmp, target)
            return True
        if rename_no_replace(tmp, target):
            return True
        with contextlib.suppress(OSError):
            tmp.unlink()
        return False
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise _as_output_error(exc, target) from exc


def rename_no_replace(src: Path, target: Path) -> bool:
    """Rename ``src`` onto ``target`` unless ``target`` exists (then ``False``, ``src`` left as it is).

    A hard link, then ``src``'s removal (atomic on POSIX and SMB/NFS; a ``src`` that cannot be removed
    stays as a second name). A folder, or where the file system has no hard links (EPERM, EOPNOTSUPP,
    ENOSYS on FUSE mounts, ...): a check followed by a rename. Raises :class:`OSError` when it fails.
    """
    if not stat.S_ISDIR(os.lstat(src).st_mode):
        try:
            _link(src, target, follow_symlinks=False)
        except FileExistsError:
            return False
        except OSError:  # no hard links here
            pass
        else:
            with contextlib.suppress(OSError):
                os.unlink(src)
            return True
    if os.path.lexists(target):
        return False
    _replace(src, target)
    return True


def file_identity(path: str | Path) -> tuple[int, int, int] | None:
    """What tells the file at ``path`` from one put there later: device, inode, mtime (``None``: none).

    A rename keeps all three, so a temporary file's identity is its target's once it is in place.
    """
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_mtime_ns


class _Hold:
    depth = 0  # signals_held() entered in the main thread, not yet left
    pending: int | None = None  # the signal that came meanwhile


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """A signal handler that asks :func:`defer_signal` waits while a group of outputs is put in place.

    The command line turns SIGINT and SIGTERM into an exception wherever the program is
    (``cli_stop``): between the renames of a mask's tables, or its tracks and their log, that left
    some new and some old files, a log describing another mask. Held, the signal is raised again
    right after the group is in place. Only the main thread's groups hold (Python runs handlers there).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _Hold.depth += 1
    try:
        yield
    finally:
        _Hold.depth -= 1
        if _Hold.depth == 0 and _Hold.pending is not None:
            signum, _Hold.pending = _Hold.pending, None
            signal.raise_signal(signum)  # its handler runs now, the group in place


def defer_signal(signum: int) -> bool:
    """For a signal handler: inside :func:`signals_held`, remember ``signum`` and say so (``True``)."""
    if _Hold.depth:
        _Hold.pending = signum
        return True
    return False


#: what follows a target's hidden name (:func:`hidden_name`) in the name of its earlier file while it is
#: replaced: ``.<name>.partial-old-<pid>-<8 hex>`` (:func:`aside_path`)
ASIDE_MARK = PARTIAL_MARK + "old-"
#: what an error says of a target whose earlier file could not be put back after a failure
NOT_PUT_BACK = "could not be put back"


def aside_path(target: Path) -> Path:
    """A new hidden name for ``target``'s earlier file while it is replaced (:func:`replace_all`).

    ``.<name>.partial-old-<pid>-<8 hex>``: ``batchseg clean`` puts such a file back where its target is
    missing (a run killed between the two renames of a file system without hard links, or of a folder)
    and removes it where its target is there; never one of a live process.
    """
    return target.with_name(f"{hidden_name(target.name)}{ASIDE_MARK}{os.getpid()}-{secrets.token_hex(4)}")


class Appeared(OutputError):
    """A target :func:`replace_all` was not to replace exists (it appeared meanwhile): nothing was changed."""

    def __init__(self, target: Path) -> None:
        super().__init__(f"{target} appeared meanwhile (left as it is)")
        self.target = target


def put_back_aside(aside: Path, target: Path) -> bool:
    """Give an earlier file kept aside (:func:`aside_path`) its name ``target`` back, never over another.

    A file: a hard link, then the hidden name's removal; a folder, or where the file system has no hard
    links: a check, then a rename (:func:`rename_no_replace`). Returns ``False`` (and leaves ``aside``)
    when ``target`` exists; raises :class:`OSError` when the rename fails.
    """
    if not rename_no_replace(aside, target):
        return False
    sync_folder(target.parent)
    return True


class _Replaced:
    """One target of :func:`replace_all`: its new file's identity and where its earlier one is kept."""

    def __init__(self, target: Path, new: tuple[int, int, int] | None, folder: bool = False,
                 drop: bool = False) -> None:
        self.target = target
        self.new = new  # None: a dropped file (nothing new goes there)
        self.folder = folder  # the new one is a folder (an earlier folder is renamed aside)
        self.drop = drop
        self.aside: Path | None = None  # the earlier file's other name (None: there was none)


def _identity(path: Path) -> tuple[int, int, int] | None:
    """:func:`file_identity` of the entry itself (a link is not followed); a folder's without mtime."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, 0 if stat.S_ISDIR(st.st_mode) else st.st_mtime_ns


def _set_aside(entry: _Replaced) -> None:
    """Give ``entry.target``'s earlier file a hidden second name.

    A hard link: the target holds a whole file at every moment, even if the process is killed before
    the new one's rename. A rename where the file system has no hard links (any link error: EPERM,
    EOPNOTSUPP, ENOSYS on FUSE mounts), for a folder, and for a dropped file. A folder where a file goes
    is left there: the rename onto it fails and says so.
    """
    target = entry.target
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise _as_output_error(exc, target) from exc
    is_dir = stat.S_ISDIR(st.st_mode)
    if is_dir and not (entry.folder or entry.drop):
        return
    for _ in range(100):
        aside = aside_path(target)
        if os.path.lexists(aside):
            continue
        try:
            if is_dir or entry.drop:
                os.rename(target, aside)
            else:
                try:
                    os.link(target, aside, follow_symlinks=False)
                except FileExistsError:
                    continue
                except OSError:  # no hard links here: renamed aside
                    if os.path.lexists(aside):
                        raise
                    os.rename(target, aside)
        except OSError as exc:
            verb = "remove" if entry.drop else "write"
            raise OutputError(f"cannot {verb} {target}: cannot keep the file it replaces "
                              f"({exc.strerror or exc})") from exc
        entry.aside = aside
        return
    raise OutputError(f"cannot write {target}: no free name to keep the file it replaces")


def same_entry(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` are names of one file (or folder): a hard link (links not followed)."""
    try:
        sa, sb = os.lstat(a), os.lstat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def remove_entry(path: Path) -> None:
    """Remove a file, or a folder with its files (not through a link); raise :class:`OSError` if not."""
    if stat.S_ISDIR(os.lstat(path).st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


class NotPutBack(OutputError):
    """:func:`replace_all` failed, and some targets could not be put back as they were (the message says)."""


def _put_back(entries: list[_Replaced]) -> dict[Path, str]:
    """Each target as it was before (its earlier file, or none); what could not be put back."""
    problems = {}
    for e in reversed(entries):
        try:
            new_there = e.new is not None and _identity(e.target) == e.new
            if e.aside is None:
                if new_there:
                    remove_entry(e.target)
            elif same_entry(e.aside, e.target):  # not replaced: the hard link goes
                os.unlink(e.aside)
            else:
                if new_there and e.folder:
                    shutil.rmtree(e.target)
                os.replace(e.aside, e.target)
        except OSError as exc:
            kept = f" (the earlier one is kept as {e.aside})" if e.aside is not None else ""
            problems[e.target] = f"{e.target} {NOT_PUT_BACK}: {exc.strerror or exc}{kept}"
    return problems


def _drop_asides(entries: list[_Replaced]) -> list[str]:
    """Remove the earlier files kept aside; what could not be removed."""
    problems = []
    for e in entries:
        if e.aside is not None:
            try:
                remove_entry(e.aside)
            except FileNotFoundError:
                pass
            except OSError as exc:
                problems.append(f"the earlier {e.target.name}, kept aside as {e.aside}, could not be removed "
                                f"({exc.strerror or exc}; `batchseg clean` removes it)")
    return problems


def _warn(problems: list[str]) -> None:
    if problems:
        warnings.warn("; ".join(problems), RuntimeWarning, stacklevel=3)


def replace_all(moves: Sequence[tuple[Path, Path]], drops: Sequence[Path] = (),
                keep: Collection[Path] = ()) -> None:
    """Rename each ``(new, target)`` of ``moves`` onto its target in that order and remove ``drops``.

    Signals are held (:func:`signals_held`), and the folders are synced after. All are put in place
    (and the dropped files removed), or none: each target's earlier file (or folder), and each dropped
    file, is kept under a hidden name (:func:`aside_path`; a hard link where it can be) until the last
    rename is done. When anything fails or interrupts (a full disk, no permission, a folder in the
    way, any exception) the targets renamed before get their earlier files back (or are removed where
    there was none), the new files not renamed are removed, and :class:`OutputError` names the file
    that failed and the problem (another exception is raised again as it is). An earlier file kept
    aside that cannot be removed at the end is said in a :class:`RuntimeWarning`. A target in ``keep``
    is never replaced (:func:`publish` with ``replace=False``): where one exists, :class:`Appeared`
    is raised, the others as they were.
    """
    entries: list[_Replaced] = []
    done = 0  # moves renamed
    with signals_held():
        try:
            for path in drops:
                entry = _Replaced(path, None, drop=True)
                _set_aside(entry)
                entries.append(entry)
            for new, target in moves:
                entry = _Replaced(target, _identity(new), folder=stat.S_ISDIR(os.lstat(new).st_mode))
                if target not in keep:  # (one kept is never set aside: renamed aside, it was replaced)
                    _set_aside(entry)
                entries.append(entry)
                if target in keep:
                    if not publish(new, target, replace=False):
                        raise Appeared(target)
                else:
                    try:
                        _replace(new, target)
                    except OSError as exc:
                        raise _as_output_error(exc, target) from exc
                done += 1
        except BaseException as exc:
            for new, _ in moves[done:]:
                with contextlib.suppress(OSError):
                    remove_entry(new)
            placed = [e.target for e in entries if e.new is not None and _identity(e.target) == e.new]
            if len(placed) == len(moves) and len(entries) == len(drops) + len(moves):
                _warn(_drop_asides(entries))  # (an interruption once all were in place: the group stays)
                raise
            problems = _put_back(entries)
            back = [t.name for t in placed if t not in problems]
            if isinstance(exc, OutputError) and not isinstance(exc, Appeared):
                said = f"{exc}" + (f" ({', '.join(back)} put back as before)" if back else "")
                kind = NotPutBack if problems else OutputError
                raise kind("; ".join([said, *problems.values()])) from exc
            _warn(list(problems.values()))
            raise
        _warn(_drop_asides(entries))
        for folder in dict.fromkeys(e.target.parent for e in entries):
            sync_folder(folder)


def publish_all(stage: Stage, targets: Iterable[Path], keep: Collection[Path] = ()) -> None:
    """Rename ``stage``'s files onto ``targets`` in that order, all or none (:func:`replace_all`).

    The order matters to a reader that takes one of them as "done" (a log written last). Targets in
    ``keep`` are never replaced (:class:`Appeared` where one exists). The stage's other files are
    removed, whether this succeeds or not.
    """
    moves = [(stage.files[target], target) for target in targets]
    for _, target in moves:
        del stage.files[target]
    try:
        replace_all(moves, keep=keep)
    finally:
        stage.discard()


def dangling_link(path: str | Path) -> str | None:
    """The target of ``path`` when it is a symbolic link to nothing (``None`` otherwise).

    Such a link is neither a file (``exists()`` is false) nor a free name: a no-replace publish cannot
    put an output there, so a run would compute the output and then throw it away, on every re-run.
    """
    p = Path(path)
    try:
        if not p.is_symlink() or p.exists():
            return None
        return os.readlink(p)
    except OSError:
        return None


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


PROBE_PREFIX = ".batchseg-write-test-"
_HOST = socket.gethostname()


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
#: 6 hex digits for this host, boot and PID namespace: in the names of what an export stages
#: (:func:`staged_prefix`), so that ``batchseg clean`` tells one of a process gone here from one of
#: another host (a shared folder) whose pid is not running here
PID_SPACE_TAG = hashlib.sha256(f"{_HOST}\0{BOOT_ID}\0{PID_NS}".encode()).hexdigest()[:6]
_probed: set[Path] = set()


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, under another user
        pass
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().decode("ascii", "replace").rsplit(")", 1)[-1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def stale_probe(name: str, age_s: float, other_host_after_s: float = 600.0) -> bool:
    """Whether ``name`` is a write probe left by a process that is gone.

    Probes are named ``.batchseg-write-test-<pid>@<host>@<random>``: stale when that pid is gone on
    this host, or, from another host (or an older name), when older than ``other_host_after_s``.
    """
    if not name.startswith(PROBE_PREFIX):
        return False
    pid, _, rest = name[len(PROBE_PREFIX):].partition("@")
    host = rest.partition("@")[0]
    if pid.isdigit() and host == _HOST:
        return not pid_alive(int(pid))
    return age_s > other_host_after_s


def _sweep_probes(folder: Path) -> None:
    """Remove write probes that killed processes left in ``folder`` (once per folder and process)."""
    if folder in _probed:
        return
    _probed.add(folder)
    import time

    try:
        entries = [e for e in os.scandir(folder) if e.name.startswith(PROBE_PREFIX)]
    except OSError:
        return
    for e in entries:
        with contextlib.suppress(OSError):
            if stale_probe(e.name, time.time() - e.stat().st_mtime):
                os.unlink(e.path)


@contextlib.contextmanager
def no_writes() -> Iterator[None]:
    """Inside (this thread), :func:`check_writable_dir` checks without creating or writing anything.

    A dry run plans under it: it validates what the real run validates and changes nothing.
    """
    previous = getattr(_local, "no_writes", False)
    _local.no_writes = True
    try:
        yield
    finally:
        _local.no_writes = previous


def _check_would_be_writable(folder: Path) -> None:
    """:func:`check_writable_dir` without writing: the folder, or its nearest existing parent."""
    if folder.exists():
        if not folder.is_dir():
            raise OutputError(f"output folder {folder} is not a folder")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise OutputError(f"output folder {folder} is not writable")
        return
    parent = folder.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot create output folder {folder}: {parent} is not a writable folder")


def check_writable_dir(folder: str | Path) -> None:
    """Raise :class:`OutputError` unless ``folder`` exists (or can be made) and accepts files.

    It writes and removes a probe file; probes that killed runs left behind are removed. Under
    :func:`no_writes` it only checks permissions (nothing is created).
    """
    folder = Path(folder)
    if getattr(_local, "no_writes", False):
        _check_would_be_writable(folder)
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {folder}: {exc.strerror or exc}") from exc
    if not folder.is_dir():
        raise OutputError(f"output folder {folder} is not a folder")
    with signals_held():  # (a stop between the probe's creation and removal left it behind)
        try:
            fd, probe = tempfile.mkstemp(prefix=f"{PROBE_PREFIX}{os.getpid()}@{_HOST}@", dir=folder)
        except OSError as exc:
            raise OutputError(f"output folder {folder} is not writable: {exc.strerror or exc}") from exc
        try:
            os.close(fd)
        finally:
            os.unlink(probe)
    _sweep_probes(folder)
