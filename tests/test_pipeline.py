"""The pipelined Cellpose engine (runners/pipeline.py): network here, masks in CPU worker processes.

On CPU (no GPU here) with the project's own Cellpose 3 model on real nuclei (DSB2018 crops): masks
identical to frame-by-frame ``eval`` (one frame and three frames per network call), a whole engine run
identical to the sequential one, a cancel that stops the workers and keeps no file, a killed run that
leaves no orphan worker and no file under a final name, a killed worker that fails only its output.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg import engine
from napari_batchseg.io.masks import read_mask
from napari_batchseg.params import ParameterError, SegmentationParams
from napari_batchseg.runners import RunOptions, resolve_options
from napari_batchseg.runners.batching import BatchedFrames
from napari_batchseg.runners.pipeline import PipelinedFrames, frame_segmenter_for_run, pipeline_refusal

STARTER = Path(__file__).resolve().parents[1] / "examples" / "models" / "batchseg_nuclei_cp3"
SIZE = 96  # small planes keep Cellpose fast on 2 shared cores

pytestmark = pytest.mark.cp3  # the project's Cellpose 3 model


@pytest.fixture(scope="module")
def nuclei(dsb2018) -> np.ndarray:
    return tifffile.imread(dsb2018[0])


@pytest.fixture(scope="module")
def segmenter():
    from napari_batchseg.segmenters import load_segmenter

    return load_segmenter(SegmentationParams(model=str(STARTER)))


def _crops(nuclei: np.ndarray) -> list[np.ndarray]:
    corners = [(2 * SIZE, 0), (4 * SIZE, SIZE), (0, 2 * SIZE), (3 * SIZE, 3 * SIZE)]
    return [nuclei[y:y + SIZE, x:x + SIZE].astype(np.float32) for y, x in corners]


def _frames(images):
    from napari_batchseg.prepare import PreparedFrame

    return [PreparedFrame(0, t, im, 0) for t, im in enumerate(images)]


def _movie(path: Path, planes: list[np.ndarray]) -> Path:
    tifffile.imwrite(path, np.stack(planes).astype(np.uint16), ome=True, metadata={"axes": "TYX"})
    return path


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


# --------------------------------------------------------------------------- options
def test_mask_worker_options_are_validated_and_resolved(monkeypatch):
    import napari_batchseg.runners.options as runners

    with pytest.raises(ParameterError, match="mask_workers must be an integer >= 0"):
        RunOptions(mask_workers=-1)
    with pytest.raises(ParameterError, match="masks_on 'gpu' unknown; choose one of device, cpu"):
        RunOptions(masks_on="gpu")
    monkeypatch.setattr(runners, "usable_cores", lambda: 16)
    monkeypatch.setattr(runners, "gpu_in_use", lambda params: False)
    assert resolve_options(RunOptions(), SegmentationParams()).mask_workers == 0  # CPU: off by default
    assert resolve_options(RunOptions(mask_workers=2), SegmentationParams()).mask_workers == 2
    frames = resolve_options(RunOptions(parallel="frames", processes=2, mask_workers=2), SegmentationParams())
    assert frames.mask_workers == 0  # worker processes each hold a model: no pipeline there
    monkeypatch.setattr(runners, "gpu_in_use", lambda params: True)
    gpu = resolve_options(RunOptions(), SegmentationParams())
    assert gpu.mask_workers == runners.AUTO_MASK_WORKERS and gpu.masks_on == "device"
    monkeypatch.setattr(runners, "usable_cores", lambda: 3)
    assert resolve_options(RunOptions(), SegmentationParams()).mask_workers == 2


def test_what_cannot_be_pipelined_keeps_the_batched_path(segmenter):
    from napari_batchseg.testing import threshold_segmenter

    other = threshold_segmenter(SegmentationParams())
    assert "only Cellpose 3" in (pipeline_refusal(other) or "")
    opts = RunOptions(mask_workers=2, batch_frames=3)
    chosen = frame_segmenter_for_run(other, opts)
    assert isinstance(chosen, BatchedFrames) and "--mask-workers 2 not used" in opts.notes[-1]
    segmenter.debug = True
    try:
        assert pipeline_refusal(segmenter) == "debug images: not pipelined"
        with pytest.raises(ValueError, match="debug images"):
            PipelinedFrames(segmenter, 1)
    finally:
        segmenter.debug = False
    assert pipeline_refusal(segmenter) is None


def test_default_is_one_frame_per_call_and_the_fast_mode_is_named(segmenter, monkeypatch):
    """A GPU-style run (model on a GPU: mask workers on) still gets one frame per network call."""
    import napari_batchseg.runners.options as runners

    monkeypatch.setattr(runners, "gpu_in_use", lambda params: True)
    monkeypatch.setattr(runners, "usable_cores", lambda: 16)
    params = SegmentationParams(model=str(STARTER), gpu=True, batch_size=8)
    opts = resolve_options(RunOptions(), params)
    assert opts.batch_frames == 1 and opts.mask_workers == runners.AUTO_MASK_WORKERS
    pipe = PipelinedFrames(segmenter, opts.mask_workers, opts.batch_frames, opts.masks_on)  # not started
    assert pipe.describe()["frames_per_call"] == 1 and "fast_mode" not in pipe.describe()
    fast = PipelinedFrames(segmenter, 2, resolve_options(RunOptions(batch_frames=2), params).batch_frames)
    assert fast.describe()["frames_per_call"] == 2 and "may differ" in fast.describe()["fast_mode"]
    plain = frame_segmenter_for_run(segmenter, resolve_options(RunOptions(mask_workers=0), params))
    assert isinstance(plain, BatchedFrames) and plain.describe()["frames_per_call"] == 1
    assert "fast_mode" not in plain.describe()


def test_cli_default_logs_one_frame_per_call_and_batch_frames_2_is_named(nuclei, tmp_path, capsys):
    from napari_batchseg.cli import main

    movie = _movie(tmp_path / "m.ome.tif", _crops(nuclei)[:2])
    logs, masks = {}, {}
    for name, extra in (("default", []), ("fast", ["--batch-frames", "2"])):
        out = tmp_path / name
        assert main(["segment", str(movie), "--model", str(STARTER), "--output-dir", str(out), "-q",
                     *extra]) == 0
        logs[name] = (out / "m_vSM.log").read_text()
        masks[name] = read_mask(out / "m_vSM.ome.tif").labels
        said = capsys.readouterr()
        assert ("fast mode --batch-frames 2" in said.out + said.err) == (name == "fast")
    assert '"frames_per_call": 1' in logs["default"] and '"fast_mode"' not in logs["default"]
    assert '"frames_per_call": 2' in logs["fast"] and '"fast_mode"' in logs["fast"]
    assert masks["default"].max() > 2
    np.testing.assert_array_equal(masks["fast"], masks["default"])  # on a CPU batching is identical


# --------------------------------------------------------------------------- identity
@pytest.mark.parametrize("batch_frames", [1, 3])
def test_masks_equal_frame_by_frame_eval(segmenter, nuclei, batch_frames):
    images = _crops(nuclei)
    task = engine.Task(Path("x.tif"), 0, 1, None)  # type: ignore[arg-type]
    with PipelinedFrames(segmenter, mask_workers=2, batch_frames=batch_frames) as pipe:
        assert pipe.masks_on == "cpu" and not pipe.on_gpu  # a CPU model: everything on the CPU
        out = list(pipe(task, iter(_frames(images))))
        pids = pipe.worker_pids()
        assert len(pids) == 2 and all(_alive(p) for p in pids)
    assert [f.t for f, _, _ in out] == list(range(len(images)))
    for image, (_frame, got, seconds) in zip(images, out, strict=True):
        single = segmenter.segment(image)  # = CellposeModel.eval(image, ...) (test_cellpose_segmenter)
        assert single.labels.max() > 2
        np.testing.assert_array_equal(got.labels, single.labels)
        assert got.info["n_objects"] == single.info["n_objects"]
        assert got.info["diameter"] == single.info["diameter"] and seconds > 0
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in pids), "mask workers left running after close()"


def test_engine_run_through_the_pipeline_equals_the_sequential_run(segmenter, nuclei, tmp_path):
    crops = _crops(nuclei)
    inputs = tmp_path / "in"
    inputs.mkdir()
    _movie(inputs / "a.ome.tif", crops[:3])
    _movie(inputs / "b.ome.tif", crops[1:])
    def params(out: str) -> SegmentationParams:
        return SegmentationParams(model=str(STARTER), output_dir=str(tmp_path / out))

    ref = list(engine.run(engine.plan([inputs], params("ref")), segmenter=segmenter))
    assert sum(isinstance(e, engine.TaskDone) for e in ref) == 2
    the_plan = engine.plan([inputs], params("pipe"))
    with PipelinedFrames(segmenter, mask_workers=2, batch_frames=2) as pipe:
        events = list(engine.run(the_plan, segmenter=segmenter, frame_segmenter=pipe))
    assert sum(isinstance(e, engine.TaskDone) for e in events) == 2
    for name in ("a_vSM.ome.tif", "b_vSM.ome.tif"):
        expected, got = read_mask(tmp_path / "ref" / name), read_mask(tmp_path / "pipe" / name)
        np.testing.assert_array_equal(got.labels, expected.labels, err_msg=name)
        assert '"mask_workers": 2' in got.log_text and '"frames_per_call": 2' in got.log_text


# --------------------------------------------------------------------------- stopping
def test_cancel_stops_the_workers_and_keeps_no_file(segmenter, nuclei, tmp_path):
    crops = _crops(nuclei)
    inputs = tmp_path / "in"
    inputs.mkdir()
    _movie(inputs / "long.ome.tif", crops * 3)
    out = tmp_path / "out"
    the_plan = engine.plan([inputs], SegmentationParams(model=str(STARTER), output_dir=str(out)))
    cancel = threading.Event()
    pipe = PipelinedFrames(segmenter, mask_workers=2, cancel=cancel).start()
    pids = pipe.worker_pids()
    events = []
    try:
        for e in engine.run(the_plan, segmenter=segmenter, cancel=cancel, frame_segmenter=pipe):
            events.append(e)
            if isinstance(e, engine.FrameDone):
                cancel.set()
    finally:
        pipe.close()
    kinds = [type(e).__name__ for e in events]
    assert "TaskCancelled" in kinds and "TaskDone" not in kinds
    assert kinds.count("FrameDone") < len(crops) * 3
    assert (sorted(p.name for p in out.iterdir()) if out.exists() else []) == []
    assert not any(_alive(p) for p in pids)


_CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from napari_batchseg import engine
    from napari_batchseg.params import SegmentationParams
    from napari_batchseg.runners.pipeline import PipelinedFrames
    from napari_batchseg.segmenters import load_segmenter

    model, inputs, out = sys.argv[1:4]
    params = SegmentationParams(model=model, output_dir=out)
    seg = load_segmenter(params)
    with PipelinedFrames(seg, mask_workers=2) as pipe:
        print("workers", *pipe.worker_pids(), flush=True)
        for e in engine.run(engine.plan([inputs], params), segmenter=seg, frame_segmenter=pipe):
            if isinstance(e, engine.FrameDone):
                print("frame", e.index, flush=True)
""")


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to see the workers")
def test_a_killed_run_leaves_no_orphan_worker_and_no_file(nuclei, tmp_path):
    crops = _crops(nuclei)
    inputs = tmp_path / "in"
    inputs.mkdir()
    _movie(inputs / "long.ome.tif", crops * 10)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(STARTER), str(inputs), str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert proc.stdout is not None
        pids: list[int] = []
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith("workers"):
                pids = [int(p) for p in line.split()[1:]]
            if line.startswith("frame 2"):  # masks being built, more queued
                break
        assert len(pids) == 2, proc.stderr.read() if proc.poll() is not None else "no workers"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(p) for p in pids), "mask workers outlived their killed run"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert not list(out.glob("*_vSM.ome.tif")) and not list(out.glob("*_vSM.log"))


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to kill a worker")
def test_a_killed_mask_worker_fails_only_its_output(segmenter, nuclei, tmp_path):
    crops = _crops(nuclei)
    inputs = tmp_path / "in"
    inputs.mkdir()
    _movie(inputs / "a.ome.tif", crops * 4)
    _movie(inputs / "b.ome.tif", crops[:2])
    out = tmp_path / "out"
    the_plan = engine.plan([inputs], SegmentationParams(model=str(STARTER), output_dir=str(out)))
    with PipelinedFrames(segmenter, mask_workers=1) as pipe:
        events = []
        for e in engine.run(the_plan, segmenter=segmenter, frame_segmenter=pipe):
            events.append(e)
            if isinstance(e, engine.FrameDone) and e.task.input.name == "a.ome.tif" and e.index == 0:
                for pid in pipe.worker_pids():
                    os.kill(pid, signal.SIGKILL)  # what the out-of-memory killer does
    failed = [e for e in events if isinstance(e, engine.TaskFailed)]
    done = [e for e in events if isinstance(e, engine.TaskDone)]
    assert [e.task.input.name for e in failed] == ["a.ome.tif"]
    assert "mask worker process died" in failed[0].reason
    assert [e.task.input.name for e in done] == ["b.ome.tif"]
    assert sorted(p.name for p in out.iterdir() if p.name.endswith((".tif", ".log"))) == [
        "b_vSM.log", "b_vSM.ome.tif"]
