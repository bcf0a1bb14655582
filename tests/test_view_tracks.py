"""The "Track cells" dock's decisions without Qt (:mod:`napari_batchseg.view.tracks`)."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np

from napari_batchseg.tracking import track_masks
from napari_batchseg.tracking.synthetic import synthetic_movie
from napari_batchseg.view.layer_files import mark_rewritten
from napari_batchseg.view.track_form import NO_MASK, NOTHING_SEEN, UNSAVED_EDITS, name_saved, source_seen
from napari_batchseg.view.tracks import (
    NO_UNDO,
    SAVE_TIP,
    track_buttons,
    track_counts,
    track_inputs,
    track_under,
    tracked_mask,
    tracks_layer_data,
)


def _tracked(start: int = 0):
    movie = synthetic_movie(seed=4)
    return movie, track_masks(movie.masks, max_distance=movie.max_step + 1, start_frame=start)


def test_tracks_layer_data_rows_and_division_graph() -> None:
    movie, result = _tracked(start=5)
    data, graph = tracks_layer_data(result)
    assert data.shape == (len(result.tracks), 4)
    assert data[:, 1].min() == 0 and data[:, 1].max() == movie.masks.shape[0] - 1  # the layer's own frames
    assert set(np.unique(data[:, 0]).astype(int)) == set(result.tracks["track_id"].astype(int))
    mothers = result.tracks.loc[result.tracks["parent_track_id"] > 0, "parent_track_id"].nunique()
    assert len(set(p for v in graph.values() for p in v)) == mothers > 0
    assert f"{result.n_tracks} tracks in 12 frames, {mothers} division(s)." == track_counts(result)


def test_track_under_a_cell_and_near_a_centroid() -> None:
    _, result = _tracked(start=5)
    assert result.labels is not None
    row = result.tracks[result.tracks["frame"] == 5 + 3].iloc[0]
    y, x = float(row["centroid_y_px"]), float(row["centroid_x_px"])
    tid = int(row["track_id"])
    assert track_under(result.labels, result, (3, y, x), 5.0) == (tid, 8)
    background = np.zeros_like(result.labels)  # no label under the click: the nearest centroid in range
    assert track_under(background, result, (3, y + 2, x), 5.0) == (tid, 8)
    assert track_under(background, result, (3, y + 2, x), 1.0)[0] == 0
    assert track_under(background, result, (3, -50, -50), 5.0)[0] == 0  # outside the image, nothing near


def test_track_inputs_from_layer_metadata() -> None:
    start, ps = track_inputs({"first_frame": 4, "pixel_size": {"x": 0.5, "y": 0.25, "t": 30.0}})
    assert start == 4 and (ps.x, ps.y, ps.z, ps.t) == (0.5, 0.25, None, 30.0)
    start, ps = track_inputs({})
    assert start == 0 and (ps.x, ps.y, ps.t) == (None, None, None)


def test_track_buttons() -> None:
    busy = track_buttons(False, True, True, "join 3 + 4")
    assert not (busy.track or busy.edit or busy.save or busy.undo)
    fresh = track_buttons(True, False, False, "")
    assert fresh.track and not fresh.edit and not fresh.save and not fresh.undo and fresh.undo_tip == NO_UNDO
    edited = track_buttons(True, True, False, "join 3 + 4")
    assert edited.edit and not edited.save and edited.undo and edited.undo_tip == "Undo: join 3 + 4"
    assert track_buttons(True, True, True, "").save
    # a result that cannot be saved: the disabled Save button's tooltip says why (pressing it says nothing)
    assert track_buttons(True, True, False, "", "Not saved: why").save_tip == "Not saved: why"
    assert track_buttons(True, True, True, "", UNSAVED_EDITS).save_tip == SAVE_TIP  # on: pressing it says
    assert track_buttons(True, False, False, "", NO_MASK).save_tip == SAVE_TIP  # nothing tracked yet


def test_tracks_are_saved_beside_the_source_of_a_reopened_tracked_mask() -> None:
    assert tracked_mask({"mask_path": "/out/a_vSM.ome.tif"}) == "/out/a_vSM.ome.tif"
    reopened = {"mask_path": "/out/a-tracked.ome.tif", "tracked_from": "/out/a_vSM.ome.tif"}
    assert tracked_mask(reopened) == "/out/a_vSM.ome.tif"
    assert tracked_mask({}) is None and tracked_mask({"mask_path": None, "tracked_from": ""}) is None


def _layer(name: str, **meta) -> SimpleNamespace:
    return SimpleNamespace(name=name, metadata={"batchseg": meta})


def test_tracks_are_saved_beside_the_mask_of_a_removed_source_layer() -> None:
    """Issue #20 walk: the original layer removed, its tracked copy kept: the tracks keep their mask file."""
    kept = "/out/a_vSM.ome.tif"
    layer = _layer("a_vSM", mask_path=kept)
    gone = source_seen(layer, removed=True)
    assert gone.mask == kept and gone.can_save and gone.refusal() is None and gone.removal_note() == ""
    assert source_seen(layer) == replace(gone, removed=False)  # while it is there: its own, read now
    assert not NOTHING_SEEN.can_save and NOTHING_SEEN.refusal() == NO_MASK  # a layer of no file
    plain = source_seen(_layer("plain"), removed=True)
    assert not plain.can_save and plain.refusal() == NO_MASK and plain.removal_note() == ""


def test_a_removed_source_layers_unsaved_corrections_turn_save_off_saying_what_to_do() -> None:
    """A walk: removed with unsaved corrections, Save tracks said 'the mask changed since it was tracked'."""
    layer = _layer("a_vSM (edited)", mask_path="/out/a_vSM.ome.tif", dirty=True)
    there = source_seen(layer)
    assert there.can_save and there.refusal() == UNSAVED_EDITS.format(name="a_vSM (edited)")  # save first
    gone = source_seen(layer, removed=True)
    note = gone.removal_note()
    assert note.startswith("a_vSM (edited) was removed with corrections not saved to a_vSM.ome.tif")
    assert "File > Save Layers" in note and "open a_vSM.ome.tif again and track it" in note
    assert not gone.can_save and gone.refusal() == f"Not saved: {note}"


def test_corrections_made_after_tracking_do_not_hold_the_tracks_back() -> None:
    """A walk: a layer corrected after it was tracked (tracks of its mask file as saved): Save tracks said
    "save them first", and once they were, the file no longer matched the tracks."""
    layer = _layer("a_vSM (edited)", mask_path="/out/a_vSM.ome.tif", dirty=True)
    later = source_seen(layer, of_edits=False)
    assert later.can_save and later.refusal() is None and not later.dirty
    assert source_seen(layer, removed=True, of_edits=False).removal_note() == ""  # nothing of them lost
    assert source_seen(layer).refusal() == UNSAVED_EDITS.format(name="a_vSM (edited)")  # tracks of them


def test_a_mask_rewritten_under_the_source_layer_is_said_by_who() -> None:
    """A walk: Re-threshold rewrote the mask under the tracked layer: Save said 'no mask file'."""
    layer = _layer("a_vSM", mask_path="/out/a_vSM.ome.tif")
    assert source_seen(layer).can_save
    assert mark_rewritten([layer], ["/out/a_vSM.ome.tif"], "Re-threshold rewrote a_vSM.ome.tif") == ["a_vSM"]
    seen = source_seen(layer)  # read again: the metadata changed without an event
    assert not seen.can_save and seen.removal_note() == ""
    why = seen.refusal()
    assert why is not None and why.startswith("Not saved: Re-threshold rewrote a_vSM.ome.tif under the")
    assert "track it again" in why and source_seen(layer, removed=True).refusal() == why


def test_layers_of_saved_tracks_lose_edited_in_their_names() -> None:
    """A walk: ``movie_vSM (edited) tracked`` kept its name once its tracks were saved."""
    tracked = SimpleNamespace(name="a_vSM (edited) tracked")
    tracks = SimpleNamespace(name="a_vSM (edited) tracks")
    plain = SimpleNamespace(name="a_vSM tracked [1]")
    name_saved(tracked, None, tracks, plain)
    assert (tracked.name, tracks.name, plain.name) == ("a_vSM tracked", "a_vSM tracks", "a_vSM tracked [1]")
