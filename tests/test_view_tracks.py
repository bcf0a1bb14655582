"""The "Track cells" dock's decisions without Qt (:mod:`napari_batchseg.view.tracks`)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from napari_batchseg.tracking import track_masks
from napari_batchseg.tracking.synthetic import synthetic_movie
from napari_batchseg.view.track_form import name_saved
from napari_batchseg.view.tracks import (
    NO_UNDO,
    mask_to_save,
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


def test_tracks_are_saved_beside_the_source_of_a_reopened_tracked_mask() -> None:
    assert tracked_mask({"mask_path": "/out/a_vSM.ome.tif"}) == "/out/a_vSM.ome.tif"
    reopened = {"mask_path": "/out/a-tracked.ome.tif", "tracked_from": "/out/a_vSM.ome.tif"}
    assert tracked_mask(reopened) == "/out/a_vSM.ome.tif"
    assert tracked_mask({}) is None and tracked_mask({"mask_path": None, "tracked_from": ""}) is None


def test_tracks_are_saved_beside_the_mask_of_a_removed_source_layer() -> None:
    """Issue #20 walk: the original layer removed, its tracked copy kept: the tracks keep their mask file."""
    kept = "/out/a_vSM.ome.tif"
    assert mask_to_save(None, kept) == kept  # the layer is gone: the file it had when last seen
    assert mask_to_save(None, None) is None  # a layer of no file
    assert mask_to_save({"mask_path": kept}, None) == kept  # while it is there: its own
    assert mask_to_save({"mask_path": None}, kept) is None  # its file rewritten under it: none to save beside


def test_layers_of_saved_tracks_lose_edited_in_their_names() -> None:
    """A walk: ``movie_vSM (edited) tracked`` kept its name once its tracks were saved."""
    tracked = SimpleNamespace(name="a_vSM (edited) tracked")
    tracks = SimpleNamespace(name="a_vSM (edited) tracks")
    plain = SimpleNamespace(name="a_vSM tracked [1]")
    name_saved(tracked, None, tracks, plain)
    assert (tracked.name, tracks.name, plain.name) == ("a_vSM tracked", "a_vSM tracks", "a_vSM tracked [1]")
