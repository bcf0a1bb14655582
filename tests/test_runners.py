"""Runners: every way of spreading a batch gives the same masks, pixel for pixel, as a sequential run.

The identity tests use the project's own Cellpose model on real nuclei (DSB2018 crops made into short
movies). Crash and cancel timing use :mod:`napari_batchseg.testing`'s threshold segmenter (a cheap
real segmentation, slowed down on purpose) and its variant in ``tests/_crashing.py`` that kills its
worker on demand.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile

from _crashing import crashing_segmenter
from _microsam_fixtures import needs_sam
from _timing import time_bound
from napari_batchseg import engine
from napari_batchseg.io.masks import read_mask
from napari_batchseg.params import ParameterError, SegmentationParams
from napari_batchseg.runners import RunOptions, execute, resolve_options
from napari_batchseg.runners.batching import BatchedFrames
from napari_batchseg.segmenters.cellpose import cellpose_eval_batch
from napari_batchseg.testing import threshold_segmenter

STARTER = Path(__file__).resolve().parents[1] / "examples" / "models" / "batchseg_nuclei_cp3"
SIZE = 96  # small planes keep Cellpose fast on 2 shared cores


# --------------------------------------------------------------------------- data
@pytest.fixture(scope="module")
def nuclei(dsb2018) -> np.ndarray:
    return tifffile.imread(dsb2018[0])


def _movie(path: Path, plane: np.ndarray, n: int) -> Path:
    ops = [lambda a: a, np.fliplr, np.flipud, np.rot90, lambda a: np.rot90(a, 2), lambda a: np.rot90(a, 3)]
    frames = np.stack([ops[i % len(ops)](plane) for i in range(n)]).astype(np.uint16)
    tifffile.imwrite(path, frames, ome=True, metadata={"axes": "TYX"})
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory, nuclei) -> Path:
    """Three 2-frame movies cut from different places of a real nuclei image, plus one broken file."""
    d = tmp_path_factory.mktemp("runner_inputs")
    corners = [(2 * SIZE, 0), (4 * SIZE, SIZE), (0, 2 * SIZE)]  # places with several nuclei
    for i, (y, x) in enumerate(corners):
        _movie(d / f"movie{i}.ome.tif", nuclei[y:y + SIZE, x:x + SIZE], 2)
    (d / "broken.tif").write_bytes(b"II*\x00" + b"\x00" * 20)
    return d


def _params(out: Path, **kw) -> SegmentationParams:
    return SegmentationParams(model=str(STARTER), output_dir=str(out), **kw)


def _summary(events) -> dict[str, list]:
    out: dict[str, list] = {}
    for e in events:
        out.setdefault(type(e).__name__, []).append(e)
    return out


def _masks(folder: Path) -> dict[str, np.ndarray]:
    return {p.name: read_mask(p).labels for p in sorted(folder.glob("*_vSM.ome.tif"))}


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --------------------------------------------------------------------------- options
def test_options_are_validated(monkeypatch):
    with pytest.raises(ParameterError, match="parallel"):
        RunOptions(parallel="threads")
    with pytest.raises(ParameterError, match="processes"):
        RunOptions(parallel="files", processes=0)
    with pytest.raises(ParameterError, match="not both"):
        RunOptions(dask_scheduler="tcp://x:1", dask_local=2)
    assert RunOptions(parallel="files", processes=1).mode == "none"
    assert RunOptions(parallel="frames", processes=2).mode == "frames"
    assert RunOptions(dask_local=2).mode == "dask"
    # threads per process: the usable cores shared out (at least 1), unless given
    import napari_batchseg.runners.options as runners  # where the option rules live

    monkeypatch.setattr(runners, "usable_cores", lambda: 8)
    auto = RunOptions(parallel="files", processes=2, threads_per_process=None)
    assert (auto.threads(), auto.threads(2), auto.threads(3), auto.threads(16)) == (4, 4, 2, 1)
    assert RunOptions(parallel="files", processes=2, threads_per_process=3).threads(2) == 3


def test_gpu_runs_stay_in_one_process(monkeypatch):
    import napari_batchseg.runners.options as runners  # where the option rules live

    monkeypatch.setattr(runners, "gpu_in_use", lambda params: True)
    opts = resolve_options(RunOptions(parallel="files", processes=4), SegmentationParams(batch_size=6))
    assert opts.mode == "none" and opts.batch_frames == 1 and opts.prefetch >= 2  # identity default
    assert "GPU" in opts.notes[0]
    fast = resolve_options(RunOptions(parallel="files", processes=4, batch_frames=6),
                           SegmentationParams(batch_size=6))
    assert fast.mode == "none" and fast.batch_frames == 6 and fast.prefetch >= 7
    monkeypatch.setattr(runners, "gpu_in_use", lambda params: False)
    cpu = resolve_options(RunOptions(parallel="frames", processes=2), SegmentationParams())
    assert cpu.mode == "frames" and cpu.batch_frames == 1 and cpu.prefetch == 4


def test_one_frame_per_call_by_default_on_every_device_batching_only_when_named(monkeypatch):
    """Issue 25: batched GPU masks differ from frame-by-frame ones, so identity is the default."""
    import napari_batchseg.runners.options as runners
    from napari_batchseg.runners._worker import frame_segmenter_for

    assert [runners.frames_per_call(n) for n in (None, 1, 3)] == [1, 1, 3]
    monkeypatch.setattr(runners, "usable_cores", lambda: 16)
    for on_gpu in (True, False):
        monkeypatch.setattr(runners, "gpu_in_use", lambda params, on=on_gpu: on)
        params = SegmentationParams(gpu=on_gpu, batch_size=8)
        default = resolve_options(RunOptions(), params)
        assert default.batch_frames == 1, on_gpu
        assert not any("fast mode" in n for n in default.notes)
        fast = resolve_options(RunOptions(batch_frames=2), params)
        assert fast.batch_frames == 2
        assert any(n.startswith("fast mode --batch-frames 2:") and "may differ" in n for n in fast.notes)
        # a worker process (files pool, Dask) decides the same way, whatever the device
        worker = frame_segmenter_for(threshold_segmenter(params), params, None)
        assert isinstance(worker, BatchedFrames) and worker.describe()["frames_per_call"] == 1
        assert "fast_mode" not in worker.describe()
    on_cpu_masks = resolve_options(RunOptions(masks_on="cpu"), SegmentationParams(gpu=True))
    assert on_cpu_masks.mask_workers == 0 and not any("fast mode" in n for n in on_cpu_masks.notes)
    monkeypatch.setattr(runners, "gpu_in_use", lambda params: True)
    gpu_cpu_masks = resolve_options(RunOptions(masks_on="cpu"), SegmentationParams(gpu=True))
    assert gpu_cpu_masks.batch_frames == 1 and gpu_cpu_masks.mask_workers > 0
    assert any(n.startswith("fast mode --masks-on cpu") for n in gpu_cpu_masks.notes)


@pytest.mark.cp3  # the project's Cellpose 3 model
def test_batched_frames_groups_equal_shapes_in_order():
    from napari_batchseg.prepare import PreparedFrame
    from napari_batchseg.segmenters import SegmenterBase, SegmentOutput

    calls = []

    class Recorder(SegmenterBase):
        name = "rec"
        batch_size = 3

        def describe(self):
            return {}

        def segment(self, image):
            calls.append(1)
            return SegmentOutput(np.full(image.shape, int(image[0, 0]), np.uint32))

        def segment_batch(self, images):
            calls.append(len(images))
            return [SegmentOutput(np.full(im.shape, int(im[0, 0]), np.uint32)) for im in images]

    shapes = [(4, 4)] * 5 + [(4, 6)] * 2 + [(4, 4)]
    frames = [PreparedFrame(0, t, np.full(s, t, np.float32), 0) for t, s in enumerate(shapes)]
    task = engine.Task(Path("x.tif"), 0, 1, None)  # type: ignore[arg-type]
    out = list(BatchedFrames(Recorder(), 3)(task, iter(frames)))
    assert [f.t for f, _, _ in out] == list(range(8))
    assert [int(o.labels[0, 0]) for _, o, _ in out] == list(range(8))
    assert calls == [3, 2, 2, 1]  # [0,1,2] [3,4] [5,6] (new shape) then frame 7 alone (segment)


@pytest.mark.parametrize("batch", [1, 2])
def test_a_full_group_is_segmented_before_the_next_frame_is_read(batch):
    """A cancel seen between frames stops at once: no frame is read ahead of a full group."""
    from napari_batchseg.prepare import PreparedFrame
    from napari_batchseg.segmenters import SegmenterBase, SegmentOutput

    log: list[str] = []

    class Recorder(SegmenterBase):
        name = "rec"
        batch_size = 4

        def describe(self):
            return {}

        def segment(self, image):
            log.append(f"seg{int(image[0, 0])}")
            return SegmentOutput(np.zeros(image.shape, np.uint32))

        def segment_batch(self, images):
            log.append("seg" + "+".join(str(int(im[0, 0])) for im in images))
            return [SegmentOutput(np.zeros(im.shape, np.uint32)) for im in images]

    def frames():
        for t in range(4):
            log.append(f"read{t}")
            yield PreparedFrame(0, t, np.full((4, 4), t, np.float32), 0)

    task = engine.Task(Path("x.tif"), 0, 1, None)  # type: ignore[arg-type]
    out = BatchedFrames(Recorder(), batch)(task, frames())
    next(out)
    if batch == 1:
        assert log == ["read0", "seg0"]
    else:
        assert log == ["read0", "read1", "seg0+1"]


# --------------------------------------------------------------------------- Cellpose identity
@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0")
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def reference(folder, tmp_path_factory) -> tuple[SegmentationParams, dict[str, np.ndarray]]:
    """The sequential run everything is compared with."""
    assert STARTER.exists(), f"the project's starter model is missing: {STARTER}"
    out = tmp_path_factory.mktemp("ref")
    params = _params(out)
    events = _summary(execute(engine.plan([folder], params), RunOptions()))
    assert len(events["TaskDone"]) == 3 and len(events["TaskFailed"]) == 1
    masks = _masks(out)
    assert len(masks) == 3
    assert all(m.shape == (2, SIZE, SIZE) for m in masks.values())
    assert all(m.max() >= 3 for m in masks.values()), "the model found (almost) no nuclei"
    return params, masks


@pytest.mark.parametrize(
    "options",
    [
        RunOptions(parallel="files", processes=2),
        RunOptions(parallel="frames", processes=2),
        RunOptions(batch_frames=2),
    ],
    ids=["files", "frames", "batched"],
)
@pytest.mark.cp3  # the project's Cellpose 3 model
def test_modes_give_identical_masks(folder, reference, tmp_path, options):
    params, expected = reference
    p = params.replace(output_dir=str(tmp_path))
    events = _summary(execute(engine.plan([folder], p), options))
    assert len(events["TaskDone"]) == 3
    (failed,) = events["TaskFailed"]
    assert "broken.tif" in failed.reason
    assert len(events["FrameDone"]) == 6
    got = _masks(tmp_path)
    assert got.keys() == expected.keys()
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    logs = sorted(tmp_path.glob("*.log"))
    assert len(logs) == 3 and all("cellpose" in p.read_text() for p in logs)
    # batching can change GPU results in the last bits: the log says how frames went to the network
    batched = options.batch_frames == 2
    assert all(('"frames_per_call": 2' in p.read_text()) == batched for p in logs)
    assert all(('"fast_mode"' in p.read_text()) == batched for p in logs)  # the fast mode is named
    if options.mode == "files":  # a worker's frame segmenter: one frame per call by default, logged
        assert all('"frames_per_call": 1' in p.read_text() for p in logs)


@pytest.mark.cp3  # the project's Cellpose 3 model
def test_dask_cluster_identical_then_skips(folder, reference, tmp_path, dask_client):
    params, expected = reference
    p = params.replace(output_dir=str(tmp_path))
    the_plan = engine.plan([folder], p)
    options = RunOptions(dask_scheduler=dask_client)
    events = _summary(execute(the_plan, options))
    assert len(events["TaskDone"]) == 3 and len(events["FrameDone"]) == 6
    assert "broken.tif" in events["TaskFailed"][0].reason
    assert {e.task.label for e in events["TaskDone"]} == {f"movie{i}.ome.tif" for i in range(3)}
    got = _masks(tmp_path)
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    again = _summary(execute(the_plan, options))
    assert len(again["TaskSkipped"]) == 3 and "TaskDone" not in again


@pytest.mark.cp3  # the project's Cellpose 3 model
@pytest.mark.cp3  # the project's Cellpose 3 model
def test_one_eval_call_for_several_frames_equals_frame_by_frame(nuclei):
    from napari_batchseg.segmenters import load_segmenter

    seg = load_segmenter(SegmentationParams(model=str(STARTER), debug=True))
    images = [nuclei[2 * SIZE:3 * SIZE, :SIZE], nuclei[4 * SIZE:5 * SIZE, SIZE:2 * SIZE],
              np.fliplr(nuclei[:SIZE, 2 * SIZE:3 * SIZE]),
              nuclei[:SIZE + 8, :SIZE]]  # the last one has another shape: segmented on its own
    images = [im.astype(np.float32) for im in images]
    batched = seg.segment_batch(images)
    assert [o.info.get("batched") for o in batched] == [3, 3, 3, None]
    for image, out in zip(images, batched, strict=True):
        single = seg.segment(image)
        assert single.labels.max() > 0
        np.testing.assert_array_equal(out.labels, single.labels)
        # the network's float output may differ in the last bit with the batch size (oneDNN picks
        # kernels by batch shape): the 8-bit flow picture may then differ by 1 here and there
        rgb_diff = np.abs(out.debug["flows"].astype(int) - single.debug["flows"].astype(int))
        assert rgb_diff.max() <= 1 and np.count_nonzero(rgb_diff) <= rgb_diff.size // 1000
        np.testing.assert_allclose(out.debug["cellprob"], single.debug["cellprob"], atol=1e-4)
    masks, flows = cellpose_eval_batch(seg.model, images[:2], diameter=None, batch_size=8)
    assert len(masks) == 2 and flows[0][1].shape == (2, SIZE, SIZE)
    with pytest.raises(ValueError, match="one shape"):
        cellpose_eval_batch(seg.model, images[2:])


# --------------------------------------------------------------------------- failures, re-runs, cancel
@pytest.fixture(scope="module")
def slow_folder(tmp_path_factory, nuclei) -> Path:
    d = tmp_path_factory.mktemp("slow_inputs")
    for i in range(3):
        _movie(d / f"slow{i}.ome.tif", nuclei[i * 64:(i + 1) * 64, :64], 8)
    return d


def _threshold_params(out: Path, **extra) -> SegmentationParams:
    return SegmentationParams(output_dir=str(out), extra=extra)


@pytest.mark.parametrize("mode", ["files", "frames"])
def test_threshold_modes_match_sequential_and_rerun_skips(slow_folder, tmp_path, mode):
    ref_dir, par_dir = tmp_path / "ref", tmp_path / "par"
    factory = {"segmenter_factory": threshold_segmenter}
    list(execute(engine.plan([slow_folder], _threshold_params(ref_dir)), RunOptions(**factory)))
    the_plan = engine.plan([slow_folder], _threshold_params(par_dir))
    events = _summary(execute(the_plan, RunOptions(parallel=mode, processes=2, **factory)))
    assert len(events["TaskDone"]) == 3 and len(events["FrameDone"]) == 24
    expected, got = _masks(ref_dir), _masks(par_dir)
    assert expected.keys() == got.keys() and len(got) == 3
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name])
    again = _summary(execute(the_plan, RunOptions(parallel=mode, processes=2, **factory)))
    # only skips: no model loaded, no output started (Planned opens every run's event stream)
    assert len(again["TaskSkipped"]) == 3 and set(again) == {"Planned", "TaskSkipped"}


_FINAL = (engine.TaskDone, engine.TaskSkipped, engine.TaskFailed, engine.TaskCancelled)


def _cancel_after_first_frame(the_plan, options):
    cancel = threading.Event()
    events = []
    for e in execute(the_plan, options, cancel=cancel):
        events.append(e)
        if isinstance(e, engine.FrameDone):
            cancel.set()
    # every output is accounted for, exactly once: no file silently goes missing
    finals = sorted(e.task.key for e in events if isinstance(e, _FINAL))
    assert finals == sorted(t.key for t in the_plan.tasks)
    return _summary(events)


@pytest.mark.parametrize("mode", ["none", "files", "frames"])
def test_cancel_leaves_no_partial_file(slow_folder, tmp_path, mode):
    out = tmp_path / "out"
    the_plan = engine.plan([slow_folder], _threshold_params(out, delay=0.15))
    events = _cancel_after_first_frame(
        the_plan, RunOptions(parallel=mode, processes=2, segmenter_factory=threshold_segmenter)
    )
    assert events.get("TaskCancelled"), events.keys()
    assert "TaskDone" not in events
    assert _leftovers(out) == []


def _with_killer(slow_folder: Path, tmp_path: Path, side: int, frames: int) -> Path:
    """The slow inputs and ``killer.ome.tif``, whose frames make the crashing segmenter kill its process."""
    crash_dir = tmp_path / "in"
    crash_dir.mkdir()
    for p in slow_folder.glob("*.ome.tif"):
        (crash_dir / p.name).write_bytes(p.read_bytes())
    plane = np.full((side, side), 100, np.uint16)
    plane[10:20, 10:20] = 4321  # the test segmenter kills its process on a frame whose maximum is 4321
    _movie(crash_dir / "killer.ome.tif", plane, frames)
    return crash_dir


def _files_run_with_killer(crash_dir: Path, out: Path, keep_images: bool = False, **extra) -> dict[str, list]:
    """A two-worker ``files`` run of ``crash_dir``; fails (instead of hanging) when it does not end."""
    the_plan = engine.plan([crash_dir], _threshold_params(out, crash_on=4321, **extra))
    options = RunOptions(parallel="files", processes=2, segmenter_factory=crashing_segmenter)
    result: dict[str, Any] = {}

    def run() -> None:
        result["events"] = _summary(execute(the_plan, options, keep_images=keep_images))

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    runner.join(time_bound(240))
    assert not runner.is_alive(), "the run hung after a worker was killed"
    events: dict[str, list] = result["events"]
    (failed,) = events["TaskFailed"]
    assert failed.task.input.name == "killer.ome.tif" and "worker process died" in failed.reason
    assert sorted(e.task.input.name for e in events["TaskDone"]) == [f"slow{i}.ome.tif" for i in range(3)]
    assert sorted(p.name for p in out.glob("*.ome.tif")) == [f"slow{i}_vSM.ome.tif" for i in range(3)]
    return events


def test_dead_worker_fails_only_its_file(slow_folder, tmp_path, nuclei):
    _files_run_with_killer(_with_killer(slow_folder, tmp_path, 64, 2), tmp_path / "out")


@pytest.mark.parametrize("kill_after", [0.0, 0.005, 0.02, 0.06])
def test_a_worker_killed_while_sending_fails_only_its_file(slow_folder, tmp_path, kill_after):
    """Killed at any moment, even in the middle of a large message, a worker blocks no one.

    The killer's frames are large and sent with their arrays (``keep_images``). With one queue shared
    by every worker, a worker killed while its feeder thread held the queue's write lock blocked the
    other workers and the run forever (seen in CI).
    """
    _files_run_with_killer(_with_killer(slow_folder, tmp_path, 2048, 3), tmp_path / "out", keep_images=True,
                           kill_after=kill_after, delay=0.05)


def test_dask_failures_progress_and_cancel(slow_folder, folder, tmp_path, dask_client):
    out = tmp_path / "out"
    the_plan = engine.plan([slow_folder, folder / "broken.tif"], _threshold_params(out, delay=0.15))
    opts = RunOptions(dask_scheduler=dask_client, segmenter_factory=threshold_segmenter)
    events = _cancel_after_first_frame(the_plan, opts)
    assert "broken.tif" in events["TaskFailed"][0].reason
    assert events.get("TaskCancelled") and "TaskDone" not in events
    assert _leftovers(out) == []
    # and a normal run afterwards, on a cluster of its own (--dask-local): progress events stream in,
    # every output lands
    ref = tmp_path / "ref"
    list(execute(engine.plan([slow_folder], _threshold_params(ref)),
                 RunOptions(segmenter_factory=threshold_segmenter)))
    done = _summary(execute(the_plan, RunOptions(dask_local=2, segmenter_factory=threshold_segmenter)))
    assert len(done["TaskDone"]) == 3 and len(done["FrameDone"]) == 24 and len(done["TaskStarted"]) == 3
    got, expected = _masks(out), _masks(ref)
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name])


@pytest.mark.cp3  # the project's Cellpose 3 model
def test_python_api_runs_with_worker_processes(folder, reference, tmp_path):
    from napari_batchseg.api import segment_files

    params, expected = reference
    summary = segment_files([folder], params.replace(output_dir=str(tmp_path)),
                            options=RunOptions(parallel="files", processes=2))
    assert sorted(r.status for r in summary.reports) == ["done", "done", "done", "failed"]
    got = _masks(tmp_path)
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)



@needs_sam
def test_files_worker_model_error_is_reported_whole_as_in_a_sequential_run(tmp_path, monkeypatch):
    """A worker's model error kept only its first line: the offline recipe (file names and download
    addresses) that a sequential run prints was lost under ``--parallel files``."""
    from napari_batchseg.events import RunFailed

    monkeypatch.setenv("MICROSAM_CACHEDIR", str(tmp_path / "empty"))  # the workers inherit both
    monkeypatch.setenv("BATCHSEG_OFFLINE", "1")
    tifffile.imwrite(tmp_path / "a.tif", np.zeros((32, 32), np.uint16))
    params = SegmentationParams(method="sam", model="vit_b_lm", output_dir=str(tmp_path / "out"))

    def refusal(options: RunOptions) -> str:
        (failed,) = _summary(execute(engine.plan([tmp_path / "a.tif"], params), options))["RunFailed"]
        assert isinstance(failed, RunFailed)
        return failed.message

    sequential = refusal(RunOptions())
    assert str(tmp_path / "empty" / "models" / "vit_b_lm") in sequential and "https://" in sequential
    assert refusal(RunOptions(parallel="files", processes=2)) == sequential

# --------------------------------------------------------------------------- issue 22: a batch must end
# These run in a child process with a hard timeout: before the fix they hung forever.
def _child_env(**extra: str) -> dict[str, str]:
    import os

    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), env.get("PYTHONPATH", "")])
    return env


def _run_child(args: list[str], timeout: float, **env: str):
    """Start a child process in its own group; its ``wait()`` kills the group and fails on a hang."""
    import os
    import signal
    import subprocess

    proc = subprocess.Popen(args, env=_child_env(**env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    return proc, lambda: _communicate_or_fail(proc, timeout, os, signal, subprocess)


def _communicate_or_fail(proc, timeout, os, signal, subprocess):
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"the run did not end within {timeout:.0f} s (a hang):\n{out}\n{err[-2000:]}")


def _spawned_workers(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
            if stat and int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                if "spawn_main" in (entry / "cmdline").read_text():
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def _threshold_cli(folder: Path, n_frames: int, timeout: float):
    """``batchseg segment`` of three movies in ``--parallel frames --processes 2``, as a child process."""
    import sys

    rng = np.random.default_rng(0)
    for i in range(3):
        tifffile.imwrite(folder / f"m{i}.tif", (rng.random((n_frames, 64, 64)) * 1000).astype(np.uint16),
                         metadata={"axes": "TYX"}, photometric="minisblack")
    return _run_child([sys.executable, "-m", "napari_batchseg.cli", "segment", str(folder), "--sam-set",
                       "delay=0.25", "--parallel", "frames", "--processes", "2"], timeout=timeout,
                      BATCHSEG_SEGMENTER_FACTORY="napari_batchseg.testing:threshold_segmenter")


def _wait_for_workers(pid: int, n: int) -> list[int]:
    import time

    deadline = time.monotonic() + 60
    while len(found := _spawned_workers(pid)) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the workers")
def test_frames_worker_killed_mid_run_fails_one_output_and_the_run_ends(tmp_path):
    import os
    import signal
    import time

    proc, wait = _threshold_cli(tmp_path, 8, timeout=150)
    workers = sorted(_wait_for_workers(proc.pid, 2))
    time.sleep(1.0)  # both are segmenting frames of the first output
    os.kill(workers[-1], signal.SIGKILL)  # what the out-of-memory killer does (the last started: it hung)
    _, err = wait()
    err = " ".join(err.split())
    assert proc.returncode == 1, err[-2000:]
    assert "2 done, 0 skipped, 1 failed" in err and "worker process died" in err, err[-2000:]
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert len(list(tmp_path.glob("*_vSM.ome.tif"))) == 2


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to see the workers start")
@pytest.mark.parametrize(("sig", "code", "workers"), [
    ("SIGTERM", 143, 1), ("SIGINT", 130, 1), ("SIGTERM", 143, 2), ("SIGINT", 130, 2),
])
def test_frames_signal_to_the_group_while_workers_start_ends_the_run(tmp_path, sig, code, workers):
    import os
    import signal

    proc, wait = _threshold_cli(tmp_path, 6, timeout=90)
    _wait_for_workers(proc.pid, workers)  # the signal comes while that worker is still importing
    os.killpg(proc.pid, getattr(signal, sig))
    _, err = wait()
    err = " ".join(err.split())
    assert proc.returncode == code, err[-2000:]
    assert "Traceback" not in err and f"stopped by {sig}" in err
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize("mode", ["files", "frames"])
def test_processes_are_capped_to_the_cores_and_memory_naming_the_limit(mode):
    from napari_batchseg.runners.options import process_limit, usable_cores

    limit, why = process_limit()
    assert 1 <= limit <= usable_cores()
    opts = resolve_options(RunOptions(parallel=mode, processes=usable_cores() + 6), SegmentationParams())
    assert opts.processes == limit
    assert any(f"--processes {usable_cores() + 6} reduced to {limit}" in n and why in n for n in opts.notes)
    within = resolve_options(RunOptions(parallel=mode, processes=limit), SegmentationParams())
    assert within.processes == limit and not any("reduced" in n for n in within.notes)


def _dask_local_run_under_way(tmp_path: Path, timeout: float) -> tuple[Any, Any]:
    """A ``--dask-local 2`` CLI run of three slow movies, once an output is under way: ``(proc, wait)``."""
    import sys
    import time

    pytest.importorskip("distributed")
    rng = np.random.default_rng(0)
    for i in range(3):
        tifffile.imwrite(tmp_path / f"m{i}.tif", (rng.random((8, 64, 64)) * 1000).astype(np.uint16),
                         metadata={"axes": "TYX"}, photometric="minisblack")
    proc, wait = _run_child([sys.executable, "-m", "napari_batchseg.cli", "segment", str(tmp_path),
                             "--sam-set", "delay=0.3", "--dask-local", "2", "-q"], timeout=timeout,
                            BATCHSEG_SEGMENTER_FACTORY="napari_batchseg.testing:threshold_segmenter")
    deadline = time.monotonic() + 90
    while not any(".partial-" in p.name for p in tmp_path.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert any(".partial-" in p.name for p in tmp_path.iterdir()), "no output was under way"
    return proc, wait


def _signal_dask_local_group(tmp_path: Path, sig: int, timeout: float = 120) -> tuple[str, float]:
    """A ``--dask-local 2`` CLI run, ``sig`` sent to its whole process group inside an output.

    Returns the run's stderr (one line) and the seconds from the signal to its end.
    """
    import os
    import time

    proc, wait = _dask_local_run_under_way(tmp_path, timeout)
    time.sleep(0.5)
    os.killpg(proc.pid, sig)
    signalled = time.monotonic()
    _, err = wait()
    err = " ".join(err.split())
    assert proc.returncode == 128 + sig and "nothing partial was kept" in err, err[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    return err, time.monotonic() - signalled


def test_dask_local_run_sigtermed_as_a_group_keeps_nothing_partial(tmp_path):
    import signal

    _signal_dask_local_group(tmp_path, signal.SIGTERM)  # SLURM, systemd, docker stop: the whole group


def test_dask_local_run_ctrl_c_to_the_group_stops_within_seconds(tmp_path):
    """A terminal's Ctrl-C reaches the workers too: they die of it, and the run waited forever for the
    tasks they held (no worker was left to run them)."""
    import signal

    err, took = _signal_dask_local_group(tmp_path, signal.SIGINT, timeout=90)
    assert "stopped by SIGINT" in err, err[-2000:]
    # the workers end without a word (each printed a KeyboardInterrupt traceback)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-2000:]
    assert took < time_bound(15.0, cap=60.0), f"{took:.1f} s from the Ctrl-C to the end"


def _slow_teardown() -> None:
    """In a worker: an object whose teardown at the interpreter's exit takes 8 s (as torch's modules do)."""
    import sys
    import time

    class Slow:
        def __del__(self) -> None:
            time.sleep(8)

    module = type(sys)("batchseg_slow_teardown")
    module.obj = Slow()  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module


def test_dask_local_cluster_closes_without_waiting_for_slow_worker_exits(caplog):
    """A worker process that imported torch and Cellpose took seconds to exit: the nanny killed it after
    4 s with a warning at the end of every ``--dask-local`` run."""
    import logging
    import time

    pytest.importorskip("distributed")
    from napari_batchseg.runners.dask_runner import _connect

    client, cluster, own = _connect(RunOptions(dask_local=1))
    assert own and cluster is not None
    try:
        client.run(_slow_teardown)
    finally:
        with caplog.at_level(logging.WARNING, logger="distributed"):
            started = time.monotonic()
            client.close()
            cluster.close()
            took = time.monotonic() - started
    assert not [r for r in caplog.records if "still alive" in r.getMessage()], caplog.text
    assert took < time_bound(3.0, cap=7.0), f"{took:.1f} s to close the cluster"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the workers")
def test_dask_local_run_whose_workers_are_interrupted_gets_new_ones_and_finishes(tmp_path):
    """Workers killed by a SIGINT of their own died of a ``KeyboardInterrupt`` their nannies did not
    replace, and the run waited for them forever; they now exit quietly, are replaced, and the run ends."""
    import os
    import signal

    proc, wait = _dask_local_run_under_way(tmp_path, timeout=150)
    workers = _spawned_workers(proc.pid)
    assert len(workers) == 2, workers
    for pid in workers:
        os.kill(pid, signal.SIGINT)
    _, err = wait()
    err = " ".join(err.split())
    assert proc.returncode == 0 and "3 done, 0 skipped, 0 failed" in err, err[-2000:]
    assert "Traceback" not in err, err[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_worker_watch_gives_up_on_a_cluster_left_without_workers(monkeypatch):
    """No worker left (all died, none came back): the run stops waiting on its outputs after a while."""
    import time

    pytest.importorskip("distributed")
    from napari_batchseg.runners import dask_runner

    monkeypatch.setattr(dask_runner, "_NO_WORKERS_S", 1.0)  # (30 s in a run)
    client, cluster, _ = dask_runner._connect(RunOptions(dask_local=1))
    try:
        external = dask_runner._WorkerWatch(client, local=False)
        local = dask_runner._WorkerWatch(client, local=True)
        assert not local.gone(False)  # a worker is there
        cluster.scale(0)

        def gives_up(watch: Any, cancelled: bool, within: float = 20) -> bool:
            deadline = time.monotonic() + within
            while time.monotonic() < deadline:
                if watch.gone(cancelled):
                    return True
                time.sleep(0.1)
            return False

        assert gives_up(local, False), "the watch still waits on its own cluster with no worker"
        # an external cluster's workers may be queued: waited on, unless the run was cancelled
        assert not gives_up(external, False, within=3)
        assert gives_up(external, True)
    finally:
        client.close()
        cluster.close()


@pytest.mark.cp3  # the project's Cellpose 3 model
@pytest.mark.skipif(not STARTER.exists(), reason="the project's model is missing")
def test_first_sigterm_stops_inside_a_long_frame_sequential(tmp_path, nuclei):
    """The first SIGTERM stops the compute of the frame in progress (torch cancellation, as the widget's
    Cancel), not at its end: one frame of this image at diameter 4 takes far longer than the bound."""
    import os
    import signal
    import sys
    import time

    from _timing import time_bound

    tifffile.imwrite(tmp_path / "big.tif", np.tile(nuclei[:256, :256], (2, 2)))
    proc, wait = _run_child([sys.executable, "-m", "napari_batchseg.cli", "segment",
                             str(tmp_path / "big.tif"), "--model", str(STARTER), "--diameter", "4", "-q"],
                            timeout=900)
    deadline = time.monotonic() + 300
    while not any(".partial-" in p.name for p in tmp_path.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(3.0)  # well inside the frame's compute
    os.kill(proc.pid, signal.SIGTERM)
    signalled = time.monotonic()
    _, err = wait()
    took = time.monotonic() - signalled
    err = " ".join(err.split())
    assert proc.returncode == 143 and "stopped by SIGTERM" in err and "Traceback" not in err, err[-2000:]
    assert took < time_bound(5.0), f"{took:.1f} s from the first SIGTERM to the end"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.tif"]
