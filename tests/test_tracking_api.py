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
          "save_track_edits", "EditHistory", "Edited", "TrackEditError", "TrackResult", "TrackParams")


@pytest.mark.parametrize("name", PUBLIC)
def test_tracking_api_is_exported_and_documented(name: str) -> None:
    obj = getattr(api, name)
    doc = inspect.getdoc(obj) or ""
    assert doc.strip(), name
    if inspect.isfunction(obj) and name != "track_masks":
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
