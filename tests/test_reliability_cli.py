"""The ``batchseg`` process under signals, kill -9 of the coordinator, ``clean`` and verified re-runs.

The CLI runs as a real subprocess with the threshold segmenter (``BATCHSEG_SEGMENTER_FACTORY``), so
these tests need no model. Issue 9, points 4-7.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile

from _timing import time_bound
from napari_batchseg.cli import FACTORY_ENV, main
from napari_batchseg.io.masks import read_mask
from napari_batchseg.segmenters import SegmentOutput
from napari_batchseg.testing import ThresholdSegmenter

FACTORY = "napari_batchseg.testing:threshold_segmenter"


def _movies(folder: Path, n: int = 3, frames: int = 6, seed: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        path = folder / f"m{i}.tif"
        data = (rng.random((frames, 64, 64)) * 1000).astype(np.uint16)
        tifffile.imwrite(path, data, metadata={"axes": "TYX"}, photometric="minisblack")
        out.append(path)
    return out


def _env(factory: str = FACTORY) -> dict[str, str]:
    env = dict(os.environ)
    env[FACTORY_ENV] = factory
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), env.get("PYTHONPATH", "")])
    return env


def _start(args: list[str], **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "napari_batchseg.cli", *args], env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def _wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _masks(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*_vSM.ome.tif"))


# --------------------------------------------------------------------------- 7: signals
@pytest.mark.parametrize(("sig", "code", "parallel"), [
    (signal.SIGTERM, 143, "none"), (signal.SIGINT, 130, "none"), (signal.SIGTERM, 143, "files"),
])
def test_signal_stops_between_frames_cleans_up_and_reports(tmp_path, sig, code, parallel):
    _movies(tmp_path, n=4)
    extra = ["--parallel", "files", "--processes", "2"] if parallel == "files" else []
    proc = _start(["segment", str(tmp_path), "--sam-set", "delay=0.25", *extra],
                  start_new_session=True)
    _wait_for(lambda: any(".partial-" in n for n in _hidden(tmp_path)))  # an output is under way
    time.sleep(0.3)
    if parallel == "files":
        os.killpg(proc.pid, sig)  # what a batch system does: the whole process group
    else:
        proc.send_signal(sig)
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == code, err
    assert "Traceback" not in err and "Traceback" not in out
    assert f"stopped by {signal.Signals(sig).name}" in err
    assert "not done (cancelled)" in err
    assert _hidden(tmp_path) == []  # no buffer, no temporary file, no lock
    done = _masks(tmp_path)
    assert len(done) < 4
    for name in done:  # what was kept is complete
        assert read_mask(tmp_path / name).labels.shape == (6, 64, 64)
    # the same command finishes the rest
    again = _start(["segment", str(tmp_path), "-q"])
    _, err2 = again.communicate(timeout=90)
    assert again.returncode == 0, err2
    assert len(_masks(tmp_path)) == 4 and f"{len(done)} skipped" in err2


# --------------------------------------------------------------------------- 5: workers die with the run
def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the worker processes")
@pytest.mark.parametrize("parallel", ["files", "frames"])
def test_workers_die_with_a_killed_coordinator(tmp_path, parallel):
    _movies(tmp_path, n=3, frames=8)
    proc = _start(["segment", str(tmp_path), "--sam-set", "delay=0.3", "--parallel", parallel,
                   "--processes", "2", "-q"])
    _wait_for(lambda: any(".partial-" in n for n in _hidden(tmp_path)))

    def spawned() -> list[int]:
        return [p for p in _children(proc.pid) if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text()]

    # a process pool (--parallel frames) starts its workers as work is submitted: on a loaded machine the
    # second may come a moment after the first output's partial file
    _wait_for(lambda: len(spawned()) == 2, timeout=60)
    workers = spawned()
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 5
    alive = workers
    while alive and time.monotonic() < deadline:
        alive = [p for p in workers if Path(f"/proc/{p}").exists()
                 and "Z" not in (Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0])]
        time.sleep(0.1)
    assert not alive, f"workers still running after the coordinator was killed: {alive}"
    before = set(_masks(tmp_path))
    time.sleep(1.0)
    assert set(_masks(tmp_path)) == before  # nothing committed after the run was gone
    # the next run removes the leftovers of its own outputs and finishes
    again = _start(["segment", str(tmp_path), "-q"])
    _, err = again.communicate(timeout=90)
    assert again.returncode == 0, err
    assert len(_masks(tmp_path)) == 3 and _hidden(tmp_path) == [] and "0 skipped" in err, err


@pytest.mark.slow
def test_dask_task_of_a_killed_client_stops_without_committing(tmp_path):
    """Issue 22: a client submitting to a cluster is ``kill -9``ed: its task stops between frames.

    Dask lets a running task finish after its client is gone; the task went on to produce and commit
    the output of a run that no longer existed (and a re-run meanwhile found it "being produced").
    """
    from test_kill_harness import _Cluster

    movie = _movies(tmp_path / "in", n=1, frames=40)[0]
    out = tmp_path / "out"
    cluster = _Cluster(tmp_path / "cluster")
    try:
        proc = _start(["segment", str(movie), "--output-dir", str(out), "--sam-set", "delay=0.3",
                       "--dask-scheduler", cluster.address, "-q"])
        _wait_for(lambda: out.is_dir() and any(".partial-" in n for n in _hidden(out)), timeout=120)
        proc.kill()
        proc.wait()
        _wait_for(lambda: cluster.tasks_running() == 0, timeout=time_bound(6))  # 40 frames take 12 s
    finally:
        cluster.close()
    assert _masks(out) == [] and _hidden(out) == [] and not list(out.glob("*.log"))


# --------------------------------------------------------------------------- 6: clean
def test_clean_lists_and_removes_leftovers(tmp_path, capsys):
    _movies(tmp_path, n=1)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = tmp_path / ".m0_vSM.ome.tif.lock"
    lock.write_text(f'{{"pid": {dead.pid}, "host": "{os.uname().nodename}", "started": 0, "token": "t"}}')
    buffer = tmp_path / ".m0_vSM.ome.tif.partial-abc.buffer"
    buffer.write_bytes(b"\0" * 4096)
    aside = tmp_path / ".m1_vSM.ome.tif.lock.stale-1234"
    aside.write_text(lock.read_text())  # a lock record moved aside by a run killed while taking it over
    assert main(["clean", str(tmp_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert str(buffer) in out and str(lock) in out and str(aside) in out and "would free" in out
    assert buffer.exists() and lock.exists()
    assert main(["clean", str(tmp_path)]) == 0
    assert _hidden(tmp_path) == []
    assert "m0.tif" in os.listdir(tmp_path)


def test_clean_leaves_a_live_runs_files(tmp_path, capsys):
    lock = tmp_path / ".m0_vSM.ome.tif.lock"
    lock.write_text(f'{{"pid": {os.getpid()}, "host": "{os.uname().nodename}", "started": 0, "token": "t"}}')
    buffer = tmp_path / ".m0_vSM.ome.tif.partial-abc.buffer"
    buffer.write_bytes(b"\0" * 10)
    old = time.time() - 3600
    os.utime(buffer, (old, old))
    assert main(["clean", str(tmp_path)]) == 0
    assert lock.exists() and buffer.exists()
    assert "being produced by pid" in capsys.readouterr().out


# --------------------------------------------------------------------------- 4: verified re-runs
class WeightedSegmenter(ThresholdSegmenter):
    """The threshold segmenter, reporting the sha256 of a "weights" file like the real segmenters."""

    def __init__(self, weights: str) -> None:
        super().__init__()
        self.weights = weights

    def describe(self) -> dict:
        digest = hashlib.sha256(Path(self.weights).read_bytes()).hexdigest()
        return {**super().describe(), "weights_sha256": digest}

    def segment(self, image) -> SegmentOutput:
        return super().segment(image)


def weighted_segmenter(params) -> WeightedSegmenter:
    return WeightedSegmenter(str(params.extra["weights"]))


@pytest.fixture
def logged_run(tmp_path, monkeypatch):
    monkeypatch.setenv(FACTORY_ENV, f"{__name__}:weighted_segmenter")
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"model v1")
    movie = _movies(tmp_path / "in", n=1, frames=2)[0]
    assert main(["segment", str(movie), "--sam-set", f"weights={weights}", "-q"]) == 0
    return movie, movie.with_name("m0_vSM.log"), weights


def test_rerun_refuses_changed_pixels_same_size(logged_run, tmp_path, capsys):
    movie, log, _ = logged_run
    data = tifffile.imread(movie)
    data[1, 10, 10] += 1  # same size, different pixels
    tifffile.imwrite(movie, data, metadata={"axes": "TYX"}, photometric="minisblack")
    capsys.readouterr()
    status = main(["rerun", str(log), "--suffix", "again", "-q"])
    err = capsys.readouterr().err
    assert status == 1 and "changed" in err and "pixels differ" in err
    assert not movie.with_name("m0_vSM-again.ome.tif").exists()
    status = main(["rerun", str(log), "--suffix", "again", "-q", "--force"])
    err = capsys.readouterr().err
    assert status == 0 and "warning" in err and "pixels differ" in err
    assert "forced re-run" in movie.with_name("m0_vSM-again.log").read_text()


def test_rerun_refuses_changed_size_before_loading(logged_run, capsys):
    movie, log, _ = logged_run
    data = tifffile.imread(movie)
    tifffile.imwrite(movie, data[:1], metadata={"axes": "TYX"}, photometric="minisblack")
    capsys.readouterr()
    assert main(["rerun", str(log), "--suffix", "again", "-q"]) == 2
    assert "changed since the logged run" in capsys.readouterr().err


def test_rerun_refuses_changed_weights(logged_run, capsys):
    movie, log, weights = logged_run
    weights.write_bytes(b"model v2")
    capsys.readouterr()
    assert main(["rerun", str(log), "--suffix", "again", "-q"]) == 1
    assert "model weights changed" in capsys.readouterr().err
    assert not movie.with_name("m0_vSM-again.ome.tif").exists()
    assert main(["rerun", str(log), "--suffix", "again", "-q", "--force"]) == 0


def test_rerun_of_an_unchanged_input_gives_the_same_mask(logged_run):
    movie, log, _ = logged_run
    assert main(["rerun", str(log), "--suffix", "again", "-q"]) == 0
    a = read_mask(movie.with_name("m0_vSM.ome.tif")).labels
    b = read_mask(movie.with_name("m0_vSM-again.ome.tif")).labels
    np.testing.assert_array_equal(a, b)


def test_a_second_signal_stops_at_once_and_still_cleans_up(tmp_path):
    _movies(tmp_path, n=2)
    proc = _start(["segment", str(tmp_path), "--sam-set", "delay=1.0", "-q"])
    _wait_for(lambda: any(".partial-" in n for n in _hidden(tmp_path)))
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)  # inside a 1 s frame: no waiting for it to end
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "Traceback" not in err + out
    assert _hidden(tmp_path) == [] and _masks(tmp_path) == []
