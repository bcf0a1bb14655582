"""Crash-safe commits, output claims and verified re-runs (issue 9), with the threshold segmenter.

Faults are injected in the project's own atomic writer (``io.atomic._write/_fsync/_replace/_link``);
a full disk is simulated there (ENOSPC from ``os.write``) because mounting a small file system needs
root (see docs/reliability.md).
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg import engine
from napari_batchseg.io import atomic, leftovers, locks
from napari_batchseg.io.masks import read_mask
from napari_batchseg.params import SegmentationParams
from napari_batchseg.provenance import output_id
from napari_batchseg.testing import ThresholdSegmenter


def _movie(folder: Path, name: str = "a.tif", seed: int = 0, frames: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    data = (rng.random((frames, 48, 64)) * 1000).astype(np.uint16)
    path = folder / name
    tifffile.imwrite(path, data, metadata={"axes": "TYX"}, photometric="minisblack")
    return path


def _run(paths, **changes):
    params = SegmentationParams(**changes)
    return list(engine.run(engine.plan(paths, params), segmenter=ThresholdSegmenter()))


def _finals(events, kind):
    return [e for e in events if isinstance(e, kind)]


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if "_vSM" in p.name}


def _pair_consistent(mask: Path, log: Path) -> bool:
    return output_id(log.read_text()) == output_id(read_mask(mask).log_text) is not None


# --------------------------------------------------------------------------- 1: overwrite keeps the old pair
@pytest.mark.parametrize("step", ["write", "fsync", "replace"])
def test_overwrite_with_failing_log_write_keeps_old_pair(tmp_path, monkeypatch, step):
    movie = _movie(tmp_path)
    assert len(_finals(_run([movie]), engine.TaskDone)) == 1
    before = _snapshot(tmp_path)
    log_name = "a_vSM.log"

    def failing(original, pick):
        def call(*args):
            if pick(args):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return original(*args)
        return call

    if step == "write":  # disk full while the log's bytes are written
        monkeypatch.setattr(atomic, "_write", failing(atomic._write, lambda a: True))
    elif step == "fsync":
        real_fsync = atomic._fsync
        state = {"n": 0}

        def fsync(fd):  # fail the fsync of the log's temporary file (the last one synced before renames)
            state["n"] += 1
            if state["n"] == 2:
                raise OSError(errno.EIO, os.strerror(errno.EIO))
            return real_fsync(fd)
        monkeypatch.setattr(atomic, "_fsync", fsync)
    else:
        is_log = lambda a: Path(a[1]).name == log_name  # noqa: E731
        monkeypatch.setattr(atomic, "_replace", failing(atomic._replace, is_log))
    events = _run([movie], existing="overwrite")
    failed = _finals(events, engine.TaskFailed)
    assert len(failed) == 1 and not _finals(events, engine.TaskDone)
    assert "a_vSM" in failed[0].reason, failed[0].reason  # names the output, not (only) the input
    assert _snapshot(tmp_path) == before  # the old mask and log are untouched
    assert _hidden(tmp_path) == []  # no temporary file left
    monkeypatch.undo()
    assert len(_finals(_run([movie], existing="overwrite"), engine.TaskDone)) == 1


def test_disk_full_during_mask_write_leaves_nothing(tmp_path, monkeypatch):
    movie = _movie(tmp_path)

    def failing(original):
        def call(src, dst, **kwargs):  # the mask's data is written by tifffile: fail at its rename instead
            if str(dst).endswith(".ome.tif"):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return original(src, dst, **kwargs)
        return call
    monkeypatch.setattr(atomic, "_replace", failing(atomic._replace))
    monkeypatch.setattr(atomic, "_link", failing(atomic._link))  # the no-replace rename of skip
    events = _run([movie])
    assert len(_finals(events, engine.TaskFailed)) == 1
    assert "a_vSM.ome.tif" in _finals(events, engine.TaskFailed)[0].reason
    # the log went in first, then the mask rename failed: a log without mask is "not done"
    assert not (tmp_path / "a_vSM.ome.tif").exists()
    assert _hidden(tmp_path) == []
    monkeypatch.undo()
    done = _finals(_run([movie]), engine.TaskDone)
    assert len(done) == 1 and _pair_consistent(done[0].mask_path, done[0].log_path)


# --------------------------------------------------------------------------- 2: incomplete pairs are redone
def test_mask_without_log_is_kept_not_redone(tmp_path):
    """No cut-short commit leaves a mask without its log (the log goes in first): its log was deleted or
    lost, the mask maybe edited; ``skip`` keeps it (CLI trial 46: it was redone, the mask replaced)."""
    movie = _movie(tmp_path)
    _run([movie])
    (tmp_path / "a_vSM.log").unlink()
    before = (tmp_path / "a_vSM.ome.tif").read_bytes()
    events = _run([movie])  # default policy: skip
    (skipped,) = _finals(events, engine.TaskSkipped)
    assert "changed by hand: it has no log a_vSM.log" in skipped.reason
    assert (tmp_path / "a_vSM.ome.tif").read_bytes() == before


def test_mismatched_pair_is_redone(tmp_path):
    """A kill between the log's rename and the mask's: new log beside the older mask."""
    movie = _movie(tmp_path)
    _run([movie])
    old_mask = (tmp_path / "a_vSM.ome.tif").read_bytes()
    _run([movie], existing="overwrite")
    (tmp_path / "a_vSM.ome.tif").write_bytes(old_mask)  # the state such a kill leaves
    assert engine.output_state(engine.plan([movie], SegmentationParams()).tasks[0])[0] == "incomplete"
    events = _run([movie])
    assert len(_finals(events, engine.TaskDone)) == 1
    assert _pair_consistent(tmp_path / "a_vSM.ome.tif", tmp_path / "a_vSM.log")
    assert _finals(_run([movie]), engine.TaskSkipped)  # and now it is done


def test_log_is_renamed_before_mask(tmp_path, monkeypatch):
    movie = _movie(tmp_path)
    order: list[str] = []
    real = atomic._replace

    def replace(src, dst):
        order.append(Path(dst).name)
        return real(src, dst)
    monkeypatch.setattr(atomic, "_replace", replace)
    _run([movie], existing="overwrite", debug=False)
    assert order == ["a_vSM.log", "a_vSM.ome.tif"]


def test_skip_never_replaces_a_mask_that_appeared_meanwhile(tmp_path, monkeypatch):
    movie = _movie(tmp_path)
    intruder = b"written by a run that ignored the lock"
    real_link = atomic._link

    def link(src, dst, **kwargs):
        if str(dst).endswith(".ome.tif"):
            Path(dst).write_bytes(intruder)
        return real_link(src, dst, **kwargs)
    monkeypatch.setattr(atomic, "_link", link)
    events = _run([movie])
    assert _finals(events, engine.TaskSkipped)
    assert (tmp_path / "a_vSM.ome.tif").read_bytes() == intruder
    assert _hidden(tmp_path) == []


def test_hand_corrected_mask_is_not_redone(tmp_path):
    from napari_batchseg.corrections import save_corrections

    movie = _movie(tmp_path)
    _run([movie])
    mask = tmp_path / "a_vSM.ome.tif"
    labels = read_mask(mask).labels.copy()
    labels[0][labels[0] == labels[0].max()] = 0
    save_corrections(mask, labels, write_log_file=False)  # as if cut short before the log was rewritten
    assert _finals(_run([movie]), engine.TaskSkipped)


# --------------------------------------------------------------------------- 3: claims
def test_output_held_by_a_live_run_is_skipped(tmp_path):
    movie = _movie(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock = locks.lock_path(tmp_path / "a_vSM.ome.tif")
        lock.write_text(json.dumps({"pid": holder.pid, "host": locks.HOST, "started": time.time(),
                                    "proc_start": locks._proc_start(holder.pid), "token": "x"}))
        events = _run([movie], existing="overwrite")
        skipped = _finals(events, engine.TaskSkipped)
        assert len(skipped) == 1 and f"being produced by pid {holder.pid} on host" in skipped[0].reason
        assert not (tmp_path / "a_vSM.ome.tif").exists() and lock.exists()
        # no mask to show or report yet (the dock shows a skipped output's mask when a run made none)
        assert not skipped[0].output_exists
    finally:
        holder.kill()
        holder.wait()
    # the holder is gone: its lock is stale and taken over
    assert len(_finals(_run([movie]), engine.TaskDone)) == 1
    assert not locks.lock_path(tmp_path / "a_vSM.ome.tif").exists()


def test_stale_lock_of_another_host_expires(tmp_path, monkeypatch):
    movie = _movie(tmp_path)
    lock = locks.lock_path(tmp_path / "a_vSM.ome.tif")
    lock.write_text(json.dumps({"pid": 1, "host": "elsewhere", "started": time.time(), "token": "y"}))
    events = _run([movie])
    assert "pid 1 on host elsewhere" in _finals(events, engine.TaskSkipped)[0].reason
    old = time.time() - locks.STALE_AFTER_S - 5
    os.utime(lock, (old, old))
    assert len(_finals(_run([movie]), engine.TaskDone)) == 1


def test_stale_buffers_of_own_outputs_are_removed(tmp_path):
    movie = _movie(tmp_path)
    other = tmp_path / ".b_vSM.ome.tif.partial-abc.buffer"  # another output's: left alone
    mine = [tmp_path / ".a_vSM.ome.tif.partial-x1y2.buffer", tmp_path / ".a_vSM.log.partial-zz",
            tmp_path / ".a_vSM_flows.tif.partial-q.buffer",
            tmp_path / ".a_vSM_dP.tif.partial-k.buffer",  # --keep-flows
            tmp_path / ".a_vSM_restored.tif.partial-r.buffer"]  # --restore with --debug
    for f in [other, *mine]:
        f.write_bytes(b"\0" * 100)
    leftovers._listing_cache.clear()
    assert len(_finals(_run([movie]), engine.TaskDone)) == 1
    assert _hidden(tmp_path) == [other.name]


_CONCURRENT = """
import sys, json
from napari_batchseg import engine
from napari_batchseg.params import SegmentationParams
from napari_batchseg.testing import ThresholdSegmenter
params = SegmentationParams(extra={"delay": float(sys.argv[2])}, diameter=float(sys.argv[3]))
out = []
for e in engine.run(engine.plan([sys.argv[1]], params), segmenter=ThresholdSegmenter(float(sys.argv[2]))):
    if isinstance(e, engine.FINAL_EVENTS):
        out.append([type(e).__name__, e.task.names.mask.name, getattr(e, "reason", "")])
print(json.dumps(out))
"""


def test_two_concurrent_runs_split_the_work(tmp_path):
    for i in range(6):
        _movie(tmp_path, f"m{i}.tif", seed=i, frames=2)
    # different parameters (diameter), as in the issue: the folder must not mix the two runs
    procs = [subprocess.Popen([sys.executable, "-c", _CONCURRENT, str(tmp_path), "0.15", str(d)],
                              stdout=subprocess.PIPE, text=True) for d in (0, 30)]
    results = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    done = [[r[1] for r in res if r[0] == "TaskDone"] for res in results]
    assert sorted(done[0] + done[1]) == sorted(f"m{i}_vSM.ome.tif" for i in range(6))  # each once
    assert done[0] and done[1]  # both worked
    for res in results:
        for kind, _name, reason in res:
            assert kind in ("TaskDone", "TaskSkipped"), reason
    for name in done[0] + done[1]:  # every pair comes from one run
        mask = tmp_path / name
        assert _pair_consistent(mask, mask.with_name(name.replace(".ome.tif", ".log")))
    assert _hidden(tmp_path) == []


def test_a_skipped_output_loses_the_leftovers_of_a_killed_overwrite(tmp_path):
    """Found by the kill harness: a killed overwrite left its lock and buffer beside a done pair."""
    movie = _movie(tmp_path)
    _run([movie])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = locks.lock_path(tmp_path / "a_vSM.ome.tif")
    lock.write_text(json.dumps({"pid": dead.pid, "host": locks.HOST, "started": time.time(), "token": "z"}))
    (tmp_path / ".a_vSM.ome.tif.partial-k1.buffer").write_bytes(b"\0" * 64)
    leftovers._listing_cache.clear()
    assert _finals(_run([movie]), engine.TaskSkipped)
    assert _hidden(tmp_path) == []


# --------------------------------------------------------------------------- a real full disk
@pytest.fixture
def tiny_fs(tmp_path):
    """A 512 KiB tmpfs (Linux, root only); skipped where it cannot be mounted."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs Linux and root (ENOSPC is simulated in the tests above)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(folder: Path, leave: int) -> Path:
    """Fill the file system of ``folder`` but ``leave`` bytes."""
    filler = folder / "filler.bin"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    size = filler.stat().st_size
    os.truncate(filler, max(0, size - leave))
    return filler


@pytest.mark.parametrize("leave", [0, 8 << 10, 32 << 10, 56 << 10, 64 << 10, 72 << 10, 96 << 10])
@pytest.mark.parametrize("existing", ["skip", "overwrite"])
def test_full_disk_never_loses_or_corrupts_outputs(tmp_path, tiny_fs, leave, existing):
    inp = tmp_path / "in"
    inp.mkdir()
    movie = _movie(inp)  # 3 frames: a 48 KiB buffer, a ~10 KiB mask, a ~2 KiB log
    params = SegmentationParams(output_dir=str(tiny_fs), existing=existing)
    if existing == "overwrite":
        list(engine.run(engine.plan([movie], params), segmenter=ThresholdSegmenter()))
    before = _snapshot(tiny_fs)
    filler = _fill(tiny_fs, leave)
    events = list(engine.run(engine.plan([movie], params), segmenter=ThresholdSegmenter()))
    final = [e for e in events if isinstance(e, engine.FINAL_EVENTS)]
    assert len(final) == 1
    hidden = _hidden(tiny_fs)
    if isinstance(final[0], engine.TaskFailed):
        assert "a_vSM" in final[0].reason and "No space left" in final[0].reason, final[0].reason
        assert not final[0].details  # an output error, not a crash
        assert _snapshot(tiny_fs) == before  # previous pair (or nothing) exactly as it was
    else:
        assert isinstance(final[0], engine.TaskDone), final
        assert _pair_consistent(tiny_fs / "a_vSM.ome.tif", tiny_fs / "a_vSM.log")
    assert hidden == []
    filler.unlink()
    done = _finals(list(engine.run(engine.plan([movie], params.replace(existing="overwrite")),
                                   segmenter=ThresholdSegmenter())), engine.TaskDone)
    assert len(done) == 1 and _pair_consistent(done[0].mask_path, done[0].log_path)


def test_write_probe_of_a_killed_run_is_removed(tmp_path):
    """Found by the kill harness: a kill inside the output-folder check left its probe file."""
    movie = _movie(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    probe = out / f"{atomic.PROBE_PREFIX}{dead.pid}@{locks.HOST}@abc123"
    probe.write_bytes(b"")
    alive = out / f"{atomic.PROBE_PREFIX}{os.getpid()}@{locks.HOST}@def456"  # a live process's: kept
    alive.write_bytes(b"")
    found, _ = leftovers.find_leftovers(out)
    assert [f.path for f in found] == [probe]
    assert len(_finals(_run([movie], output_dir=str(out)), engine.TaskDone)) == 1
    assert _hidden(out) == [alive.name]


# --------------------------------------------------------------------------- issue 22: locks in containers
def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _foreign_lock(path: Path, pid: int, **extra) -> None:
    """A lock as a run in another PID namespace (a container with the host's name) writes it."""
    record = {"pid": pid, "host": locks.HOST, "boot_id": locks.BOOT_ID, "pid_ns": "4026530000",
              "started": time.time(), "proc_start": "12", "token": "ns", "output": path.name[1:-5],
              **extra}
    path.write_text(json.dumps(record))


@pytest.mark.skipif(locks.PID_NS is None, reason="needs Linux PID namespaces")
@pytest.mark.parametrize("pid", ["alive", "dead"])
def test_lock_of_another_pid_namespace_is_judged_by_heartbeat_not_by_pid(tmp_path, pid):
    """pid 1 of a container is another live process here, a pid alive there may be dead here."""
    movie = _movie(tmp_path)
    lock = locks.lock_path(tmp_path / "a_vSM.ome.tif")
    _foreign_lock(lock, 1 if pid == "alive" else _dead_pid())
    assert locks.live_holder(tmp_path / "a_vSM.ome.tif") is not None  # fresh: held, whatever the pid
    skipped = _finals(_run([movie]), engine.TaskSkipped)
    assert len(skipped) == 1 and "another PID namespace" in skipped[0].reason
    assert lock.exists() and not (tmp_path / "a_vSM.ome.tif").exists()
    old = time.time() - locks.STALE_AFTER_S - 5  # no heartbeat for that long: its run is gone
    os.utime(lock, (old, old))
    assert len(_finals(_run([movie]), engine.TaskDone)) == 1
    assert not lock.exists()


_FLOCK_HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(locks.BOOT_ID is None, reason="needs Linux boot ids and flock")
def test_os_level_lock_tells_a_live_holder_in_another_namespace_from_a_dead_one(tmp_path):
    movie = _movie(tmp_path)
    lock = locks.lock_path(tmp_path / "a_vSM.ome.tif")
    _foreign_lock(lock, _dead_pid(), flock=True)
    old = time.time() - locks.STALE_AFTER_S - 5
    os.utime(lock, (old, old))  # even without a heartbeat: the kernel says the holder lives
    holder = subprocess.Popen([sys.executable, "-c", _FLOCK_HOLDER, str(lock)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert len(_finals(_run([movie]), engine.TaskSkipped)) == 1
        assert lock.exists()
    finally:
        holder.kill()
        holder.wait()
    os.utime(lock, None)  # fresh file, but its OS-level lock was dropped with its holder: stale
    assert len(_finals(_run([movie]), engine.TaskDone)) == 1


def test_own_claim_holds_an_os_level_lock_and_records_its_namespace(tmp_path):
    target = tmp_path / "a_vSM.ome.tif"
    claimed = locks.claim(target)
    assert isinstance(claimed, locks.OutputLock)
    try:
        info = locks.read_lock(locks.lock_path(target))
        assert info is not None and info.output == target.name
        assert (info.boot_id, info.pid_ns) == (locks.BOOT_ID, locks.PID_NS)
        if info.flock:
            assert locks._flock_held(info.path) is True
        assert not info.is_stale()
    finally:
        claimed.release()
    assert not locks.lock_path(target).exists()


# --------------------------------------------------------------------------- issue 22: clean, only its own
def _aged(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    old = time.time() - 3600
    os.utime(path, (old, old))
    return path


def _dead_lock_record(output: str | None) -> str:
    record = {"pid": _dead_pid(), "host": locks.HOST, "started": 0.0, "token": "t"}
    if output is not None:
        record["output"] = output
    return json.dumps(record)


def test_clean_removes_only_files_proven_to_be_ours(tmp_path, capsys):
    from napari_batchseg.cli import main

    tree = tmp_path / "tree"
    foreign = [
        _aged(tree / ".x.lock", "my editor's lock"),  # not a lock record
        _aged(tree / ".notes.txt.lock", _dead_lock_record(None)),  # a record, but of no _vSM output
        _aged(tree / ".a_vSM.ome.tif.lock", _dead_lock_record("b_vSM.ome.tif")),  # names another output
        _aged(tree / ".report.docx.partial-abcdefgh", "a download"),  # not a _vSM output's
        _aged(tree / ".a_vSM.ome.tif.partial-abcdefgh", "not a tiff"),  # content is not what we write
        _aged(tree / ".vSMC_cells.tif.partial-abcdefgh", b"II*\0" + b"\0" * 60),  # not an output name
    ]
    ours = [
        _aged(tree / ".c_vSM.ome.tif.lock", _dead_lock_record("c_vSM.ome.tif")),
        _aged(tree / ".c_vSM.ome.tif.partial-k2j4h5g6", b"II*\0" + b"\0" * 60),
        _aged(tree / ".c_vSM.log.partial-k2j4h5g7", "2026-01-01 10:00:00.000 | segmentation | INFO | x\n"),
        _aged(tree / ".c_vSM.ome.tif.partial-k2j4h5g8.buffer", b"\0" * 128),
    ]
    outside = tmp_path / "elsewhere"  # a folder outside the tree, linked into it
    theirs = _aged(outside / ".d_vSM.ome.tif.partial-abcdefgh.buffer", b"\0" * 64)
    their_lock = _aged(outside / ".d_vSM.ome.tif.lock", _dead_lock_record("d_vSM.ome.tif"))
    (tree / "linked").symlink_to(outside, target_is_directory=True)
    (tree / "linked_lock.lock").symlink_to(their_lock)

    assert main(["clean", str(tree), "-r", "--dry-run"]) == 0
    listed = capsys.readouterr().out
    assert all(str(p) in listed for p in ours)
    assert all(p.exists() for p in ours + foreign)

    assert main(["clean", str(tree), "-r"]) == 0
    out = capsys.readouterr().out
    assert [p for p in ours if p.exists()] == []
    assert [p for p in foreign if not p.exists()] == []
    assert theirs.exists() and their_lock.exists() and (tree / "linked").is_symlink()
    assert str(theirs) not in out and "left alone" in out
    # walk: a folder that is not there said "freed 0 bytes" too
    assert main(["clean", str(tree / "nowhere")]) == 2
    said = capsys.readouterr()
    assert "nowhere: not a folder" in said.err and "freed" not in said.out


# --------------------------------------------------------------------------- issue 22: a log runs no code
class _Payload:
    """Unpickling this creates a file: the proof that a checkpoint ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _crafted_checkpoint(path: Path, marker: Path) -> Path:
    import torch

    torch.save({"model_state": {"w": torch.zeros(2)}, "config": _Payload(marker)}, path)
    return path


def _crafted_log(folder: Path, image: Path, **params) -> Path:
    from napari_batchseg.provenance import INPUT_PREFIX, PARAMS_PREFIX

    stamp = "2026-01-01 10:00:00.000 | segmentation | INFO | "
    text = (stamp + PARAMS_PREFIX + json.dumps(SegmentationParams(**params).to_dict()) + "\n"
            + stamp + INPUT_PREFIX + str(image) + "\n")
    log = folder / "shared_vSM.log"
    log.write_text(text)
    return log


def test_rerun_of_a_log_naming_a_crafted_checkpoint_runs_no_code(tmp_path, capsys, monkeypatch):
    pytest.importorskip("micro_sam")
    from napari_batchseg.cli import main
    from napari_batchseg.segmenters.safe_load import TRUST_ENV

    monkeypatch.delenv(TRUST_ENV, raising=False)
    marker = tmp_path / "pwned"
    evil = _crafted_checkpoint(tmp_path / "vit_b.pt", marker)
    shared = tmp_path / "shared"
    movie = _movie(shared)
    log = _crafted_log(shared, movie, method="sam", model="vit_b", checkpoint=str(evil))
    status = main(["rerun", str(log), "--suffix", "again", "-q"])
    err = capsys.readouterr().err
    assert not marker.exists()
    assert status == 2
    assert f"will load checkpoint {evil} (outside the log's folder" in err
    lines = [line for line in err.splitlines() if str(evil) in line and "--trust-checkpoint" in line]
    assert lines, err  # one line naming the file and the opt-in
    assert err.index("will load checkpoint") < err.index(lines[0])  # said before it was loaded
    assert not list(shared.glob("*_vSM-again*"))


@pytest.mark.parametrize("name", ["model.pt", "checkpoint.pt"])
def test_model_files_needing_pickled_code_are_refused_unless_trusted(tmp_path, monkeypatch, name):
    from napari_batchseg.errors import ModelError
    from napari_batchseg.segmenters.cellpose.files import resolve_user_model
    from napari_batchseg.segmenters.safe_load import TRUST_ENV, load_weights

    marker = tmp_path / "pwned"
    evil = _crafted_checkpoint(tmp_path / name, marker)
    monkeypatch.delenv(TRUST_ENV, raising=False)
    with pytest.raises(ModelError, match="--trust-checkpoint") as err:
        resolve_user_model(str(evil))
    assert str(evil) in str(err.value) and "\n" not in str(err.value)
    assert not marker.exists()
    monkeypatch.setenv(TRUST_ENV, "1")  # the explicit opt-in: the file is loaded as it is
    load_weights(evil)
    assert marker.exists()


def test_micro_sam_checkpoint_info_runs_no_code(tmp_path, monkeypatch):
    from napari_batchseg.errors import ModelError
    from napari_batchseg.segmenters.microsam.weights import resolve_checkpoint
    from napari_batchseg.segmenters.safe_load import TRUST_ENV

    monkeypatch.delenv(TRUST_ENV, raising=False)
    marker = tmp_path / "pwned"
    evil = _crafted_checkpoint(tmp_path / "sam.pt", marker)
    with pytest.raises(ModelError, match="needs code from its pickle"):
        resolve_checkpoint("vit_b", str(evil))
    assert not marker.exists()


def test_rerun_writes_beside_the_log_not_where_the_log_says(tmp_path, capsys, monkeypatch):
    from napari_batchseg.cli import FACTORY_ENV, main

    monkeypatch.setenv(FACTORY_ENV, "napari_batchseg.testing:threshold_segmenter")
    shared = tmp_path / "shared"
    movie = _movie(shared)
    target = tmp_path / "victim" / "deep"
    log = _crafted_log(shared, movie, output_dir=str(target))
    assert main(["rerun", str(log), "--suffix", "again", "-q"]) == 0
    err = capsys.readouterr().err
    assert not (tmp_path / "victim").exists()
    assert (shared / "a_vSM-again.ome.tif").exists()
    assert f"will write to {shared} (beside the log)" in err and str(target) in err
    # asked for explicitly, the log's folder is used
    assert main(["rerun", str(log), "--suffix", "again2", "-q", "--logged-output-dir"]) == 0
    assert (target / "a_vSM-again2.ome.tif").exists()
    assert f"will write to {target}" in capsys.readouterr().err


# --------------------------------------------------------------------------- issue 22: skip and parameters
def _task(movie: Path, **changes):
    params = SegmentationParams(**changes)
    return engine.plan([movie], params).tasks[0], params


def test_output_status_tells_missing_same_other_and_corrupt(tmp_path):
    from napari_batchseg.existing import output_status

    movie = _movie(tmp_path)
    task, params = _task(movie, diameter=0)
    assert output_status(task, params).state == "missing"
    _run([movie], diameter=0)
    assert output_status(task, params).state == "same"
    assert output_status(task, params.replace(gpu=True, suffix="", existing="overwrite")).state == "same"
    # keeping the flows changes what is kept beside the mask, not the mask
    assert output_status(task, params.replace(keep_flows=True)).state == "same"
    other = output_status(task, params.replace(diameter=30))
    assert other.state == "other" and other.differences == {"diameter": (0.0, 30.0)}
    assert other.detail == "diameter auto -> 30.0"  # as the widget shows a diameter of 0
    # QA: frames 0-9 of a 3-frame movie are its frames 0-end: the same output, not "other parameters"
    assert output_status(task, params.replace(end_frame=9)).state == "same"
    assert output_status(task, params.replace(end_frame=1)).differences == {"end_frame": (None, 1)}
    task.names.log.unlink()  # deleted: the mask counts as changed by hand (no cut-short run leaves it)
    gone = output_status(task, params)
    assert gone.state == "same" and gone.corrected and "has no log" in gone.edited
    task.names.mask.write_bytes(task.names.mask.read_bytes()[:200])  # and cut short: made again
    assert output_status(task, params).state == "corrupt"


def test_skip_never_counts_an_output_of_other_parameters_as_done(tmp_path, capsys, monkeypatch):
    from napari_batchseg.cli import FACTORY_ENV, main

    movie = _movie(tmp_path)
    _run([movie], diameter=0)
    before = _snapshot(tmp_path)
    events = _run([movie], diameter=30)
    (skipped,) = _finals(events, engine.TaskSkipped)
    assert skipped.other_parameters and "other parameters" in skipped.reason and "diameter" in skipped.reason
    assert not _finals(events, engine.TaskDone) and _snapshot(tmp_path) == before
    refused = _finals(_run([movie], diameter=30, existing="error"), engine.TaskFailed)
    assert len(refused) == 1 and "other parameters" in refused[0].reason
    same = _finals(_run([movie], diameter=0), engine.TaskSkipped)
    assert len(same) == 1 and not same[0].other_parameters
    monkeypatch.setenv(FACTORY_ENV, "napari_batchseg.testing:threshold_segmenter")
    assert main(["segment", str(movie), "--diameter", "30", "-q"]) == 0
    err = capsys.readouterr().err
    assert "0 done, 1 skipped, 0 failed (1 skipped output(s) were made with other parameters" in err


def test_corrupt_mask_whose_log_has_no_output_id_is_redone(tmp_path):
    from napari_batchseg.provenance import OUTPUT_ID_PREFIX

    movie = _movie(tmp_path)
    _run([movie])
    mask, log = tmp_path / "a_vSM.ome.tif", tmp_path / "a_vSM.log"
    lines = [x for x in log.read_text().splitlines() if OUTPUT_ID_PREFIX not in x]
    log.write_text("\n".join(lines) + "\n")  # a log of an older version: no output id
    data = mask.read_bytes()
    mask.write_bytes(data[: len(data) // 2])  # cut short
    done = _finals(_run([movie]), engine.TaskDone)
    assert len(done) == 1
    assert read_mask(mask).labels.shape[0] == 3


# ------------------------------------------------------------------------- issue 22: dry runs change nothing
def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_dry_run_changes_nothing_and_refuses_what_the_run_refuses(tmp_path, capsys, monkeypatch):
    from napari_batchseg.cli import FACTORY_ENV, main

    monkeypatch.setenv(FACTORY_ENV, "napari_batchseg.testing:threshold_segmenter")
    movie = _movie(tmp_path / "in")
    out = tmp_path / "out" / "deep"
    before = _tree(tmp_path)
    assert main(["segment", str(movie), "--output-dir", str(out), "--dry-run"]) == 0
    assert "[new]" in capsys.readouterr().out
    assert _tree(tmp_path) == before  # no output folder, no write probe
    for bad in (["--parallel", "files", "--processes", "0"], ["--batch-frames", "0"]):
        assert main(["segment", str(movie), "--dry-run", *bad]) == 2, bad
        assert main(["segment", str(movie), *bad, "-q"]) == 2, bad
        capsys.readouterr()
    assert _tree(tmp_path) == before
    # the listing says what the run will do with an output made with other parameters
    _run([movie], diameter=0)
    assert main(["segment", str(movie), "--diameter", "30", "--dry-run"]) == 0
    assert "made with other parameters (diameter auto -> 30.0): skipped" in capsys.readouterr().out
    # walk: --parallel frames with a volume mode passed --dry-run, then failed each file after loading
    stack = tmp_path / "in" / "z.tif"
    tifffile.imwrite(stack, np.zeros((2, 3, 48, 64), np.uint16), metadata={"axes": "TZYX"})
    volume = ["--z-mode", "stitch", "--parallel", "frames", "--processes", "2"]
    for dry in (["--dry-run"], ["-q"]):
        assert main(["segment", str(stack), *volume, *dry]) == 2
        assert "with --parallel frames: volumes are segmented one at a time" in capsys.readouterr().err


def test_embedding_cache_entries_that_would_unpickle_are_never_opened(tmp_path):
    zarr = pytest.importorskip("zarr")
    from napari_batchseg.segmenters.microsam.cache import unsafe_entry

    plain = tmp_path / "plain.zarr"
    group = zarr.open_group(str(plain), mode="w")
    group.create_array("features", shape=(2, 3), dtype="float32")[:] = 1
    group.attrs["input_size"] = [64, 64]
    assert unsafe_entry(plain) is None
    crafted = tmp_path / "crafted.zarr"  # zarr v2 metadata of an object array read with pickle
    (crafted / "features").mkdir(parents=True)
    (crafted / ".zattrs").write_text(json.dumps({"input_size": [64, 64]}))
    (crafted / "features" / ".zarray").write_text(json.dumps(
        {"zarr_format": 2, "shape": [1], "chunks": [1], "dtype": "|O", "compressor": None,
         "fill_value": 0, "order": "C", "filters": [{"id": "pickle", "protocol": 5}]}))
    assert "pickle" in (unsafe_entry(crafted) or "")


def test_api_reports_outputs_of_other_parameters(tmp_path):
    from napari_batchseg.api import output_status, segment_files

    movie = _movie(tmp_path)
    first = segment_files([movie], SegmentationParams(diameter=0), segmenter=ThresholdSegmenter())
    assert [r.status for r in first.reports] == ["done"]
    again = segment_files([movie], SegmentationParams(diameter=30), segmenter=ThresholdSegmenter())
    (report,) = again.reports
    assert report.status == "skipped" and report.other_parameters
    task = engine.plan([movie], SegmentationParams(diameter=30)).tasks[0]
    assert output_status(task, SegmentationParams(diameter=30)).state == "other"


# --------------------------------------------------------------------------- hand corrections survive
def test_overwriting_a_hand_corrected_output_keeps_it(tmp_path):
    """QA: 'overwrite' (which the tuning loop advises) silently replaced a mask corrected by hand.

    The corrected pair is now kept as ``<name>.corrected.ome.tif`` / ``.corrected.log`` (then
    ``.corrected-2``) before the new output replaces it; the preview and the dry run say so first.
    """
    from napari_batchseg import corrections
    from napari_batchseg.existing import output_status, what_happens
    from napari_batchseg.view.outputs import existing_lines

    movie = _movie(tmp_path / "in")
    assert len(_finals(_run([movie]), engine.TaskDone)) == 1
    mask = movie.with_name("a_vSM.ome.tif")
    labels = read_mask(mask).labels
    corrected = labels.copy()
    corrected[0][corrected[0] == corrected[0].max()] = 0  # one object deleted by hand
    corrections.save_corrections(mask, corrected, note="deleted one")
    task = engine.plan([movie], SegmentationParams(existing="overwrite")).tasks[0]
    status = output_status(task, SegmentationParams(existing="overwrite"))
    assert status.state == "same" and status.corrected
    assert "kept as .corrected.ome.tif" in what_happens(status, "overwrite")
    assert any("1 of them hold hand corrections: each is kept as <name>.corrected.ome.tif" in line
               for line in existing_lines([status], "overwrite"))
    done = _finals(_run([movie], existing="overwrite"), engine.TaskDone)
    assert len(done) == 1 and any("a_vSM.corrected.ome.tif" in w for w in done[0].warnings)
    kept = movie.with_name("a_vSM.corrected.ome.tif")
    np.testing.assert_array_equal(read_mask(kept).labels, corrected)
    assert "deleted one" in kept.with_name("a_vSM.corrected.log").read_text()
    np.testing.assert_array_equal(read_mask(mask).labels, labels)  # the new output: the model's again
    assert "a_vSM.corrected.ome.tif" in mask.with_name("a_vSM.log").read_text()
    # the new output holds no corrections: a third run keeps nothing more; corrected again, a second copy
    _run([movie], existing="overwrite")
    assert sorted(p.name for p in mask.parent.glob("a_vSM.corrected*")) == ["a_vSM.corrected.log",
                                                                            "a_vSM.corrected.ome.tif"]
    corrections.save_corrections(mask, corrected)
    _run([movie], existing="overwrite")
    assert movie.with_name("a_vSM.corrected-2.ome.tif").is_file()
    assert engine.plan([movie.parent], SegmentationParams()).tasks[0].input == movie  # copies aren't inputs
    assert _hidden(movie.parent) == []


def test_an_axes_override_for_the_ambiguous_file_leaves_the_others_outputs_the_same(tmp_path, capsys,
                                                                                     monkeypatch):
    """Walk: doing what the "ambiguous axes" error says (``--axes``) marked the folder's other finished
    outputs "made with other parameters (axes None -> 'TYX')": the override never applies to them."""
    from napari_batchseg.cli import FACTORY_ENV, main

    monkeypatch.setenv(FACTORY_ENV, "napari_batchseg.testing:threshold_segmenter")
    folder = tmp_path / "in"
    _movie(folder)  # a.tif: its own axes (TYX)
    rng = np.random.default_rng(1)
    tifffile.imwrite(folder / "b.tif", (rng.random((2, 48, 64)) * 1000).astype(np.uint16), metadata=None)
    out = tmp_path / "out"
    assert main(["segment", str(folder), "--output-dir", str(out), "-q"]) == 1  # b.tif is ambiguous
    assert "--axes" in capsys.readouterr().err
    mask_a = (out / "a_vSM.ome.tif").read_bytes()
    assert main(["segment", str(folder), "--output-dir", str(out), "--axes", "TYX"]) == 0
    said = capsys.readouterr()
    assert "other parameters" not in said.out + said.err
    assert (out / "b_vSM.ome.tif").is_file() and (out / "a_vSM.ome.tif").read_bytes() == mask_a
