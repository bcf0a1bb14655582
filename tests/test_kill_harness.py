"""Kill harness (issue 9): ``kill -9`` of the ``batchseg`` process at random moments, then check.

Each round starts the CLI (threshold segmenter through ``BATCHSEG_SEGMENTER_FACTORY``, a small delay
per frame) on three movies, in one of five modes: sequential, ``--parallel files``, ``--parallel
frames``, ``--dask-local 2`` (a local cluster the run starts) or ``--dask-scheduler`` (a scheduler and
two workers the harness starts once, as a user's cluster), either on an empty output folder (``skip``)
or over a complete one (``--existing overwrite``), and kills the main process (the Dask client). Every
other pass over the modes the kill is random (a moment between 0 and the time an uninterrupted run of
that mode takes: start-up, segmentation and commits); the others are aimed: the harness watches the
output folder and kills within a few milliseconds of the first ``.partial-`` file appearing, so that
the kill lands while an output is being written. A kill counts as "while an output was in progress"
only when the same partial file is in the folder both just before and just after the kill (it existed
at the kill). Then:

* no worker process outlives it for more than 5 s (times the tests' timing factor, tests/_timing.py);
  on the external cluster, whose workers live on, no task of the killed run is still running 5 s
  later (the scheduler releases a dead client's tasks; they stop between frames);
* every final-named mask is complete (reads back with every frame), and a mask whose log is missing
  or belongs to another run is never taken as done (``engine.output_state``) - a violation otherwise;
* a mask taken as done equals the uninterrupted run's, pixel for pixel;
* the inputs are unchanged;
* the next (uninterrupted) run exits 0, its masks equal the reference, and nothing is left behind
  (no ``.partial-*`` file, no lock);
* in each mode, at least half the aimed kills (and at least one) landed while an output was in progress.

``BATCHSEG_KILLS`` sets the number of rounds of the test (default 5: one aimed kill per mode). As a
script, ``python tests/test_kill_harness.py N SEED [MODES]`` runs N rounds (MODES: comma-separated
names, default all) and prints the figures per mode as JSON; those of long runs are in
docs/reliability.md.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import tifffile

from _timing import time_bound
from napari_batchseg import engine
from napari_batchseg.cli import FACTORY_ENV
from napari_batchseg.io.atomic import PARTIAL_MARK
from napari_batchseg.io.masks import read_mask
from napari_batchseg.params import SegmentationParams

pytestmark = pytest.mark.slow

MODES = {
    "sequential": [],
    "files": ["--parallel", "files", "--processes", "2"],
    "frames": ["--parallel", "frames", "--processes", "2"],
    "dask-local": ["--dask-local", "2"],
    "dask-cluster": ["--dask-scheduler"],  # + the address of the harness's cluster
}
N_FRAMES = 6


def _cli(args: list[str]) -> subprocess.Popen:
    env = dict(os.environ, **{FACTORY_ENV: "napari_batchseg.testing:threshold_segmenter"})
    return subprocess.Popen([sys.executable, "-m", "napari_batchseg.cli", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _args(inp: Path, out: Path, mode: list[str], overwrite: bool) -> list[str]:
    args = ["segment", str(inp), "--output-dir", str(out), "--sam-set", "delay=0.08", "-q", *mode]
    if overwrite:
        args += ["--existing", "overwrite"]
    return args


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _partials(folder: Path) -> set[str]:
    """Names of the temporary (``.<output>.partial-*``) files in ``folder``."""
    try:
        return {e.name for e in os.scandir(folder) if e.name.startswith(".") and PARTIAL_MARK in e.name}
    except OSError:
        return set()


def _wait_for_partial(proc: subprocess.Popen, out: Path, timeout: float) -> bool:
    """Poll ``out`` until a partial file appears (``True``), the run ends or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if _partials(out):
            return True
        time.sleep(0.002)
    return False


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _check_outputs(inp: Path, out: Path, reference: dict[str, np.ndarray]) -> tuple[list[str], Counter]:
    """Violations, and what the kill left (complete, incomplete-but-detected, leftovers)."""
    violations: list[str] = []
    seen: Counter = Counter()
    params = SegmentationParams(output_dir=str(out))
    for task in engine.plan([inp], params).tasks:
        mask = task.names.mask
        if not mask.exists():
            seen["absent"] += 1
            continue
        try:
            labels = read_mask(mask).labels
        except Exception as exc:  # noqa: BLE001
            violations.append(f"{mask.name}: unreadable final file ({exc})")
            continue
        if labels.shape != reference[mask.name].shape:
            violations.append(f"{mask.name}: incomplete, shape {labels.shape}")
            continue
        state, _ = engine.output_state(task)
        seen[state] += 1
        if state == "done" and not np.array_equal(labels, reference[mask.name]):
            violations.append(f"{mask.name}: taken as done but differs from the reference")
    seen["leftovers"] = sum(1 for p in out.iterdir() if p.name.startswith("."))
    return violations, seen


def _reference(tmp_path: Path, inp: Path) -> tuple[dict[str, np.ndarray], float]:
    ref = tmp_path / "reference"
    t0 = time.monotonic()
    proc = _cli(_args(inp, ref, [], False))
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return {p.name: read_mask(p).labels for p in ref.glob("*_vSM.ome.tif")}, time.monotonic() - t0


class _Cluster:
    """A Dask scheduler and two one-thread workers on this host, started as a user would start them."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir()
        self.file = folder / "scheduler.json"
        cmd = [sys.executable, "-m", "distributed.cli.dask_scheduler", "--scheduler-file", str(self.file),
               "--port", "0", "--dashboard-address", ":0"]
        log = open(folder / "cluster.log", "w")  # noqa: SIM115 - kept open with the processes
        self.procs = [subprocess.Popen(cmd, stdout=log, stderr=log, cwd=folder)]
        deadline = time.monotonic() + 120
        while not self.file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.procs.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", str(self.file),
             "--nworkers", "2", "--nthreads", "1", "--no-dashboard"], stdout=log, stderr=log, cwd=folder))
        from distributed import Client

        self.client = Client(scheduler_file=str(self.file), timeout=120)
        self.client.wait_for_workers(2, timeout=120)
        self.address = self.client.scheduler.address

    def tasks_running(self) -> int:
        """Tasks still running on the workers (executing, or released but not yet returned)."""
        running = ("executing", "long-running", "cancelled")
        counts = self.client.run(lambda dask_worker: sum(
            1 for ts in dask_worker.state.tasks.values() if ts.state in running))
        return sum(counts.values())

    def close(self) -> None:
        self.client.close()
        for proc in reversed(self.procs):
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def run_harness(tmp_path: Path, rounds: int, seed: int = 0,
                modes: tuple[str, ...] = tuple(MODES)) -> dict[str, object]:
    """Run ``rounds`` kill rounds over ``modes``; return the figures per mode (asserted by the test)."""
    rng = random.Random(seed)
    inp = tmp_path / "in"
    inp.mkdir()
    data_rng = np.random.default_rng(seed)
    for i in range(3):
        data = (data_rng.random((N_FRAMES, 64, 64)) * 1000).astype(np.uint16)
        tifffile.imwrite(inp / f"movie{i}.tif", data, metadata={"axes": "TYX"}, photometric="minisblack")
    inputs_before = _digest(inp)
    reference, duration = _reference(tmp_path, inp)
    cluster = _Cluster(tmp_path / "cluster") if "dask-cluster" in modes[:rounds] else None
    durations: dict[str, float] = {"sequential": duration}
    figures: dict[str, Counter] = {m: Counter() for m in modes[:rounds]}
    violations: list[str] = []
    try:
        for r in range(rounds):
            name = modes[r % len(modes)]
            mode = MODES[name] + ([cluster.address] if name == "dask-cluster" and cluster else [])
            passes = r // len(modes)
            aimed = passes % 2 == 0
            overwrite = (passes // 2 + r % len(modes)) % 2 == 1
            if not aimed and name not in durations:  # an uninterrupted run of this mode, timed once
                t0 = time.monotonic()
                proc = _cli(_args(inp, tmp_path / f"timed-{name}", mode, False))
                _, err = proc.communicate(timeout=300)
                durations[name] = time.monotonic() - t0
                shutil.rmtree(tmp_path / f"timed-{name}", ignore_errors=True)
                if proc.returncode != 0:
                    violations.append(f"{name}: an uninterrupted run exited {proc.returncode}: {err[-500:]}")
            bad = _round(tmp_path / f"out{r}", inp, mode, overwrite, aimed, rng,
                         durations.get(name, duration), duration, reference, figures[name], cluster)
            violations += [f"round {r} ({name}, {'overwrite' if overwrite else 'skip'}): {v}" for v in bad]
            figures[name]["violations"] += len(bad)
    finally:
        if cluster is not None:
            cluster.close()
    if _digest(inp) != inputs_before:
        violations.append("an input file changed")
    return {"modes": {m: dict(f) for m, f in figures.items()}, "violations": violations,
            "reference_seconds": round(duration, 2),
            "uninterrupted_seconds": {m: round(d, 2) for m, d in durations.items()}}


def _round(out: Path, inp: Path, mode: list[str], overwrite: bool, aimed: bool, rng: random.Random,
           duration: float, ref_duration: float, reference: dict[str, np.ndarray], figures: Counter,
           cluster: _Cluster | None) -> list[str]:
    """One kill and its checks; returns the violations, adds to ``figures``."""
    violations: list[str] = []
    if overwrite:
        shutil.copytree(out.parent / "reference", out)
    proc = _cli(_args(inp, out, mode, overwrite))
    if aimed:
        figures["aimed kills"] += 1
        if _wait_for_partial(proc, out, timeout=ref_duration * 3 + 60):
            time.sleep(rng.uniform(0.0, 0.02))
    else:
        time.sleep(rng.uniform(0.0, duration))
    workers = _children(proc.pid)
    names = [p.name for p in out.iterdir()] if out.exists() else []
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
        figures["kills"] += 1
        if _partials(out) & {n for n in names if PARTIAL_MARK in n}:
            figures["kills while an output was in progress"] += 1
            figures["aimed kills while an output was in progress"] += aimed
        elif any(n.startswith(".") for n in names):
            figures["kills while a lock was held"] += 1
        elif overwrite or not names:
            figures["kills in start-up (or between outputs of an overwrite)"] += 1
        else:
            figures["kills between outputs"] += 1
    else:
        figures["finished before the kill"] += 1
    proc.wait()
    killed_at = time.monotonic()
    deadline = killed_at + time_bound(5)
    while any(_running(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    orphans = [w for w in workers if _running(w)]
    if orphans:
        violations.append(f"worker(s) {orphans} outlived the killed run")
        for w in orphans:
            os.kill(w, signal.SIGKILL)
    if cluster is not None:
        while cluster.tasks_running() and time.monotonic() < deadline:
            time.sleep(0.05)
        if cluster.tasks_running():
            violations.append("a task of the killed run still runs on the cluster")
            while cluster.tasks_running():  # let it end, so that the checks below see a still folder
                time.sleep(0.2)
    survival = "longest survival of a worker or task (s, x100)"
    figures[survival] = max(figures[survival], round(100 * (time.monotonic() - killed_at)))
    bad, seen = _check_outputs(inp, out, reference)
    violations += bad
    for key, n in seen.items():
        figures[f"after kill: {key}"] += n
    figures["rounds with leftovers after the kill"] += bool(seen["leftovers"])
    again = _cli(_args(inp, out, mode, False))
    _, err = again.communicate(timeout=300)
    if again.returncode != 0:
        violations.append(f"the re-run exited {again.returncode}: {err[-500:]}")
    for name, labels in reference.items():
        if not (out / name).exists() or not np.array_equal(read_mask(out / name).labels, labels):
            violations.append(f"after the re-run {name} differs from the reference")
        else:
            figures["re-run outputs identical"] += 1
    left = sorted(p.name for p in out.iterdir() if p.name.startswith("."))
    if left:
        violations.append(f"leftovers after the re-run: {left}")
        figures["leftovers after the re-run"] += len(left)
    shutil.rmtree(out)
    return violations


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds worker processes through /proc")
def test_kill_harness(tmp_path):
    rounds = int(os.environ.get("BATCHSEG_KILLS", str(len(MODES))))
    result = run_harness(tmp_path, rounds, seed=int(os.environ.get("BATCHSEG_KILL_SEED", "0")))
    print(result)
    assert result["violations"] == []
    for name, figures in result["modes"].items():
        assert figures.get("leftovers after the re-run", 0) == 0, name
        aimed = figures.get("aimed kills", 0)
        landed = figures.get("aimed kills while an output was in progress", 0)
        if aimed:
            assert landed >= max(1, aimed // 2), (name, figures)


if __name__ == "__main__":  # python tests/test_kill_harness.py ROUNDS [SEED [MODES]]: figures for the docs
    import json
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
        seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
        chosen = tuple(sys.argv[3].split(",")) if len(sys.argv) > 3 else tuple(MODES)
        t0 = time.monotonic()
        result = run_harness(Path(tmp), n, seed, chosen)
        result["seconds"] = round(time.monotonic() - t0)
        result["load average at the end"] = os.getloadavg()
        print(json.dumps(result, indent=1))
