"""What killed runs leave beside their outputs, found and settled: the next run's sweep, `batchseg clean`.

A run that dies leaves hidden files beside an output (names in :mod:`.atomic`): temporary files
(``.<name>.partial-<random>``), earlier files kept aside while a group of outputs was replaced
(``.<name>.partial-old-<pid>-<hex>``), what an export staged (``.<name>.partial-new-<pid>-<random>``),
and its lock (:mod:`.locks`). :func:`partials_of` and :func:`asides_of` list those of one output (the
next run's sweep, ``_commit.sweep_leftovers``); :func:`find_leftovers` those of folders (``batchseg
clean``); :func:`settle` puts an earlier file back or removes a leftover.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from .atomic import (
    ASIDE_MARK,
    PARTIAL_MARK,
    PID_SPACE_TAG,
    PROBE_PREFIX,
    STAGED_MARK,
    hidden_name,
    pid_alive,
    put_back_aside,
    remove_entry,
    same_entry,
    stale_probe,
    sync_folder,
)
from .locks import LOCK_SUFFIX, STALE_AFTER_S, LockInfo, live_holder, read_lock

__all__ = ["Leftover", "asides_of", "belongs_to", "find_leftovers", "partials_of", "settle"]

_MASK_EXT = ".ome.tif"
_listing_cache: dict[Path, tuple[float, int | None, list[str]]] = {}
_LISTING_TTL_S = 30.0
#: a temporary file's name: ``.<output name>.partial-<random characters>[.buffer]`` (mkstemp: 8)
_PARTIAL_RE = re.compile(r"^(?P<stem>\..+)" + re.escape(PARTIAL_MARK) + r"[A-Za-z0-9_]{1,16}(?:\.buffer)?$")
#: an earlier file kept aside while its output was replaced (:func:`~.atomic.aside_path`):
#: ``.<output name>.partial-old-<pid>-<8 hex>`` (``<pid>-`` absent in the first version)
_ASIDE_RE = re.compile(r"^(?P<stem>\..+)" + re.escape(ASIDE_MARK) + r"(?:(?P<pid>\d{1,10})-)?[0-9a-f]{8}$")
#: a new file or folder an export staged for its output (:func:`~.atomic.staged_prefix`):
#: ``.<output name>.partial-new-<pid>-<host tag>-<8 random>`` (``<host tag>-`` absent in older names)
_STAGED_RE = re.compile(r"^(?P<stem>\..+)" + re.escape(STAGED_MARK)
                        + r"(?P<pid>\d{1,10})-(?:(?P<tag>[0-9a-f]{6})-)?[a-z0-9_]{8}$")
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


def _hidden_listing(folder: Path) -> list[str]:
    """The names of temporary files and earlier files kept aside in ``folder``.

    The folder is listed again only when its modification time changed (a file created, renamed or
    removed in it), or after :data:`_LISTING_TTL_S` seconds: screening a batch of many finished outputs
    in one folder does not list it once per output, and a sweep after a run sees what the run left.
    """
    now = time.monotonic()
    try:
        changed: int | None = os.stat(folder).st_mtime_ns
    except OSError:
        changed = None
    cached = _listing_cache.get(folder)
    if cached is None or now - cached[0] > _LISTING_TTL_S or cached[1] != changed:
        try:
            names = [e.name for e in os.scandir(folder)
                     if _partial_target(e.name) is not None or _ASIDE_RE.match(e.name)]
        except OSError:
            names = []
        cached = (now, changed, names)
        _listing_cache[folder] = cached
    return cached[2]


def partials_of(mask: str | Path) -> list[Path]:
    """Temporary files (``.<output>.partial-*``) of ``mask``'s outputs present in its folder."""
    mask = Path(mask)
    folder = mask.parent
    out = []
    for name in _hidden_listing(folder):
        target = _partial_target(name)
        if target is not None and belongs_to(target, mask) and (folder / name).exists():
            out.append(folder / name)
    return out


@dataclass(frozen=True)
class Leftover:
    """A file a crashed or killed run left behind."""

    path: Path
    kind: str  # "partial", "lock", "lock-aside", "probe", "aside", "put-back", "restore" or "staged"
    size: int
    reason: str
    #: "put-back", "restore": where the file goes back (its output); "aside": the output
    target: Path | None = None


def asides_of(mask: str | Path) -> list[Leftover]:
    """Earlier files of ``mask``'s outputs kept aside (:func:`~.atomic.aside_path`) by processes now gone.

    Only those whose name records a pid that is not running here; each as :func:`find_leftovers` lists
    it (:func:`_judge_asides`: ``"put-back"`` where its output's file is missing, ``"restore"`` where
    the replacement of the output's files was cut, ``"aside"`` otherwise), with no wait for a
    replacement of another host: for a caller that holds the output's lock.
    """
    mask = Path(mask)
    folder = mask.parent
    out: list[tuple[Leftover, float]] = []
    for name in _hidden_listing(folder):
        match = _ASIDE_RE.match(name)
        if match is None or match.group("pid") is None or not belongs_to(match.group("stem"), mask):
            continue
        item = _aside(folder / name, match, _output_files(mask))
        if isinstance(item, tuple):
            out.append(item)
    return _judge_asides(out, 0.0)[0]


def _judge_asides(items: list[tuple[Leftover, float]], min_age_s: float) -> tuple[list[Leftover], list[str]]:
    """What ``batchseg clean`` does with earlier files kept aside (:func:`_aside`, with ages), and why not.

    One whose output is missing is put back (``"put-back"``). A killed run's replacement of an output's
    files (a mask, its log, its debug stacks) was cut where one of its earlier files (same output, same
    pid) is put back, or is a second name of the file in place (a hard link: not yet replaced); each
    other earlier file of that output and pid that differs from the file in place (the cut run's new
    file) then replaces it (``"restore"``): the output is back as it was before that run, not half new
    (exports, unrecorded pids and folders: not). Any other is removed (``"aside"``), unless changed
    (linked, renamed) in the last ``min_age_s`` seconds, it or a second name of its output's (same pid):
    a replacement of another host may be under way.
    """
    from .naming import mask_name_for

    def key(item: Leftover) -> tuple[Path, str] | None:
        match = _ASIDE_RE.match(item.path.name)
        if item.target is None or match is None or match.group("pid") is None:
            return None
        mask = mask_name_for(item.target.name)
        return None if mask is None else (item.target.with_name(mask), match.group("pid"))

    def second_name(item: Leftover) -> bool:
        return item.kind == "aside" and item.target is not None and same_entry(item.path, item.target)

    cut = {key(i) for i, age in items if i.kind == "put-back" or (second_name(i) and age >= min_age_s)}
    young = {key(i) for i, age in items if second_name(i) and age < min_age_s}  # cut, or under way
    cut.discard(None)
    found: list[Leftover] = []
    held: list[str] = []
    for i, age in items:
        assert i.target is not None
        if i.kind == "aside" and not second_name(i) and key(i) in cut and not i.path.is_dir():
            found.append(replace(i, kind="restore", reason=f"earlier {i.target.name}, kept aside by a run "
                                 "killed while it replaced the files that go with it: it replaces that run's "
                                 "new one"))
        elif i.kind == "aside" and age < min_age_s:
            held.append(f"{i.path}: kept aside {age:.0f} s ago while {i.target.name} was replaced, left "
                        "alone")
        elif i.kind == "aside" and key(i) in young and key(i) is not None:
            held.append(f"{i.path}: an earlier {i.target.name}, of an output another file of which was "
                        f"kept aside less than {min_age_s:.0f} s ago, left alone")
        else:
            found.append(i)
    return found, held


def settle(item: Leftover) -> bool:
    """Do what ``batchseg clean`` does with ``item``: put a ``"put-back"`` one back, remove any other.

    A put-back gives the output's only copy its name back, never over another file
    (:func:`~.atomic.put_back_aside`); a restore renames the earlier file over the new one of a cut
    replacement (:func:`_cut_groups`); anything else is removed (a folder with its files, links not
    followed). Returns ``False`` when nothing was done: ``item`` is gone, or the output a put-back was
    for appeared meanwhile (``item`` is left). Raises :class:`OSError` when the rename or removal fails.
    """
    try:
        if item.kind == "put-back":
            assert item.target is not None
            return put_back_aside(item.path, item.target)
        if item.kind == "restore":
            assert item.target is not None
            os.replace(item.path, item.target)
            sync_folder(item.target.parent)
            return True
        remove_entry(item.path)
    except FileNotFoundError:
        if os.path.lexists(item.path):
            raise
        return False
    return True


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
    there (a TIFF, a log, a raw buffer, or nothing yet), write probes of killed runs, earlier files
    kept aside while their outputs were replaced (:func:`_aside`: ``"put-back"`` where the output is
    missing), and new files and folders an export staged, named with the pid of its killed process
    (:func:`_staged`). Symbolic links are never followed, nor listed. A temporary file of an output
    whose lock is held by a live run is that run's work in progress and is not listed; nor is one
    modified in the last ``min_age_s`` seconds (a write of another tool that takes no lock may be under
    way).
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
                if _ASIDE_RE.match(e.name) or _STAGED_RE.match(e.name):
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
        _staged(d, min_age_s, found, held)
    return found, held


def _alive(match: re.Match[str]) -> bool:
    """Whether the pid a hidden name records (group ``pid``) runs here (``False`` where none is recorded)."""
    pid = match.group("pid")
    return pid is not None and pid_alive(int(pid))


def _asides(d: Path, live: list[Path], min_age_s: float, found: list[Leftover], held: list[str]) -> None:
    """The earlier files (or folders) kept aside in ``d`` while their outputs were replaced (:func:`_aside`).

    One of an output a live run holds is left alone (unless its own process runs: :func:`_aside` says so).
    The others as :func:`_judge_asides` says.
    """
    try:
        entries = [e for e in os.scandir(d) if _ASIDE_RE.match(e.name)]
        shown = [e.name for e in os.scandir(d) if not e.name.startswith(".")]
    except OSError:
        return
    items = []
    for e in entries:
        match = _ASIDE_RE.match(e.name)
        assert match is not None
        if not _alive(match) and any(belongs_to(match.group("stem"), m) for m in live):
            continue
        item = _aside(Path(e.path), match, shown)
        if isinstance(item, tuple):
            items.append(item)
        elif item is not None:
            held.append(item)
    judged, notes = _judge_asides(items, min_age_s)
    found.extend(judged)
    held.extend(notes)


def _aside(path: Path, match: re.Match[str], shown: Iterable[str]) -> tuple[Leftover, float] | str | None:
    """One earlier file (or folder) kept aside: a leftover and the seconds since it changed, or why not.

    ``match``: its name's :data:`_ASIDE_RE`; ``shown``: names its output's may be among (for a
    shortened name). One of a live process (its pid runs here) is left alone. One whose output is
    missing is its only copy (``"put-back"``); one whose output is there, ``"aside"`` (see
    :func:`_judge_asides`). Returns a note on why it is left alone, or ``None`` when it is gone.
    """
    stem, pid = match.group("stem"), match.group("pid")
    if _alive(match):
        return f"{path}: kept aside by process {pid}, still running, while it replaces its output; left alone"
    names = [n for n in shown if hidden_name(n) == stem]
    if not names and "~" in stem:
        return (f"{path}: an earlier output kept aside, whose name was shortened: its output is not known; "
                "left alone (rename it yourself)")
    target = path.parent / (names[0] if names else stem[1:])
    try:
        st = os.lstat(path)
        age = time.time() - max(st.st_mtime, st.st_ctime)
        if not os.path.lexists(target):
            return Leftover(path, "put-back", 0, f"the only copy of {target.name}, kept aside by a run "
                            "killed while it replaced it", target), age
        same = same_entry(path, target)
        size = 0 if same else _size(path)
    except OSError:
        return None
    return Leftover(path, "aside", size,
                    f"second name of {target.name}, left by a killed run" if same else
                    f"earlier {target.name} kept aside while it was replaced ({target.name} is in place), "
                    "left by a killed run", target), age


#: how a staged provenance record (:func:`~napari_batchseg.export._common.write_provenance`) begins
_EXPORT_RECORD = b'{\n  "tool": "napari-batchseg export"'


def _staged(d: Path, min_age_s: float, found: list[Leftover], held: list[str]) -> None:
    """New files and folders an export staged in ``d`` (:func:`~.atomic.staged_prefix`) that it left.

    Named ``.<output>.partial-new-<pid>-<host tag>-<8 random>``. One of this host (its tag is
    :data:`~.atomic.PID_SPACE_TAG`) is removed once its process is gone (and it is unchanged for
    ``min_age_s``), and left alone while it runs (so is one with no tag whose pid runs here).
    One of another host (another tag), or of no known host (an older name, with no tag), is removed only
    once unchanged (it, or a file in it) for :data:`~.locks.STALE_AFTER_S` seconds (or ``min_age_s``
    when longer): its pid says nothing here (before, one of a process of another host still writing it
    was removed after a minute, its pid not running here). A file that holds anything but what an export
    stages there (a provenance record, or nothing yet) is left alone. Symbolic links are never followed,
    nor listed. What is left alone is said in ``held``.
    """
    try:
        entries = [e for e in os.scandir(d) if _STAGED_RE.match(e.name) and not e.is_symlink()]
    except OSError:
        return
    for e in entries:
        match = _STAGED_RE.match(e.name)
        assert match is not None
        pid, tag = match.group("pid"), match.group("tag")
        here = tag == PID_SPACE_TAG
        if (here or tag is None) and _alive(match):  # (no tag: maybe this host's)
            held.append(f"{e.path}: being written by process {pid}, still running; left alone")
            continue
        path = Path(e.path)
        try:
            if e.is_file(follow_symlinks=False):
                with open(path, "rb") as fh:
                    head = fh.read(len(_EXPORT_RECORD))
                if head and head != _EXPORT_RECORD:
                    held.append(f"{path}: not a file an export of this tool's staged (content), left alone")
                    continue
            age = time.time() - _newest_change(path)
            size = _size(path)
        except OSError:
            continue
        wait = min_age_s if here else max(min_age_s, STALE_AFTER_S)
        origin = "" if here else (" of another host" if tag else " of an unknown host (an older name)")
        if age < wait:
            held.append(f"{path}: staged by process {pid}{origin}, modified {age:.0f} s ago, left alone "
                        f"(until unchanged for {wait:.0f} s)")
            continue
        stem = match.group("stem")
        output = "an output" if "~" in stem else stem[1:]
        why = "left by the killed export" if here else f"unchanged for {age:.0f} s"
        found.append(Leftover(path, "staged", size,
                              f"new {output} staged by an export of process {pid}{origin}, {why}"))


def _newest_change(path: Path) -> float:
    """The latest modification time of ``path`` and, for a folder, of all in it (links not followed)."""
    newest = os.lstat(path).st_mtime
    if path.is_dir() and not path.is_symlink():
        for here, dirs, files in os.walk(path, followlinks=False):
            for name in dirs + files:
                with contextlib.suppress(OSError):
                    newest = max(newest, os.lstat(os.path.join(here, name)).st_mtime)
    return newest


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
