"""Qt-free decisions of the docks (issue 20): what their widgets show, enable and say, tested without Qt.

Each function moved out of a widget module of ``napari_batchseg._napari`` into ``napari_batchseg.view``;
the widget tests check the same behaviour through napari.
"""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from napari_batchseg.runners import PARALLEL_MODES
from napari_batchseg.runners.session import TaskState
from napari_batchseg.segmenters.cellpose.rethreshold import Thresholds
from napari_batchseg.training.run import TrainingProgress
from napari_batchseg.view import rethreshold as rt
from napari_batchseg.view.file_list import AS_SETTINGS, file_channel_entries
from napari_batchseg.view.fix_undo import (
    CORRECT_FIELDS,
    correct_buttons,
    fix_failed_text,
    saved_text,
    target_text,
)
from napari_batchseg.view.form_state import (
    USER_MODEL,
    Z_MODES,
    method_shown,
    parallel_fields,
    uses_processes,
    z_range_allowed,
    z_shown,
)
from napari_batchseg.view.layer_files import META_KEY
from napari_batchseg.view.measure_form import (
    NONE,
    followed_mask,
    histogram_columns,
    histogram_values,
    image_to_select,
)
from napari_batchseg.view.status_table import STATUS_COLORS, follows, row_cells
from napari_batchseg.view.track_form import saved_tracks_layer
from napari_batchseg.view.tracks import split_frames
from napari_batchseg.view.training_form import loss_point, model_output


def test_rethreshold_follows_the_viewer_t_only_to_a_frame_the_run_has():
    assert rt.frame_at((4, 0, 0), (0, 2, 4)) == 2
    assert rt.frame_at((3, 0, 0), (0, 2, 4)) is None  # the run has no frame at T=3
    assert rt.frame_at((0, 0), (0, 2, 4)) is None  # a 2-D view: no T axis
    assert rt.frame_at((0, 0, 0), ()) is None  # no preview yet
    assert {f.key for f in rt.FIELDS} == {"min_size", "frame", "suffix", "overwrite"}


def test_correct_tab_buttons_need_a_labels_layer_and_no_running_job():
    assert correct_buttons(None, False, True, None) == (False, False, False)  # no Labels layer active
    assert correct_buttons("a", False, True, None) == (True, False, False)  # no mask file: no save
    assert correct_buttons("a", True, True, None) == (True, True, False)
    assert correct_buttons("a", True, True, "a") == (True, True, True)
    assert correct_buttons("a", True, True, "b") == (True, True, False)  # Undo acts on its own layer only
    assert correct_buttons("a", True, False, "a") == (False, False, False)  # a fix or save is running


def test_correct_tab_texts():
    assert target_text(None, {}) == "select a Labels layer to correct it"
    assert fix_failed_text("merge_labels", ValueError("label 3 is not in the frame")) == (
        "label 3 is not in the frame")  # the fix's own words
    assert fix_failed_text("merge_labels", RuntimeError("boom")) == "merge labels failed: boom"
    assert saved_text("a_vSM.ome.tif", True, "2 objects") == "saved a_vSM.ome.tif: 2 objects"
    assert saved_text("a_vSM.ome.tif", False, "") == "no changes to save"
    spec = {f.key: f for f in CORRECT_FIELDS}
    assert (spec["min_size"].value, spec["keep_id"].value, spec["merge_id"].value) == (30, 1, 2)
    assert spec["delete_id"].hi == 2**31 - 1  # any label of an int32 mask


def test_parallel_row_counts_processes_only_for_the_modes_that_use_them():
    mode, processes = parallel_fields(0)
    assert [data for data, _ in mode.choices] == list(PARALLEL_MODES)
    assert dict(mode.choices)["none"] == "one process"
    assert (processes.lo, processes.hi, processes.value) == (1, 1, 1)  # at least one process
    assert parallel_fields(8)[1].hi == 8
    assert not uses_processes("none") and not uses_processes(None)
    assert uses_processes("files") and uses_processes("frames")


def test_settings_form_shows_each_method_its_own_rows():
    cp3 = method_shown("cellpose", "cyto3", 3)
    assert (cp3.model_path, cp3.cellpose, cp3.sam_mode, cp3.several_channels) == (False, True, False, False)
    assert method_shown("cellpose", USER_MODEL, 3).model_path  # a model file only for the user's model
    assert method_shown("cellpose", "cpsam", 4).several_channels  # Cellpose 4: up to 3 channels
    sam = method_shown("sam", "vit_b_lm", 4)
    assert (sam.model_path, sam.cellpose, sam.sam_mode, sam.several_channels) == (True, False, True, False)


def test_z_rows_offer_a_volume_no_best_focus_and_show_each_mode_its_numbers():
    assert all(z_range_allowed("project", mode) for mode, _ in Z_MODES)
    assert [mode for mode, _ in Z_MODES if z_range_allowed("3d", mode)] == ["all", "range"]
    assert z_shown("project", "best:r") == {"radius": True, "range": False, "anisotropy": False,
                                            "stitch": False, "projection": True}
    assert z_shown("3d", "range") == {"radius": False, "range": True, "anisotropy": True, "stitch": False,
                                      "projection": False}
    assert z_shown("stitch", "all")["stitch"] and not z_shown("stitch", "all")["projection"]


def test_measure_dock_keeps_the_users_image_and_mask_choices():
    images = [NONE, "raw", "dapi"]
    assert image_to_select(images, "dapi", False) is None  # still listed: kept
    assert image_to_select(images, NONE, False) == 1  # "(none)" not picked: the first image
    assert image_to_select(images, NONE, True) is None  # "(none)" picked by hand: kept
    assert image_to_select(images, "gone", True) == 1  # its layer was removed
    assert image_to_select([NONE], NONE, False) is None  # no image layer
    assert followed_mask("/d/b_vSM.ome.tif", "", "") == "/d/b_vSM.ome.tif"
    assert followed_mask("/d/b_vSM.ome.tif", "/d/a_vSM.ome.tif", "/d/a_vSM.ome.tif") == "/d/b_vSM.ome.tif"
    assert followed_mask("/d/b_vSM.ome.tif", "/mine.tif", "/d/a_vSM.ome.tif") is None  # typed: kept
    assert followed_mask("", "", "") is None  # a layer without mask file


def test_train_dock_needs_a_model_path_and_draws_finished_epochs():
    assert model_output("  m/new.pth ") == "m/new.pth"
    with pytest.raises(ValueError, match="path of the new model file"):
        model_output("  ")
    assert loss_point(TrainingProgress("loading", "reading")) is None
    assert loss_point(TrainingProgress("epoch", epoch=3, train_loss=0.5)) == (3, 0.5, 0.0)


def test_track_dock_splits_after_the_first_tracked_frame():

    assert split_frames(SimpleNamespace(start_frame=0, n_frames=5)) == (1, 4)
    assert split_frames(SimpleNamespace(start_frame=10, n_frames=3)) == (11, 12)  # input frame numbers
    assert split_frames(SimpleNamespace(start_frame=0, n_frames=1)) == (1, 1)  # one frame: nothing to split


def test_a_files_channel_list_shows_its_channels_and_a_chosen_one_it_lacks():
    assert file_channel_entries(["DAPI", "GFP"], None) == [(None, AS_SETTINGS), (0, "0: DAPI"), (1, "1: GFP")]
    assert file_channel_entries(["DAPI"], 0) == [(None, AS_SETTINGS), (0, "0: DAPI")]
    assert file_channel_entries(["DAPI"], 3)[-1] == (3, "3")  # an index the file lacks (a script set it)
    assert file_channel_entries([], "GFP") == [(None, AS_SETTINGS), ("GFP", "GFP")]  # unreadable yet


def test_status_table_rows_and_following_the_run(tmp_path):
    def state(**kw):
        return TaskState(None, 3, **kw)  # (the task itself is not shown in these cells)

    pending = row_cells(state())
    assert (pending.status, pending.color, pending.frames, pending.objects) == ("pending", None, None, None)
    done = row_cells(state(status="done", frames_done=3, n_objects=12, mask_path=tmp_path / "a_vSM.ome.tif",
                           seconds=1.5))
    assert (done.color, done.frames, done.objects, done.details) == (STATUS_COLORS["done"], "3/3", "12",
                                                                     "…_vSM")  # (the File column: a.tif)
    assert done.tooltip.endswith("3 frame(s) in 1.5 s")
    skipped = row_cells(state(status="skipped", reason="exists"))
    assert skipped.tooltip == skipped.details  # no more to say than the cell
    assert follows("running", 4, 3, -1)  # the next running file: followed
    assert not follows("running", 4, 3, 0)  # the user selected a row: the table stays
    assert not follows("running", 3, 3, -1) and not follows("done", 4, 3, -1)


def test_rethreshold_apply_says_why_it_is_off_as_the_suffix_is_typed():
    assert rt.apply_check("rt", False, False, False) == (True, None)  # fine: the status is left alone
    enabled, text = rt.apply_check("", False, False, False)
    assert not enabled and text == rt.apply_refusal("", False)  # no suffix and no Overwrite
    assert rt.apply_check("rt", False, False, True) == (True, "")  # the refusal said before is cleared
    assert rt.apply_check("rt", False, True, False) == (False, None)  # an Apply runs: its lines stay
    assert rt.apply_check("", True, False, False) == (True, None)  # Overwrite replaces the runs' masks


def test_reopened_tracks_reuse_the_tracks_layer_opened_with_them():
    def layer(kind, csv):
        return type(kind, (), {"metadata": {META_KEY: {"tracks_csv": csv}}})()  # is_kind reads class names

    tracks, other = layer("Tracks", "/d/a_tracks.csv"), layer("Tracks", "/d/b_tracks.csv")
    labels = layer("Labels", "/d/a_tracks.csv")
    assert saved_tracks_layer([labels, other, tracks], "/d/a_tracks.csv") is tracks
    assert saved_tracks_layer([labels, other], "/d/a_tracks.csv") is None
    assert saved_tracks_layer([tracks], None) is None  # tracked here, not reopened: a new Tracks layer


def test_rethreshold_sliders_start_at_cellposes_defaults():
    lo, hi, first = rt.CP_SLIDER
    assert rt.thresholds_at(lo, 0, 0).cellprob_threshold == -6.0
    assert rt.thresholds_at(hi, 0, 0).cellprob_threshold == 6.0
    assert rt.thresholds_at(first, rt.FLOW_SLIDER[2], 15) == Thresholds(0.0, 0.4, 15)
    assert rt.value_texts(rt.thresholds_at(0, rt.FLOW_SLIDER[0], 15))[1] == "off"  # flow 0: no check


def test_measure_histogram_offers_the_numeric_columns_and_draws_the_numbers():
    table = pd.DataFrame({"label": [1, 2], "position": [0, 0], "file": ["a", "a"], "area_px": [10.0, None]})
    assert histogram_columns(table) == ["label", "area_px"]  # not the position, not the file name
    values, bins = histogram_values(table, "area_px")
    assert values.tolist() == [10.0] and bins == 5  # at least 5 bars
    assert histogram_values(pd.DataFrame({"x": range(300)}), "x")[1] == 30  # at most 30
    assert histogram_values(pd.DataFrame({"x": range(60)}), "x")[1] == 20  # a third of the values


def test_dock_refusals_keep_their_words():
    from napari_batchseg.view import fix_undo, measure_form

    assert measure_form.NO_LABELS == "Choose a Labels layer."
    assert "Export section" in measure_form.NO_MASK_FILE and "output folder" in measure_form.NO_EXPORT_PATHS
    assert fix_undo.NOTHING_TO_CHANGE == "nothing to change"
    assert fix_undo.LAYER_CHANGED.startswith("not applied")
