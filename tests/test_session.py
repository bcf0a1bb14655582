"""RunSession and the one orchestration (``runners.execute``), without Qt.

Real runs on small real-looking TIFF files with the cheap threshold segmenter of
:mod:`napari_batchseg.testing` (a real segmentation, not a stand-in result), folded into a session.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg import events as ev
from napari_batchseg.errors import ModelError, OutputError
from napari_batchseg.io.masks import read_mask
from napari_batchseg.params import SegmentationParams
from napari_batchseg.runners import RunOptions, RunSession, execute
from napari_batchseg.testing import threshold_segmenter

THRESHOLD = RunOptions(segmenter_factory=threshold_segmenter)


def _blobs(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    plane = rng.normal(100, 5, (48, 48))
    for y, x in rng.integers(6, 42, size=(4, 2)):
        plane[y - 3:y + 3, x - 3:x + 3] += 200
    return plane.astype(np.uint16)


@pytest.fixture
def inputs(tmp_path) -> Path:
    """``a.tif`` (3 frames), ``b.tif`` (2 frames) and a broken ``c.tif``."""
    d = tmp_path / "in"
    d.mkdir()
    tifffile.imwrite(d / "a.tif", np.stack([_blobs(i) for i in range(3)]), ome=True, metadata={"axes": "TYX"})
    tifffile.imwrite(d / "b.tif", np.stack([_blobs(i) for i in (7, 8)]), ome=True, metadata={"axes": "TYX"})
    (d / "c.tif").write_bytes(b"II*\x00" + b"\x00" * 20)
    return d


def _run(source, params=None, options=THRESHOLD, **kw):
    session = RunSession()
    events = []
    for e in execute(source, options, params=params, **kw):
        events.append(e)
        session.apply(e)
    return session, events


def test_a_run_folded_into_a_session(inputs, tmp_path):
    params = SegmentationParams(output_dir=str(tmp_path / "out"))
    session, events = _run([inputs], params)
    kinds = [type(e).__name__ for e in events]
    assert kinds[:3] == ["Planned", "ModelLoading", "ModelLoaded"]
    assert kinds.count("FrameDone") == 5 and kinds.count("TaskDone") == 2 and kinds.count("TaskFailed") == 1
    # the session is in plan order, with one final status per task
    assert [Path(k).name for k in session.keys()] == ["a.tif", "b.tif", "c.tif"]
    a, b, c = session.tasks
    assert (a.status, a.frames_done, a.n_frames) == ("done", 3, 3)
    assert (b.status, b.frames_done) == ("done", 2)
    assert c.status == "failed" and "c.tif" in c.reason and c.frames_done == 0
    assert a.mask_path == tmp_path / "out" / "a_vSM.ome.tif" and a.log_path.exists()
    labels = read_mask(a.mask_path).labels
    assert labels.shape == (3, 48, 48)
    assert a.n_objects == len(np.unique(labels[2])) - 1 > 0  # objects of the latest frame
    assert session.counts() == {"pending": 0, "running": 0, "done": 2, "skipped": 0, "failed": 1,
                                "cancelled": 0}
    assert session.model_state == "loaded" and session.model_description["method"] == "threshold"
    assert session.frames_done == session.frames_total == session.frames_planned == 5
    assert session.done and not session.ok and session.error is None
    assert session.finish() == [] and session.phase == "finished"
    # frames carry their labels in this process, identical to what was written
    frames = [e for e in events if isinstance(e, ev.FrameDone) and e.task.input.name == "a.tif"]
    for f in frames:
        np.testing.assert_array_equal(f.labels, labels[f.index])


def test_no_model_is_loaded_when_the_existing_policy_leaves_nothing_to_do(inputs, tmp_path):
    params = SegmentationParams(output_dir=str(tmp_path / "out"))
    _run([inputs / "a.tif", inputs / "b.tif"], params)
    for existing, status in (("skip", "skipped"), ("error", "failed")):
        session, events = _run([inputs / "a.tif", inputs / "b.tif"], params.replace(existing=existing))
        kinds = {type(e).__name__ for e in events}
        assert "ModelLoading" not in kinds and "ModelLoaded" not in kinds, existing
        assert [s.status for s in session.tasks] == [status, status]
        assert all("exists" in s.reason for s in session.tasks)
        assert session.model_state == "not loaded"
    # progress: skipped tasks count as settled, the total shrinks to what was really segmented
    skipped, _ = _run([inputs / "a.tif"], params)
    assert skipped.frames_planned == skipped.frames_settled == 3 and skipped.frames_total == 0


def test_cancel_accounts_for_every_task(inputs, tmp_path):
    params = SegmentationParams(output_dir=str(tmp_path / "out"))
    cancel = threading.Event()
    cancel.set()
    session, events = _run([inputs], params, cancel=cancel)
    assert [type(e).__name__ for e in events] == ["Planned"] + ["TaskCancelled"] * 3
    assert [s.status for s in session.tasks] == ["cancelled"] * 3
    # cancelled while the first output runs: it is dropped, the others are cancelled too
    cancel = threading.Event()
    session = RunSession()
    for e in execute([inputs], THRESHOLD, params=params, cancel=cancel):
        session.apply(e)
        if isinstance(e, ev.FrameDone):
            assert session.state(e.task.key).status == "running"
            cancel.set()
    assert [s.status for s in session.tasks] == ["cancelled"] * 3
    assert session.tasks[0].frames_done == 1 and session.frames_total == 1
    assert not (tmp_path / "out" / "a_vSM.ome.tif").exists()


def test_run_failures_are_events_not_exceptions(inputs, tmp_path):
    twin = tmp_path / "twin"
    twin.mkdir()
    (twin / "a.tif").write_bytes((inputs / "a.tif").read_bytes())
    params = SegmentationParams(output_dir=str(tmp_path / "out"))
    session, events = _run([inputs / "a.tif", twin / "a.tif"], params)
    (failed,) = events
    assert isinstance(failed, ev.RunFailed) and isinstance(failed.error, OutputError)
    assert "collide" in failed.message and session.phase == "failed" and session.error == failed.message
    # a model that cannot be found: the run stops after planning, before any task starts
    missing = str(tmp_path / "no_such_model.pth")
    session, events = _run([inputs / "a.tif"], params.replace(model=missing), RunOptions())
    assert [type(e).__name__ for e in events] == ["Planned", "ModelLoading", "RunFailed"]
    assert isinstance(events[-1].error, ModelError) and "no_such_model.pth" in events[-1].message
    assert session.model_state == "not loaded" and not session.ok
    # nobody cancelled the file: it failed, with the run's error as the reason
    assert [s.status for s in session.finish()] == ["failed"]
    assert session.tasks[0].reason == f"not run: {session.error}" and session.phase == "failed"
    assert "no_such_model.pth" in session.tasks[0].reason


def test_session_from_a_plan_and_its_guards(inputs, tmp_path):
    from napari_batchseg import engine

    the_plan = engine.plan([inputs], SegmentationParams(output_dir=str(tmp_path / "out")))
    session = RunSession(the_plan)
    assert session.phase == "planned" and len(session) == 3
    assert [s.status for s in session.tasks] == ["pending"] * 3
    assert [s.n_frames for s in session.tasks] == [3, 2, 0]
    first = the_plan.tasks[0]
    session.apply(ev.TaskStarted(first, 3))
    assert session.running()[0].task is first
    with pytest.raises(KeyError, match="not in the plan"):
        session.apply(ev.TaskStarted(engine.Task(Path("x.tif"), 0, 1, first.names), 1))
    with pytest.raises(TypeError):
        session.apply("not an event")  # type: ignore[arg-type]
    changed = session.finish()
    assert [s.status for s in changed] == ["cancelled"] * 3 and not session.ok


def test_events_are_immutable_and_frames_without_arrays_say_so(inputs, tmp_path):
    from dataclasses import FrozenInstanceError

    session, events = _run([inputs / "b.tif"], SegmentationParams(output_dir=str(tmp_path / "o")),
                           RunOptions(parallel="files", processes=2, segmenter_factory=threshold_segmenter))
    frames = [e for e in events if isinstance(e, ev.FrameDone)]
    assert len(frames) == 2 and all(f.labels is None and f.image is None for f in frames)
    assert all(f.task.key == session.keys()[0] for f in frames)  # the worker's events name their task
    assert session.tasks[0].status == "done"
    with pytest.raises(FrozenInstanceError):
        frames[0].task = None  # type: ignore[misc]


def test_gpu_rule_is_the_device_choice():
    from napari_batchseg.devices import pick_device
    from napari_batchseg.runners import gpu_in_use

    assert gpu_in_use(SegmentationParams(gpu=False)) is False
    assert gpu_in_use(SegmentationParams(gpu=True)) == pick_device(True).is_gpu


def test_execute_refuses_ambiguous_arguments(inputs, tmp_path):
    from napari_batchseg import engine

    params = SegmentationParams(output_dir=str(tmp_path / "out"))
    with pytest.raises(TypeError, match="params= is a keyword"):
        next(execute([inputs], params))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="carries its parameters"):
        next(execute(engine.plan([inputs], params), params=params))


# --------------------------------------------------------------------------- groups of files, one model
class _CountingFactory:
    """The threshold segmenter's factory (the hook through which execute loads every model), counted."""

    def __init__(self) -> None:
        self.loads: list[SegmentationParams] = []

    def __call__(self, params: SegmentationParams):
        self.loads.append(params)
        return threshold_segmenter(params)


def _ambiguous(path: Path) -> Path:
    """A 3-plane TIFF without axes (tifffile's 'QYX'): its first axis could be time, Z or channels."""
    tifffile.imwrite(path, np.stack([_blobs(i) for i in (3, 4, 5)]), photometric="minisblack")
    return path


def test_groups_sharing_a_model_load_it_once(inputs, tmp_path):
    """Files read with different axes (the widget's ambiguous files) run as one run, one model load."""
    from napari_batchseg.provenance import parse_log
    from napari_batchseg.runners import RunGroup

    amb = _ambiguous(tmp_path / "amb.tif")
    out = str(tmp_path / "out")
    base = SegmentationParams(output_dir=out)
    counting = _CountingFactory()
    groups = [RunGroup([inputs / "a.tif"], base), RunGroup([amb], base.replace(axes="TYX", end_frame=1))]
    session, events = _run(groups, options=RunOptions(segmenter_factory=counting))
    kinds = [type(e).__name__ for e in events]
    assert kinds.count("Planned") == 1 and kinds.count("ModelLoading") == 1 and len(counting.loads) == 1
    assert [s.status for s in session.tasks] == ["done", "done"]
    assert session.frames_planned == 3 + 2  # each group's own frame range
    logs = {s.task.input.name: parse_log(read_mask(s.mask_path).log_text).params for s in session.tasks}
    assert logs["amb.tif"].axes == "TYX" and logs["a.tif"].axes is None  # each log has its group's
    assert read_mask(tmp_path / "out" / "amb_vSM.ome.tif").labels.shape[0] == 2


def test_groups_needing_other_models_load_each(inputs, tmp_path):
    from napari_batchseg.runners import RunGroup

    base = SegmentationParams(output_dir=str(tmp_path / "out"))
    counting = _CountingFactory()
    groups = [RunGroup([inputs / "a.tif"], base), RunGroup([inputs / "b.tif"], base.replace(diameter=12.0))]
    session, events = _run(groups, options=RunOptions(segmenter_factory=counting))
    assert [p.diameter for p in counting.loads] == [0.0, 12.0]
    assert [type(e).__name__ for e in events].count("ModelLoading") == 2
    assert [s.status for s in session.tasks] == ["done", "done"]


def test_groups_colliding_outputs_refused_before_any_load(inputs, tmp_path):
    from napari_batchseg.runners import RunGroup

    base = SegmentationParams(output_dir=str(tmp_path / "out"))
    counting = _CountingFactory()
    twin = _ambiguous(tmp_path / "a.tif")  # another a.tif: the same output name in the same folder
    groups = [RunGroup([inputs / "a.tif"], base), RunGroup([twin], base.replace(axes="TYX"))]
    _, events = _run(groups, options=RunOptions(segmenter_factory=counting))
    assert isinstance(events[-1], ev.RunFailed) and len(events) == 1 and counting.loads == []
    assert "a_vSM.ome.tif" in events[-1].message


def test_a_file_in_two_groups_runs_once_with_the_group_naming_it(inputs, tmp_path):
    """A walk: the README's groups, one naming an ambiguous file with its axes, the other its folder:
    the file ran twice (done, then failed on its ambiguous axes), whichever came first."""
    from napari_batchseg.provenance import parse_log
    from napari_batchseg.runners import RunGroup

    folder = tmp_path / "plate"
    folder.mkdir()
    amb = _ambiguous(folder / "amb.tif")
    tifffile.imwrite(folder / "b.tif", _blobs(6))
    base = SegmentationParams(output_dir=str(tmp_path / "out"))
    named = RunGroup([amb], base.replace(axes="TYX", end_frame=1))
    for groups in ([named, RunGroup([folder], base)], [RunGroup([folder], base), named]):
        session, events = _run(groups, options=RunOptions(segmenter_factory=_CountingFactory()))
        assert sorted((s.task.input.name, s.status) for s in session.tasks) == [("amb.tif", "done"),
                                                                                 ("b.tif", "done")]
        planned = next(e for e in events if isinstance(e, ev.Planned))
        said = "1 file(s) in several groups with the same output run once"
        assert any(said in n and "amb.tif" in n for n in planned.notes)
        assert read_mask(tmp_path / "out" / "amb_vSM.ome.tif").labels.shape[0] == 2  # its group's frames
        for f in (tmp_path / "out").iterdir():
            f.unlink()
    # a review: two parameter sets of one file in one run (other suffixes: other outputs) both run
    groups = [RunGroup([amb], base.replace(axes="TYX", suffix="one")),
              RunGroup([amb], base.replace(axes="TYX", suffix="two", diameter=12.0))]
    _session, events = _run(groups, options=RunOptions(segmenter_factory=_CountingFactory()))
    made = {p.name: parse_log(read_mask(p).log_text).params.diameter
            for p in (tmp_path / "out").glob("*.ome.tif")}
    assert made == {"amb_vSM-one.ome.tif": 0.0, "amb_vSM-two.ome.tif": 12.0}
    assert not any("several groups" in n for n in next(e for e in events if isinstance(e, ev.Planned)).notes)


# --------------------------------------------------------------------------- can this file run?
def test_check_file_gives_a_typed_reason(inputs, tmp_path):
    from napari_batchseg.runnable import Reason, check_file

    amb = _ambiguous(tmp_path / "amb.tif")
    base = SegmentationParams()
    assert check_file(inputs / "a.tif", base) is None
    problem = check_file(amb, base)
    assert problem is not None and problem.reason is Reason.AMBIGUOUS_AXES and problem.ambiguous
    assert "amb.tif" in problem.message
    assert check_file(amb, base.replace(axes="TYX")) is None
    assert check_file(inputs / "c.tif", base).reason is Reason.UNREADABLE
    assert check_file(inputs / "a.tif", base.replace(channel=2)).reason is Reason.CHANNEL
    assert check_file(inputs / "a.tif", base.replace(channel="GFP")).reason is Reason.CHANNEL
    assert check_file(inputs / "a.tif", base.replace(start_frame=3)).reason is Reason.FRAMES


def test_ambiguity_is_a_type_not_a_message(tmp_path):
    """A reader's AmbiguousAxesError is ambiguous whatever its words; an InputError saying them is not."""
    from napari_batchseg.errors import AmbiguousAxesError, InputError
    from napari_batchseg.runnable import Reason, problem_of

    assert problem_of(AmbiguousAxesError("x.tif: say which dimension is time")).ambiguous
    worded = problem_of(InputError("x.tif: ambiguous axes; pass axes=..."))
    assert worded.reason is Reason.UNREADABLE and not worded.ambiguous


def test_files_that_cannot_run_fail_before_the_model_loads(inputs, tmp_path):
    """A channel the file lacks is found while planning (the CLI and the API plan): no model for nothing."""
    counting = _CountingFactory()
    params = SegmentationParams(output_dir=str(tmp_path / "out"), channel=1)
    session, events = _run([inputs / "a.tif", inputs / "b.tif"], params,
                           options=RunOptions(segmenter_factory=counting))
    assert counting.loads == [] and not any(isinstance(e, ev.ModelLoading) for e in events)
    assert [s.status for s in session.tasks] == ["failed", "failed"]
    assert all("channel index 1 out of range" in s.reason for s in session.tasks)


# --------------------------------------------------------------------------- in-memory images, results
def test_arrays_are_planned_and_run_as_files_are(tmp_path):
    """In-memory images (napari layers) go through the core planner: outputs, logs, absolute model."""
    from napari_batchseg.engine import plan_arrays
    from napari_batchseg.io.arrays import ArrayInput

    movie = np.stack([_blobs(i) for i in (1, 2)])
    model = tmp_path / "models" / "mine"
    model.parent.mkdir()
    model.write_bytes(b"weights")
    inputs = [ArrayInput(movie, "TYX", "my layer", folder=tmp_path / "here"),
              ArrayInput(movie[0], "YX", "still", source_file=tmp_path / "still.tif", folder=tmp_path)]
    (tmp_path / "here").mkdir()
    relative = Path("models") / "mine"
    import os

    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        plan = plan_arrays(inputs, SegmentationParams(model=str(relative)))
    finally:
        os.chdir(old)
    assert plan.params.model == str(model.resolve())  # made absolute by the core, as for files
    assert [t.names.mask for t in plan.tasks] == [tmp_path / "here" / "my_layer_vSM.ome.tif",
                                                  tmp_path / "still_vSM.ome.tif"]
    session, _ = _run(plan_arrays(inputs, SegmentationParams()))  # the threshold segmenter needs no model
    assert [s.status for s in session.tasks] == ["done", "done"]
    mask = read_mask(tmp_path / "here" / "my_layer_vSM.ome.tif")
    assert mask.labels.shape == (2, 48, 48) and "napari layer 'my layer'" in mask.log_text
    assert "still.tif" in read_mask(tmp_path / "still_vSM.ome.tif").log_text


def test_arrays_without_a_folder_need_an_output_folder(tmp_path):
    from napari_batchseg.engine import plan_arrays
    from napari_batchseg.io.arrays import ArrayInput

    lone = ArrayInput(_blobs(0), "YX", "lone")
    with pytest.raises(ValueError, match="'lone' has no file: choose an output folder"):
        plan_arrays([lone], SegmentationParams())
    with pytest.raises(ValueError, match="axes 'TYX' do not fit"):
        plan_arrays([ArrayInput(_blobs(0), "TYX", "flat")], SegmentationParams(output_dir=str(tmp_path)))
    assert plan_arrays([lone], SegmentationParams(output_dir=str(tmp_path))).tasks[0].error is None


def test_a_result_reopens_with_its_prepared_input(inputs, tmp_path):
    """results.load_result: the mask, and its input prepared as its log says, at its first frame."""
    from napari_batchseg.engine import plan
    from napari_batchseg.io.lazy import PlaneArray
    from napari_batchseg.io.reader import open_source
    from napari_batchseg.prepare import prepare_frame
    from napari_batchseg.results import load_result

    params = SegmentationParams(output_dir=str(tmp_path / "out"), start_frame=1, end_frame=2)
    session, _ = _run([inputs / "a.tif"], params)
    state = session.tasks[0]
    task = plan([inputs / "a.tif"], params).tasks[0]
    shown = load_result(task, state.mask_path, None, state.status)  # parameters from the mask's log
    assert shown.first_frame == 1 and shown.mask_path == state.mask_path and shown.note == ""
    np.testing.assert_array_equal(shown.labels, read_mask(state.mask_path).labels)
    assert isinstance(shown.image, PlaneArray) and shown.image.shape == (2, 48, 48)
    with open_source(inputs / "a.tif") as src:
        expected = prepare_frame(src, 0, 2, 0, params.zrange, params.z_projection).image
    np.testing.assert_array_equal(shown.image[1], expected)
    lo, hi = shown.contrast
    assert lo < hi
    missing = load_result(task, tmp_path / "nothing_vSM.ome.tif", params, "failed")
    assert missing.labels is None and "no result to show (failed)" in missing.note
