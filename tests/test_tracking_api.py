"""The public tracking API (napari_batchseg.api): track arrays, correct, undo and save, documented."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from napari_batchseg import api
from napari_batchseg.io.masks import read_mask, write_mask
from napari_batchseg.io.sources import PixelSize
from napari_batchseg.tracking.synthetic import synthetic_movie

PIXELS = PixelSize(x=0.5, y=0.5, t=60.0)
PUBLIC = ("track_masks", "track_file", "join_tracks", "split_track", "mark_division", "unmark_division",
          "save_track_edits", "EditHistory", "Edited", "TrackEditError", "TrackResult", "TrackParams",
          "track_summary", "read_tracks", "evaluate_tracks")


@pytest.mark.parametrize("name", PUBLIC)
def test_tracking_api_is_exported_and_documented(name: str) -> None:
    obj = getattr(api, name)
    doc = inspect.getdoc(obj) or ""
    assert doc.strip(), name
    if inspect.isfunction(obj) and name not in ("track_masks", "track_summary"):
        assert "Raises\n------" in doc, name  # every correction and the save say what they refuse


def test_track_correct_undo_and_save_on_arrays(tmp_path: Path) -> None:
    movie = synthetic_movie(seed=6, n_frames=10)
    result = api.track_masks(movie.masks, max_distance=movie.max_step + 1, pixel_size=PIXELS)
    assert result.labels is not None and result.labels.shape == movie.masks.shape
    # the true lineage: one daughter pair per mother of the movie
    divisions = result.tracks.loc[result.tracks["parent_track_id"] > 0].drop_duplicates("track_id")
    assert len(divisions) == 2 * len(set(movie.parents.values()))
    daughter = int(divisions["track_id"].iloc[0])
    mother = int(divisions["parent_track_id"].iloc[0])
    spans = result.tracks.groupby("track_id")["frame"].agg(["min", "max"])
    long = [int(t) for t in spans.index[(spans["min"] == 0) & (spans["max"] == 9)]
            if not (result.tracks["parent_track_id"] == t).any()]
    a, b = long[0], long[1]

    history = api.EditHistory(result)
    history.apply(api.unmark_division(history.current, daughter))
    assert (history.current.tracks.loc[history.current.tracks["track_id"] == daughter,
                                       "parent_track_id"] == 0).all()
    history.apply(api.mark_division(history.current, mother, daughter))
    pd.testing.assert_frame_equal(history.current.tracks, result.tracks)
    history.apply(api.split_track(history.current, a, 5))
    new = result.max_track_id + 1
    assert (history.current.labels[5:] == new).sum() == (result.labels[5:] == a).sum()
    with pytest.raises(api.TrackEditError, match="overlap in time"):
        api.join_tracks(history.current, a, b)
    history.apply(api.join_tracks(history.current, new, a))
    assert np.array_equal(history.current.labels, result.labels)
    assert len(history.records) == 4
    history.undo()  # back to the split
    assert (history.current.labels == new).any() and len(history.records) == 3

    mask = write_mask(tmp_path / "movie_vSM.ome.tif", movie.masks, PIXELS, "")
    saved = api.save_track_edits(mask, history.current, history.records)
    pd.testing.assert_frame_equal(pd.read_csv(saved.tracks_csv), history.current.tracks, check_dtype=False)
    assert np.array_equal(read_mask(saved.tracked_mask).labels, history.current.labels)
    assert saved.log.read_text().count("| tracking | INFO | track correction: ") == 3


def test_track_summary_and_evaluation_through_the_api(tmp_path: Path) -> None:
    movie = synthetic_movie(seed=4, n_frames=12)
    result = api.track_masks(movie.masks, max_distance=movie.max_step + 1, pixel_size=PIXELS)
    summary = api.track_summary(result.tracks, pixel_area_um2=0.25).set_index("track_id")
    mothers = sorted(set(movie.parents.values()))
    dividing = summary[summary["n_daughters"] > 0]
    assert len(dividing) == len(mothers) and (dividing["n_daughters"] == 2).all()
    for tid, row in dividing.iterrows():  # a mother's division frame: the frame after her last one
        assert row["division_frame"] == row["last_frame"] + 1
        assert (summary.loc[summary["parent_track_id"] == tid, "first_frame"] == row["division_frame"]).all()
    assert np.allclose(summary["mean_area_um2"], summary["mean_area_px"] * 0.25)
    # evaluation: tracks of the same mask against themselves score 1; a split track lowers the links only
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    gt = write_mask(tmp_path / "gt" / "movie_vSM.ome.tif", movie.masks, PIXELS, "")
    pred = write_mask(tmp_path / "pred" / "movie_vSM.ome.tif", movie.masks, PIXELS, "")
    params = api.TrackParams(max_distance=movie.max_step + 1)
    api.track_file(gt, params)
    tracked = api.track_file(pred, params)
    pd.testing.assert_frame_equal(api.read_tracks(tracked.tracks_csv), result.tracks, check_dtype=False)
    same = api.evaluate_tracks(pred, gt).iloc[0]
    assert (same["TRA"], same["DET"], same["LNK"]) == (1.0, 1.0, 1.0)
    spans = result.tracks.groupby("track_id")["frame"].agg(["min", "max"])
    tid = int(spans.index[(spans["max"] - spans["min"]) >= 4][0])
    first = int(spans.loc[tid, "min"])
    api.save_track_edits(pred, api.split_track(tracked.result, tid, first + 2).result, ["split"])
    split = api.evaluate_tracks(pred, gt).iloc[0]
    assert split["DET"] == 1.0 and split["LNK"] < 1.0 and split["TRA"] < 1.0
