"""What the secondary docks (Re-threshold, Train, Track, Measure, the correction panel) decide without Qt.

Each function here is the Qt-free part of a dock (``napari_batchseg.view.*``); the docks' widget tests
check the same behaviour through napari.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from napari_batchseg.io.sources import PixelSize
from napari_batchseg.measure import measure_frames
from napari_batchseg.segmenters.cellpose.rethreshold import Thresholds
from napari_batchseg.tracking import TrackParams, track_masks
from napari_batchseg.tracking.synthetic import synthetic_movie
from napari_batchseg.view import fix_undo
from napari_batchseg.view import rethreshold as rt
from napari_batchseg.view.dock_jobs import SOURCE_FILES, SOURCE_LAYERS
from napari_batchseg.view.fix_undo import NO_UNDO, UndoSlot, target_text, undo_frames, write_fix
from napari_batchseg.view.fixes import FixRecord, array_ref
from napari_batchseg.view.measure_form import (
    EXPORT_FIELDS,
    evaluate_layers,
    evaluation_problem,
    export_options,
    frame_interval,
    measure_layer,
    measured_text,
    row_target,
    table_file_name,
    write_csv,
)
from napari_batchseg.view.track_form import (
    CHECKED,
    NO_MASK,
    NOTHING_SEEN,
    TRACK_FIELDS,
    UNSAVED_EDITS,
    source_seen,
    track_layer_data,
    track_params,
)
from napari_batchseg.view.training_form import (
    TRAIN_FIELDS,
    LossCurves,
    base_models,
    saved_text,
    training_inputs,
    training_params,
)


class _Job:
    """What a background job hands a function: a cancel flag and a report channel."""

    def __init__(self) -> None:
        self.cancel = threading.Event()
        self.reports: list[object] = []

    def report(self, item: object) -> None:
        self.reports.append(item)


def _defaults(fields) -> dict[str, object]:
    return {f.key: f.to_param(f.value if f.value is not None else (f.lo if f.kind in ("int", "float") else
                                                                    False if f.kind == "check" else ""))
            for f in fields}


# ---------------------------------------------------------------------------------- re-threshold
def test_slider_positions_and_thresholds_round_trip():
    th = rt.thresholds_at(-13, 9, 20)
    assert th == Thresholds(-1.3, 0.45, 20)
    assert rt.positions_of(th) == (-13, 9, 20)
    assert rt.value_texts(th) == ("-1.3", "0.45")
    assert rt.value_texts(rt.thresholds_at(4, 0, -1)) == ("+0.4", "off")


def test_a_mask_stands_for_its_log_and_errors_show_their_first_line(tmp_path):
    assert rt.log_of(tmp_path / "a_vSM.ome.tif") == str(tmp_path / "a_vSM.log")
    assert rt.log_of("b_vSM.log") == "b_vSM.log"
    assert rt.first_line(ValueError("one\ntwo")) == "one" and rt.first_line(KeyError()) == "KeyError"
    # QA: the dock said "segment with --keep-flows", "--overwrite", "--suffix": options it does not have
    kept_none = ValueError("a_vSM.log: the run kept no flows (segment with --keep-flows to re-threshold "
                           "later)")
    assert "'keep flows for re-thresholding' (Batch segmentation, Settings)" in rt.first_line(kept_none)
    exists = ValueError("a_vSM-rt.ome.tif exists (--overwrite to replace it, or another --suffix)")
    assert rt.first_line(exists).endswith("(tick Overwrite to replace it, or give another Suffix)")


def test_preview_text_counts_objects_in_words():
    preview = rt.Preview(("/d/a_vSM.log", 0, Thresholds(0, 0.4, 15)), 3, 5, (0, 1, 2, 3, 4),
                         np.zeros((4, 4), np.uint16), 0.012, 1)
    assert rt.preview_text(preview) == "a_vSM.log frame t=3: 1 object, computed in 12 ms"  # not "1 objects"


def test_values_computed_ahead_are_nearest_first_in_the_direction_of_the_last_move():
    class Cached:
        def cached(self, value: float) -> bool:
            return value == 0.4

    assert rt.ahead_values(3, -60, 60, 1, Cached()) == [0.2, 0.5, 0.1]  # 0.4 is cached: left out
    assert rt.ahead_values(3, -60, 60, -1, Cached()) == [0.2, 0.1, 0.5]
    assert rt.ahead_values(60, -60, 60, 1, Cached()) == [5.9, 5.8]  # not beyond the slider's end


def _preview(key) -> rt.Preview:
    return rt.Preview(key, 0, 1, (0,), np.zeros((2, 2), np.uint16), 0.01)


def test_preview_plan_computes_one_at_a_time_the_latest_settings_only():
    a, b = ("a_vSM.log", 0, Thresholds(0.0)), ("a_vSM.log", 0, Thresholds(0.5))
    plan = rt.PreviewPlan(cellprob_pos=0)
    assert plan.next(running=False) is None  # nothing asked for
    plan.wanted = a
    assert plan.next(running=True) is None and plan.next(running=False) == a
    plan.wanted = b  # moved while a is computed: a's result is stale, b comes next
    assert not plan.shown(_preview(a)) and plan.last is None
    assert plan.rest(ahead_running=False) is None  # nothing current on screen to compute around
    assert plan.next(running=False) == b
    assert plan.shown(_preview(b)) and plan.last.key == b
    assert plan.next(running=False) is None  # shown already
    assert plan.rest(ahead_running=False) == b and plan.rest(ahead_running=True) is None
    plan.wanted = None  # its preview failed
    assert plan.next(running=False) is None


def test_preview_plan_follows_the_direction_of_the_last_cell_probability_move():
    plan = rt.PreviewPlan(cellprob_pos=5)
    assert plan.direction == 1
    plan.moved(3)
    assert plan.direction == -1
    plan.moved(3)  # no move: the direction stays
    assert plan.direction == -1
    plan.moved(4)
    assert plan.direction == 1


def test_apply_all_reports_each_log_and_a_failing_one_does_not_stop_the_batch(tmp_path):
    logs = [str(tmp_path / "missing_vSM.log"), str(tmp_path / "gone_vSM.log")]
    job = _Job()
    rt.apply_all(logs, Thresholds(), "x", False, job)
    kinds = [(r[0], r[1]) for r in job.reports]
    assert kinds == [("start", 0), ("error", 0), ("start", 1), ("error", 1)]
    lines = rt.ApplyLines(2)
    text = ""
    for item in job.reports:
        text = lines.update(item)
    first, *rest = text.splitlines()
    assert first == "2/2" and all(x.split(": ")[1] == "failed" for x in rest), text
    job = _Job()
    job.cancel.set()
    rt.apply_all(logs, Thresholds(), "x", False, job)
    assert job.reports == []


def test_apply_lines_count_only_finished_logs():
    lines = rt.ApplyLines(2)
    assert lines.update(("start", 0, "/d/a_vSM.log", "")) == "0/2\na_vSM.log: working…"
    assert lines.update(("ok", 0, "/d/a_vSM.log", "a_vSM-rt.ome.tif")).startswith("1/2\na_vSM.log: a_vSM-rt")


def test_apply_refusal_and_the_layers_a_rewritten_mask_leaves_stale(tmp_path):
    from types import SimpleNamespace

    from napari_batchseg.view.layer_files import mark_rewritten

    assert rt.apply_refusal("  ", False).startswith("Give a suffix")
    assert rt.apply_refusal("a b", True) == "Suffix 'a b': use A-Z, a-z, 0-9 and '-' only."
    assert rt.apply_refusal("", True) is None and rt.apply_refusal(" rt-2 ", False) is None
    assert "tracked copies" in rt.apply_refusal("rt-tracked", False)
    mask = tmp_path / "a_vSM.ome.tif"
    b_mask = str(tmp_path / "b_vSM.ome.tif")
    shown = SimpleNamespace(name="a_vSM", metadata={"batchseg": {"mask_path": f"{tmp_path}/./{mask.name}"}})
    other = SimpleNamespace(name="b_vSM", metadata={"batchseg": {"mask_path": b_mask}})
    plain = SimpleNamespace(name="image", metadata={})
    assert mark_rewritten([shown, other, plain], [mask], "Re-threshold rewrote a_vSM.ome.tif") == ["a_vSM"]
    resolved = SimpleNamespace(name="c", metadata={"batchseg": {"mask_path": "/real/c_vSM.ome.tif"}})
    assert mark_rewritten([resolved], ["/link/c_vSM.ome.tif", "/real/c_vSM.ome.tif"], "r") == ["c"]
    assert shown.metadata["batchseg"] == {"mask_path": None, "stale": "Re-threshold rewrote a_vSM.ome.tif"}
    assert other.metadata["batchseg"]["mask_path"] == b_mask and plain.metadata == {}
    assert rt.rewritten_note([]) == ""
    lines = rt.ApplyLines(1)
    text = lines.update(("ok", 0, "/d/a_vSM.log", "a_vSM.ome.tif (1 frame(s), 0.2 s)", str(mask)),
                        rt.rewritten_note(["a_vSM"]))
    assert text.startswith("1/1\na_vSM.log: a_vSM.ome.tif (1 frame(s), 0.2 s) (layer 'a_vSM' shows the mask")


def test_an_applied_log_leaves_the_layers_showing_its_old_mask_stale(tmp_path):
    from types import SimpleNamespace

    mask = tmp_path / "a_vSM.ome.tif"
    shown = SimpleNamespace(name="a_vSM", metadata={"batchseg": {"mask_path": str(mask)}})
    report = ("ok", 0, "/d/a_vSM.log", "a_vSM.ome.tif (1 frame(s), 0.2 s)", str(mask))
    assert rt.applied_note([shown], ("failed", 0, "/d/a_vSM.log", "no flows")) == ""
    assert rt.applied_note([shown], report) == rt.rewritten_note(["a_vSM"]) != ""
    assert shown.metadata["batchseg"] == {"mask_path": None, "stale": "Re-threshold rewrote a_vSM.ome.tif"}


# ---------------------------------------------------------------------------------- train
def test_training_params_from_the_form_values():
    values = _defaults(TRAIN_FIELDS) | {"frames": "0,3-4", "epochs": 7}
    params = training_params(values, "  cyto3 ")
    assert params.base_model == "cyto3" and params.epochs == 7 and params.frames == [0, 3, 4]
    assert params.images_per_epoch is None  # the spin box's 0 is "all frames"
    assert params.optimizer == "adamw" and params.batch_size == 8 and params.crop_size == 224
    # review: the dock's 0.005 (train_seg's default, for training from scratch) against the docs' 0.001
    # for fine-tuning with AdamW: the field's "auto" is the core's choice
    assert params.learning_rate == 0.001
    assert training_params(values, "scratch").learning_rate == 0.005
    assert training_params(values | {"optimizer": "sgd"}, "cyto3").learning_rate == 0.005
    assert training_params(values | {"learning_rate": 0.02}, "cyto3").learning_rate == 0.02
    with pytest.raises(ValueError, match="is not a frame number"):
        training_params(values | {"frames": "first"}, "cyto3")


def test_training_inputs_name_what_is_missing():
    image = SimpleNamespace(name="img", data=np.zeros((2, 8, 8)), rgb=False, multiscale=False)
    labels = SimpleNamespace(name="lab", data=np.zeros((2, 8, 8), np.uint16))
    source, arrays, paths = training_inputs(True, image, labels, "")
    assert source == SOURCE_LAYERS and arrays is not None and arrays[0] is image.data
    assert arrays[2] == "img + lab" and paths == []
    with pytest.raises(ValueError, match="choose an image layer and a Labels layer"):
        training_inputs(True, image, None, "")
    with pytest.raises(ValueError, match="single-channel"):
        training_inputs(True, SimpleNamespace(name="rgb", data=None, rgb=True), labels, "")
    assert training_inputs(False, None, None, " a.tif ; ;b ") == (SOURCE_FILES, None, ["a.tif", "b"])
    with pytest.raises(ValueError, match="give result files"):
        training_inputs(False, None, None, " ; ")
    # a walk: 'corrected' frames were refused for every layer pair; a layer of a mask file trains on it
    with pytest.raises(ValueError, match="'lab': 'corrected' frames come from a _vSM mask file"):
        training_inputs(True, image, labels, "", "corrected")
    labels.metadata = {"batchseg": {"mask_path": "/d/a_vSM.ome.tif"}}
    assert training_inputs(True, image, labels, "", "corrected") == (SOURCE_FILES, None, ["/d/a_vSM.ome.tif"])
    assert training_inputs(True, image, labels, "", [0])[0] == SOURCE_LAYERS  # other frames: the layers
    labels.metadata["batchseg"]["dirty"] = True
    with pytest.raises(ValueError, match="'lab' has unsaved corrections: save them"):
        training_inputs(True, image, labels, "", "corrected")


def test_training_from_layers_lines_the_image_up_with_a_mask_of_some_frames(tmp_path: Path):
    """Issue #20 walk: a mask of frames 3-8 of a 53-frame ND2 and the ND2's layer were refused ("image and
    mask have different shapes (image (53, 64, 64), mask (6, 64, 64))"): the image's frames 3-8 are used,
    as the Measure dock lines them up, and read in the worker, not on the GUI thread."""
    from napari_batchseg.io.masks import write_mask
    from napari_batchseg.training import frames_from_arrays
    from napari_batchseg.view.layer_files import image_layer_data, mask_layer_data

    nd2 = Path(__file__).resolve().parents[1] / "examples" / "data" / "arcadia_ecoli_gfp_timelapse.nd2"
    data, kwargs, _ = image_layer_data(nd2)[0]
    whole = np.asarray(data)
    assert whole.shape == (53, 64, 64)
    reads: list[object] = []

    class Lazy:  # the layer's lazy data, saying when it is read
        shape, dtype, ndim = data.shape, data.dtype, data.ndim

        def __getitem__(self, key):
            reads.append(key)
            return data[key]

        def __array__(self, dtype=None, copy=None):
            return np.asarray(self[...], dtype)

    image = SimpleNamespace(name=kwargs["name"], data=Lazy(), rgb=False, multiscale=False)
    yy, xx = np.mgrid[:64, :64]
    masks = np.stack([((yy - 20 - t) ** 2 + (xx - 30) ** 2 < 64).astype(np.uint16) for t in range(6)])
    log = "2026-12-06 22:25:57.917 | segmentation | INFO | frames: 3-8 (6 of 53)\n"
    mask = write_mask(tmp_path / "ecoli_vSM.ome.tif", masks, PixelSize(x=0.325, y=0.325), log)
    lab_data, lab_kwargs, _ = mask_layer_data(mask)[0]
    labels = SimpleNamespace(name=lab_kwargs["name"], data=lab_data, metadata=lab_kwargs["metadata"])
    assert lab_data.shape == (6, 64, 64)
    source, arrays, _ = training_inputs(True, image, labels, "")
    assert source == SOURCE_LAYERS and arrays is not None and not reads  # nothing read yet
    pairs = frames_from_arrays(np.asarray(arrays[0]), np.asarray(arrays[1]), arrays[2], "all", 1)
    assert arrays[2] == f"{image.name} [frames 3-8] + ecoli_vSM"  # (the frames in the model's provenance)
    assert len(reads) == 1 and len(pairs.frames) == 6
    for i, frame in enumerate(pairs.frames):
        assert np.array_equal(frame.labels, masks[i])
        assert np.array_equal(np.squeeze(frame.image), whole[3 + i]), i
    # one frame (frame 5) of the series; a drawn Labels layer (no first frame recorded) is not lined up
    one = SimpleNamespace(name="one", data=masks[:1], metadata={"batchseg": {"first_frame": 5}})
    assert np.array_equal(np.asarray(training_inputs(True, image, one, "")[1][0]), whole[5:6])
    drawn = SimpleNamespace(name="drawn", data=masks)
    assert training_inputs(True, image, drawn, "")[1][0] is image.data


def test_training_from_layers_lines_a_volume_up_with_a_mask_of_some_time_points():
    """A walk: a volume run's mask of time points 1-2 beside its (T, Z, Y, X) input was refused ("image and
    mask have different shapes"); it is lined up as a time series' frames are, each XY slice a pair."""
    from napari_batchseg.training import frames_from_arrays

    stack = np.random.default_rng(0).random((4, 3, 32, 32), np.float32)
    image = SimpleNamespace(name="stack", data=stack, rgb=False, multiscale=False)
    masks = np.zeros((2, 3, 32, 32), np.uint16)
    masks[:, :, 4:12, 4:12], masks[:, :, 16:28, 16:28] = 1, 2
    labels = SimpleNamespace(name="stack_vSM", data=masks, metadata={"batchseg": {"first_frame": 1}})
    source, arrays, _ = training_inputs(True, image, labels, "")
    assert source == SOURCE_LAYERS and arrays is not None and arrays[2] == "stack [frames 1-2] + stack_vSM"
    pairs = frames_from_arrays(np.asarray(arrays[0]), np.asarray(arrays[1]), arrays[2], "all", 1)
    assert len(pairs.frames) == 6
    assert np.array_equal(np.squeeze(pairs.frames[3].image), image.data[2, 0])  # time point 2, Z 0


def test_a_training_starts_from_the_built_in_models_or_scratch():
    from napari_batchseg.segmenters.catalog import offered_models
    from napari_batchseg.training.run import SCRATCH

    models = base_models()
    assert models[:-1] == list(offered_models("cellpose")) and models[-1] == SCRATCH == "scratch"


def test_saved_text_shows_the_score_before_when_known():
    from napari_batchseg.training import TrainingResult, ValidationScore

    def result(before: float | None, after: float) -> TrainingResult:
        def score(ap: float) -> ValidationScore:
            return ValidationScore(ap=ap, f1=ap, tp=1, fp=0, fn=0)

        first = None if before is None else score(before)
        return TrainingResult(Path("/m/new"), Path("/m/new.json"), [], [], first, score(after),
                              {"parameters": {"learning_rate": 0.005}})

    assert saved_text(result(0.5, 0.8125)) == "saved new in /m; validation AP@0.5: base 0.500 → new 0.812"
    assert saved_text(result(None, 0.8125)).endswith(": new 0.812")
    # a user walk: a 2-epoch model worse than its base (0.655 -> 0.403) was saved without a word
    worse = saved_text(result(0.655, 0.403))
    assert worse.startswith("saved new in /m; validation AP@0.5: base 0.655 → new 0.403. Note: the new model "
                            "scores lower than its base") and "lower learning rate" in worse
    assert saved_text(result(0.655, 0.65)).endswith("new 0.650")  # within noise: nothing said


# ---------------------------------------------------------------------------------- track
def test_tracks_are_saved_only_beside_a_mask_file_holding_the_layers_corrections():
    source = SimpleNamespace(name="a_vSM", metadata={"batchseg": {"mask_path": "/d/a_vSM.ome.tif"}})
    assert source_seen(source).refusal() is None
    assert source_seen(SimpleNamespace(name="a", metadata={})).refusal() == NOTHING_SEEN.refusal() == NO_MASK
    source.metadata["batchseg"]["dirty"] = True
    assert source_seen(source).refusal() == UNSAVED_EDITS.format(name="a_vSM")


def test_tracking_a_layer_reads_its_data_in_the_job_and_matches_track_masks():
    movie = synthetic_movie(seed=4)
    values = _defaults(TRACK_FIELDS) | CHECKED | {"max_distance": movie.max_step + 1}
    params = track_params(values)
    assert params.divisions and params.method == "laptrack" and params.gap_frames == 0
    assert params.daughter_share == TrackParams().daughter_share  # the dock's field, its default

    class Lazy:  # a layer's lazy array: read by np.asarray, in the job
        shape = movie.masks.shape
        dtype = movie.masks.dtype
        reads = 0

        def __array__(self, dtype=None, copy=None):
            Lazy.reads += 1
            return movie.masks

    result = track_layer_data(Lazy(), params, PixelSize(), 0)
    expected = track_masks(movie.masks, max_distance=movie.max_step + 1)
    assert Lazy.reads >= 1 and result.n_tracks == expected.n_tracks
    assert np.array_equal(result.labels, expected.labels)


# ---------------------------------------------------------------------------------- measure
def test_row_target_in_world_coordinates():
    table = pd.DataFrame({"frame": [0, 4], "label": [3, 9], "centroid_y_px": [10.0, 2.0],
                          "centroid_x_px": [5.0, 1.0]})
    # frames are input frames: a layer of frames 2.. (T step 30 s) sits at T 60 s; frame 4 at 120 s
    target = row_target(table, 1, (30.0, 0.5, 0.25), (60.0, 1.0, 2.0), 3, first_frame=2)
    assert target == (120.0, None, 2.0, 2.25, 9)
    assert row_target(table, 0, (0.5, 0.5), (0.0, 0.0), 2) == (None, None, 5.0, 2.5, 3)
    assert row_target(table, 2, (1, 1), (0, 0), 2) is None
    assert row_target(table, -1, (1, 1), (0, 0), 2) is None


def test_row_target_of_a_volume_table_gives_the_objects_slice():
    """A volume run's (T, Z, Y, X) layer: a row click went to the object's Y, X, at whatever Z was shown."""
    table = pd.DataFrame({"frame": [3], "label": [7], "centroid_z_px": [5.0], "centroid_y_px": [10.0],
                          "centroid_x_px": [4.0]})
    target = row_target(table, 0, (1.0, 2.0, 0.5, 0.5), (3.0, 1.0, 0.0, 0.0), 4, first_frame=3)
    assert target == (3.0, 11.0, 5.0, 2.0, 7)
    assert target is not None and target.z == 11.0 and target.label == 7


def test_measure_and_evaluate_layers_read_the_layers_data_in_the_job():
    movie = synthetic_movie(n_frames=6, seed=2)
    table = measure_layer(movie.masks, None, None, "movie")
    pd.testing.assert_frame_equal(table, measure_frames(movie.masks, None, None, file="movie"))
    assert set(table["frame"]) == set(range(6)) and (table["file"] == "movie").all()
    later = measure_layer(movie.masks, None, None, "movie", first_frame=3)  # a result of frames 3-8
    assert later["frame"].tolist() == (table["frame"] + 3).tolist()
    timed = measure_layer(movie.masks, None, None, "movie", 3, slice(None), 0.5)
    assert list(timed.columns[:5]) == ["file", "position", "position_name", "frame", "time_s"]
    assert timed["time_s"].tolist() == (later["frame"] * 0.5).tolist()  # input frames, as the CLI's
    meta = {"mask_path": "/d/movie_vSM.ome.tif", "pixel_size": {"x": 0.3, "y": 0.3, "t": 2.0}}
    assert (table_file_name(meta, "movie"), frame_interval(meta)) == ("movie_vSM.ome.tif", 2.0)
    assert (table_file_name({}, "drawn"), frame_interval({"pixel_size": {"t": None}})) == ("drawn", None)
    # a review: a multi-position mask's rows said position 0 (batchseg measure writes its own)
    from napari_batchseg.results import logged_position

    log = "2026-12-06 09:00:00 | segmentation | INFO | position: 2 of 3 (P2)\n"
    assert logged_position(log) == 2 and logged_position("") == 0
    assert set(measure_layer(movie.masks, None, None, "m", 0, slice(None), None, 2)["position"]) == {2}
    assert list(evaluate_layers(movie.masks, movie.masks, first_frame=3)["frame"]) == [*range(3, 9), "all"]
    scores = evaluate_layers(movie.masks, movie.masks)
    assert list(scores["frame"]) == [*range(6), "all"] and (scores["f1_50"] == 1.0).all()
    pred = movie.masks.copy()
    pred[pred == pred[0].max()] = 0  # one object of frame 0 missed
    assert evaluate_layers(pred, movie.masks).loc[0, "fn_50"] == 1


def test_evaluation_needs_two_layers_of_one_shape():
    assert evaluation_problem((4, 4), None, False) == "choose two different Labels layers"
    assert evaluation_problem((4, 4), (4, 4), True) == "choose two different Labels layers"
    assert evaluation_problem((2, 4, 4), (4, 4), False) == "the layers differ in shape (2x4x4 and 4x4)"
    assert evaluation_problem((4, 4), (4, 4), False) is None
    # QA: a single image's streamed result is (1, Y, X), its ground truth (Y, X): the same pixels
    assert evaluation_problem((1, 4, 4), (4, 4), False) is None
    assert evaluation_problem((4, 4), (1, 1, 4, 4), False) is None
    assert evaluation_problem((1, 4, 5), (4, 4), False) == "the layers differ in shape (1x4x5 and 4x4)"


def test_a_single_images_result_is_measured_and_evaluated_against_its_2d_image():
    movie = synthetic_movie(n_frames=6, seed=3)
    labels, image = movie.masks[:1], movie.masks[0].astype(np.float32) * 3.0  # (1, Y, X) and (Y, X)
    table = measure_layer(labels, image, None, "one")
    assert len(table) == len(np.unique(labels)) - 1
    assert np.allclose(table["mean_intensity"], 3.0 * table["label"]), table.columns
    scores = evaluate_layers(labels, labels[0])
    assert list(scores["f1_50"]) == [1.0]


def test_the_export_pattern_is_searched_where_the_dock_says():
    assert "pattern_on" in {f.key for f in EXPORT_FIELDS}
    values = {"overwrite": False, "pattern": r"(?P<well>[A-H]\d+)", "test_fraction": 0.0}
    assert export_options({**values, "pattern_on": "position"}).pattern_on == "position"
    assert export_options(values).pattern_on == "file"


def test_the_dock_names_its_pattern_fields_not_the_command_lines():
    from napari_batchseg.view.fields import by_key
    from napari_batchseg.view.phrasing import for_dock

    core = ("m.tif: pattern 'x' matches none of input 'a.tif'; it matches the position name 'P1': "
            "give --pattern-on position (API: pattern_on='position') to read it")  # (the core's words)
    said = for_dock(core, by_key(EXPORT_FIELDS))
    assert said == ("m.tif: pattern 'x' matches none of input 'a.tif'; it matches the position name 'P1': "
                    "choose 'Pattern in: position names first' to read it")
    assert for_dock("use --pattern-on file", by_key(EXPORT_FIELDS)) == "use 'Pattern in' file"


def test_export_options_csv_and_texts(tmp_path):
    options = export_options({"overwrite": True, "pattern": "  ", "test_fraction": 0.25, "kind": "rois"})
    assert options.overwrite and options.pattern is None and options.test_fraction == 0.25
    assert export_options({"overwrite": False, "pattern": r" (?P<a>\d) ", "test_fraction": 0.0}).pattern == \
        r"(?P<a>\d)"
    table = pd.DataFrame({"file": ["f.tif", "f.tif"], "area_px": [3, 5]})
    out = write_csv(table, tmp_path / "objects.csv")
    pd.testing.assert_frame_equal(pd.read_csv(out), table)
    assert [p.name for p in tmp_path.iterdir()] == ["objects.csv"]  # atomic: no temporary file left
    assert measured_text(table, None) == "2 object(s) in f.tif."
    assert measured_text(table.iloc[:0], None) == "0 object(s) in the file."
    assert measured_text(table, "gt") == "2 object(s) in gt."
    assert measured_text(table, "a.tif", "b.tif") == "2 object(s) in a.tif (its layer shows b.tif now)."


# ---------------------------------------------------------------------------------- correction undo
def _record(data: np.ndarray, frames: tuple[int, ...], new: np.ndarray, layer_id="L") -> FixRecord:
    old = data[list(frames)].copy() if frames else data.copy()
    return FixRecord(layer_id, ("task", "m.ome.tif"), array_ref(data), data.shape,
                     np.asarray(frames, dtype=int), old, new, "remove small")


def test_a_computed_fix_is_written_as_the_layers_dtype_and_recorded_for_undo():
    from napari_batchseg import corrections as cx
    from napari_batchseg.view.fixes import compute_fix

    data = np.zeros((3, 8, 8), np.uint16)
    data[1, 1:3, 1:3], data[1, 4:8, 4:8], data[2, 0, 0] = 1, 2, 3
    before = data.copy()
    out = compute_fix(cx.remove_small, data, (5,), [1])
    rec = fix_undo.write_computed("L", ("task", "m.ome.tif"), data, out, "remove small")
    assert data.dtype == np.uint16 and not (data[1] == 1).any() and (data[1] == 2).sum() == 16
    assert np.array_equal(data[[0, 2]], before[[0, 2]]) and list(rec.frames) == [1]
    assert rec.layer_id == "L" and rec.output == ("task", "m.ome.tif") and rec.what == "remove small"
    assert rec.shape == (3, 8, 8) and rec.data() is data
    assert undo_frames(rec, data) and np.array_equal(data, before)


def test_a_fix_is_written_and_undone_only_while_its_frames_hold_what_it_wrote():
    data = np.arange(3 * 4 * 4, dtype=np.uint16).reshape(3, 4, 4)
    before = data.copy()
    new = np.zeros((1, 4, 4), np.uint16)
    rec = _record(data, (1,), new)
    write_fix(data, (1,), new)
    assert not data[1].any() and np.array_equal(data[[0, 2]], before[[0, 2]])
    assert undo_frames(rec, data) and np.array_equal(data, before)
    write_fix(data, (1,), new)
    data[1, 0, 0] = 7  # painted since
    assert not undo_frames(rec, data) and data[1, 0, 0] == 7
    flat = np.ones((4, 4), np.uint16)
    write_fix(flat, (), np.zeros((4, 4), np.uint16))
    assert not flat.any()


def test_undo_slot_says_why_undo_is_off():
    data = np.ones((2, 4, 4), np.uint16)
    slot = UndoSlot()
    assert slot.target([]) == (None, "") and slot.tooltip("", None) == NO_UNDO
    rec = _record(data, (0,), np.zeros((1, 4, 4), np.uint16))
    slot.hold(rec)
    layers = [("layer", "L", data, ("task", "m.ome.tif"))]
    assert slot.target(layers) == ("layer", "")
    assert slot.tooltip("", None) == "Undo: remove small"
    assert slot.tooltip("", "other") == "Undo: remove small (on layer 'other': select it)"
    assert slot.painted("another layer") is None and slot.record is rec
    assert slot.painted("L") == "Undo off: painted after remove small" and slot.record is None
    assert slot.tooltip(slot.off, None).startswith("Undo is off: the layer was painted after the fix")
    slot.hold(rec)
    assert slot.target([("layer", "L", data.copy(), ("task", "m.ome.tif"))])[1].endswith(
        "now shows another output or a reopened copy")
    slot.hold(rec)
    assert slot.target([("layer", "L", data, ("other task", "x.ome.tif"))])[0] is None
    slot.hold(rec)
    assert slot.target([]) == (None, "the layer of the fix (remove small) was closed")
    slot.hold(rec)
    slot.saved("L", "m_vSM.ome.tif")
    assert slot.record is None and slot.off == "the fix (remove small) is saved in m_vSM.ome.tif"
    slot.hold(rec)
    assert "were edited since" in slot.edited_since() and slot.record is None


def test_undo_slot_keeps_fixes_newest_first_and_forgets_a_layers_together():
    """Walk: Undo went back one fix only. Fixes are undone newest first; painting (or saving) a layer
    forgets that layer's fixes, not another layer's; the number and bytes kept are bounded."""
    a, b = np.ones((3, 4, 4), np.uint16), np.ones((2, 4, 4), np.uint16)
    zero = np.zeros((1, 4, 4), np.uint16)
    slot = UndoSlot()
    a0, bm, a1 = _record(a, (0,), zero), _record(b, (1,), zero, "M"), _record(a, (1,), zero)
    for rec in (a0, bm, a1):
        slot.hold(rec)
    assert slot.record is a1 and slot.tooltip("", None).endswith("; 2 earlier fix(es) can be undone after it")
    slot.hold(None)  # a1 undone
    assert slot.record is bm
    layers = [("A", "L", a, ("task", "m.ome.tif")), ("B", "M", b, ("task", "m.ome.tif"))]
    assert slot.target(layers) == ("B", "")
    slot.hold(a1)
    assert slot.painted("L") == "Undo off: painted after remove small"
    assert slot.records == [bm] and slot.off == ""
    slot.saved("M", "b_vSM.ome.tif")
    assert slot.record is None and slot.off == "the fix (remove small) is saved in b_vSM.ome.tif"
    # the layer of the newest fix was closed: the next one (another layer's) is the target
    slot.hold(bm)
    slot.hold(a0)
    assert slot.target([layers[1]]) == ("B", "") and slot.records == [bm]
    for _ in range(fix_undo.UNDO_DEPTH + 5):
        slot.hold(a0)
    assert len(slot.records) == fix_undo.UNDO_DEPTH
    big = _record(np.ones((1, 4096, 8192), np.uint16), (0,), np.zeros((1, 4096, 8192), np.uint16))
    for _ in range(9):  # 128 MiB per fix (before and after)
        slot.hold(big)
    assert len(slot.records) == 8 and all(r is big for r in slot.records)


def test_target_text_names_the_file_or_why_it_cannot_be_saved():
    assert target_text("a", {"mask_path": "/d/a_vSM.ome.tif"}) == "layer: a — a_vSM.ome.tif"
    assert target_text("a", {}) == "layer: a — not saved yet: no mask file to save to"
    assert "not saved to its mask: rewritten" in target_text("a", {"stale": "rewritten"})


def test_dock_errors_name_the_docks_fields_not_the_command_lines(tmp_path):
    """A user walk: the Train and Measure docks said "pass --overwrite (API: overwrite=True)"; the core's
    messages are phrased with each dock's own fields."""
    from napari_batchseg.errors import OutputError
    from napari_batchseg.training.base import check_output
    from napari_batchseg.view.fields import by_key
    from napari_batchseg.view.measure_form import EXPORT_FIELDS
    from napari_batchseg.view.phrasing import for_dock
    from napari_batchseg.view.training_form import TRAIN_FIELDS

    model = tmp_path / "model"
    model.write_bytes(b"x")
    with pytest.raises(OutputError) as err:
        check_output(model, overwrite=False)
    said = for_dock(str(err.value), by_key(TRAIN_FIELDS))
    assert said == f"output {model} exists; choose another name or tick 'overwrite' to replace it"
    assert for_dock("outputs exist; nothing was written (pass --overwrite to replace them)",
                    by_key(EXPORT_FIELDS)).endswith("(tick 'Replace existing exports' to replace them)")
    assert for_dock("use a smaller --learning-rate", by_key(TRAIN_FIELDS)) == "use a smaller 'Learning rate'"


def test_the_export_line_names_the_masks_left_out(tmp_path):
    from napari_batchseg.export import ExportResult
    from napari_batchseg.view.measure_form import exported_text

    done = ExportResult("semantic", outputs={tmp_path / "a": [tmp_path / "a_semantic.tif"]})
    assert exported_text(done, "out") == "Wrote 1 file(s) in out."
    done.failed = {tmp_path / "b": "b: not labels", tmp_path / "c": "c: not found"}
    assert exported_text(done, "out") == "Wrote 1 file(s) in out. Not exported: b: not labels (and 1 more)"


def test_a_docks_errors_about_a_mask_without_its_log_name_what_the_dock_offers(tmp_path):
    # review: the Measure dock said "give the input image (--image) ..." (a flag it has no field for), the
    # Track dock "give --image when it has no log"
    import tifffile

    from napari_batchseg._labels import PreparedImage, open_mask_stack, resolve_source
    from napari_batchseg.errors import InputError
    from napari_batchseg.view.measure_form import EXPORT_FIELDS
    from napari_batchseg.view.phrasing import for_dock
    from napari_batchseg.view.track_form import TRACK_FIELDS

    path = tmp_path / "a_vSM.ome.tif"
    tifffile.imwrite(path, np.zeros((2, 16, 16), np.uint16), metadata={"axes": "TYX"})
    mask = open_mask_stack(path)
    with pytest.raises(InputError) as no_log:
        resolve_source(mask)
    with pytest.raises(InputError) as moved:
        PreparedImage(mask, resolve_source(mask, image=tmp_path / "gone.tif"))
    for exc in (no_log.value, moved.value):
        said = for_dock(str(exc), {f.key: f for f in EXPORT_FIELDS})
        assert "as the Intensity image" in said and "on the command line" in said, said
        assert said.startswith(str(path)), said
    astra = "trackastra needs images (the mask's log names them; give --image when it has no log)"
    said = for_dock(astra, {f.key: f for f in TRACK_FIELDS})
    assert said.endswith("without a log, track it on the command line with --image)"), said


def test_a_run_that_made_nothing_shows_the_first_skipped_output_whose_mask_exists(tmp_path):
    from napari_batchseg.events import Task
    from napari_batchseg.io.naming import OutputNames
    from napari_batchseg.runners.session import TaskState
    from napari_batchseg.view.result_showing import skipped_to_show

    def state(name: str, status: str, mask: bool) -> TaskState:
        names = OutputNames(tmp_path / f"{name}_vSM.ome.tif", tmp_path / f"{name}_vSM.log")
        task = Task(tmp_path / f"{name}.tif", 0, 1, names)
        return TaskState(task, 1, status, mask_path=names.mask if mask else None)  # type: ignore[arg-type]

    busy, failed = state("a", "skipped", False), state("b", "failed", False)
    kept = state("c", "skipped", True)
    assert skipped_to_show([busy, failed, kept]) is kept  # "a" is still being made by another run
    assert skipped_to_show([busy, failed]) is None


def test_loss_curves_keep_their_lists_and_draw_whole_epochs():
    from matplotlib.figure import Figure

    curves = LossCurves()
    epochs = curves.epochs
    curves.add(1, 0.9, 1.0)
    curves.add(2, 0.5, 0.7)
    axes = Figure().add_subplot(111)
    curves.draw(axes, "#000000", "#ffffff")
    assert [list(line.get_ydata()) for line in axes.lines] == [[0.9, 0.5], [1.0, 0.7]]
    assert axes.get_xlim() == (0.5, 2.5)
    curves.clear()
    assert curves.epochs is epochs and epochs == [] and curves.train == []


def test_the_widget_says_how_to_keep_another_inputs_output_with_its_own_fields():
    """The core's advice for the output of another input of the same name (4fdfe3c) named --suffix S and
    --output-dir DIR in the dock."""
    from napari_batchseg.view.phrasing import for_widget

    core = ("/d/a_vSM.ome.tif is the output of another input, /d/a.tif (still there); not replaced (use "
            "--suffix S or --output-dir DIR to keep both)")
    said = for_widget(core)
    assert said.endswith("(use another Suffix or Output folder to keep both)"), said
    assert "--" not in said
