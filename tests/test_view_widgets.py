"""The Settings form's conversions, correction records, messages, output preview and dock jobs without Qt.

napari_batchseg.view.form_state / fixes / phrasing / outputs / dock_jobs on real arrays and parameters.
"""

from __future__ import annotations

import numpy as np
import tifffile

from napari_batchseg import corrections as cx
from napari_batchseg.events import Task
from napari_batchseg.existing import OutputStatus
from napari_batchseg.io.naming import output_names
from napari_batchseg.params import SegmentationParams, ZRange
from napari_batchseg.runners.session import TaskState
from napari_batchseg.view.dock_jobs import evaluate_job, measure_job, pixel_size_yx
from napari_batchseg.view.fixes import (
    OperationLog,
    array_ref,
    compute_fix,
    describe_fix,
    frame_on_screen,
    same_array,
    same_output,
)
from napari_batchseg.view.form_state import (
    USER_MODEL,
    Z_MODES,
    channel_value,
    model_fields,
    model_problem,
    model_values,
    split_channel,
    z_fields,
    z_range_text,
)
from napari_batchseg.view.outputs import (
    PREVIEW_LINES,
    collisions_text,
    existing_lines,
    next_run_note,
    planned_outputs,
    preview_lines,
)
from napari_batchseg.view.phrasing import (
    finish_message,
    progress_text,
    state_details,
    summary_text,
)
from napari_batchseg.view.run_refusal import refusal_text


def test_z_fields_and_z_range_text_round_trip():
    for z_range in ("all", "best", "best:4", "2-7"):
        z = z_fields(z_range)
        mode = Z_MODES[z.index][0]
        text = z_range_text(mode, z.radius if z.radius is not None else 3, z.start or 0, z.stop or 0)
        assert ZRange.parse(text) == ZRange.parse(z_range), (z_range, text)
    assert z_fields("best").radius is None  # best focus alone keeps the radius field's value


def test_model_and_channel_fields_round_trip(tmp_path):
    model_file = tmp_path / "my_model"
    for params in (SegmentationParams(model="cyto3"), SegmentationParams(model=str(model_file)),
                   SegmentationParams(method="sam", model="vit_b_lm", checkpoint=str(tmp_path / "c.pt"))):
        text, path = model_fields(params)
        model, checkpoint = model_values(params.method, text, path)
        assert (model, checkpoint) == (str(params.model), params.checkpoint)
    assert model_fields(SegmentationParams(model=str(model_file)))[0] == USER_MODEL
    assert "Model file (Settings tab) is empty" in model_problem("cellpose", USER_MODEL, " ")
    assert {model_problem("cellpose", USER_MODEL, str(model_file)), model_problem("cellpose", "cyto3", ""),
            model_problem("sam", "vit_b_lm", "")} == {None}
    assert channel_value(1, [0, None], several=True) == [1, 0]
    assert channel_value(1, [1, 2], several=True) == [1, 2]  # a channel is not given twice
    assert channel_value(None, [2], several=False) == 0
    assert split_channel([1, "GFP"]) == (1, ["GFP"]) and split_channel("GFP") == ("GFP", [])


def test_fix_records_what_changed_and_the_log_counts_strokes(dsb2018):
    labels = np.stack([tifffile.imread(dsb2018[1])] * 2).astype(np.int32)
    summary, frames, old, new = compute_fix(cx.remove_small, labels, (60,), [1])
    assert summary.changed and frames == (1,)
    assert np.array_equal(old[0], labels[1]) and np.array_equal(new[0], cx.remove_small(labels, 60, [1])[1])
    ref = array_ref(labels)
    assert same_array(ref, labels) and not same_array(ref, labels.copy())
    assert same_output(("k", None), ("k", "m.tif")) and not same_output(("k", None), ("j", None))
    assert describe_fix("remove_small", "min_size=60", 3, [1]) == "remove small (min_size=60), frame 1"
    assert describe_fix("relabel_sequential", "", 2, None) == "relabel sequential"
    assert frame_on_screen(7.0, 2.0, 2.0, 10) == 2 and frame_on_screen(99.0, 0.0, 1.0, 10) == 9
    log = OperationLog()
    log.add("L", "merge: 1 object(s)")
    log.stroke("L")
    log.stroke("L")
    assert log.note("L", "a") == "napari layer 'a'; operations: merge: 1 object(s); " \
                                 "napari brush/fill/eraser: 2 stroke(s)"
    log.saved("L")
    assert log.note("L", "a") == "napari layer 'a'; operations: none recorded"


def test_messages_preview_and_existing_outputs(tmp_path):
    flagged = {tmp_path / f"f{i}.tif": "no channel 1" for i in range(7)}
    text = refusal_text(flagged)
    assert text.startswith("cannot run: 7 file(s)") and "f4.tif: no channel 1; and 2 more" in text
    assert "f5.tif" not in text
    inputs = [tmp_path / f"f{i}.tif" for i in range(PREVIEW_LINES + 2)]
    outs = [(f, 0, output_names(f, "s")) for f in inputs]
    lines = preview_lines(outs)
    assert lines[0] == "f0.tif → f0_vSM-s.ome.tif" and lines[-1] == "… and 2 more"
    assert collisions_text([]) == ""
    assert collisions_text(list("abcde")) == "Outputs collide: a; b; c; d; and 1 more"
    statuses = [OutputStatus("same"), OutputStatus("other", "diameter 30 → 20"), OutputStatus("missing")]
    assert existing_lines(statuses, "skip") == [
        "1 output(s) exist already and will be skipped",
        "1 output(s) were made with other parameters (diameter 30 → 20) and will be skipped: to segment "
        "them with these, choose 'overwrite it' or another suffix"]
    # the run bar's "Next Run" note: outputs made with other parameters and corrected ones only
    assert next_run_note(statuses, "skip") == existing_lines(statuses, "skip")[1]
    corrected = [OutputStatus("same", corrected=True), OutputStatus("corrupt", "truncated")]
    assert next_run_note(corrected, "overwrite") == (
        "1 of them hold hand corrections: each is kept as <name>.corrected.ome.tif before it is replaced")
    assert next_run_note([OutputStatus("same"), OutputStatus("busy")], "skip") == ""
    task = Task(inputs[0], 0, 1, output_names(inputs[0]))
    state = TaskState(task, 1, status="failed", reason="--channel 3 missing", details="trace")
    assert state_details(state) == ("Channel 3 missing", "trace")
    two = TaskState(task, 1, status="failed", reason="a.tif: cannot read\n  truncated page 3", details="")
    assert state_details(two) == ("a.tif: cannot read · truncated page 3",
                                  "a.tif: cannot read\n  truncated page 3")


def test_dock_jobs_measure_and_evaluate_real_masks(dsb2018):
    mask = tifffile.imread(dsb2018[1]).astype(np.int32)
    image = tifffile.imread(dsb2018[0])
    table = measure_job(mask, image, pixel_size_yx({"pixel_size": {"y": 0.5, "x": 0.5}}), "m")
    assert len(table) == len(np.unique(mask)) - 1
    assert pixel_size_yx({}) is None and pixel_size_yx({"pixel_size": {"x": 1.0}}) is None
    scores = evaluate_job(mask, mask)
    assert list(scores["frame"]) == [0] and scores["ap_50"].iloc[0] == 1.0
    scores = evaluate_job(np.stack([mask, np.zeros_like(mask)]), np.stack([mask, mask]))
    # a walk: no overall row (batchseg evaluate's): TP over both frames, n / (n + 0 FP + n FN)
    assert list(scores["ap_50"]) == [1.0, 0.0, 0.5] and list(scores["frame"]) == [0, 1, "all"]


def test_status_summary_and_progress_texts():
    counts = dict.fromkeys(("pending", "running", "done", "skipped", "failed", "cancelled"), 0)
    assert summary_text(counts, 0) == ""
    counts.update(done=2, skipped=1, running=1)
    assert summary_text(counts, 4) == "3/4 file(s) finished; 1 running; 2 done; 1 skipped"
    counts.update(running=0, failed=1)
    assert summary_text(counts, 4).startswith("4/4 file(s) ended")  # not "finished": one failed
    assert progress_text("%v / %m frames", 0, 8, 2) == "2 / 8 frames"
    assert progress_text("%p%", 0, 8, 2) == "25%" and progress_text("%p%", 0, 0, 0) == "0%"


def test_planned_outputs_name_each_position(tmp_path):
    a, b = tmp_path / "a.tif", tmp_path / "b.tif"
    outs = planned_outputs([a, b], {a: "unreadable"}, "d30", str(tmp_path / "out"))
    assert [(f, p) for f, p, _ in outs] == [(a, 0), (b, 0)]  # unknown or unreadable: one position
    assert outs[0][2].mask.parent == tmp_path / "out" and "d30" in outs[0][2].mask.name


def test_a_skip_says_how_to_segment_again_once():
    """QA: the advice came twice ('(use If output exists: overwrite, …). To segment them again: …')."""
    reason = ("output made with other parameters (diameter auto -> 25.0): a_vSM.ome.tif; left as it is, "
              "not redone for these parameters (use --existing overwrite, or another suffix)")
    text = finish_message({"skipped": 1}, 0.2, [reason])
    assert text.count("If output exists") == 1 and "overwrite" in text
    plain = finish_message({"skipped": 1}, 0.2, ["output exists: a_vSM.ome.tif"])
    assert plain.endswith("To segment them again: If output exists: overwrite it, or another suffix "
                          "(Files tab)")
