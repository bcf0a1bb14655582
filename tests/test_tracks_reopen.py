"""Saved tracks open again: the reader's Tracks + tracked Labels layers, and the saved TrackResult."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from napari_batchseg.errors import InputError
from napari_batchseg.io.masks import read_mask, write_mask
from napari_batchseg.io.sources import PixelSize
from napari_batchseg.tracking import TrackingError, TrackParams
from napari_batchseg.tracking.edit import mark_division, split_track
from napari_batchseg.tracking.files import (
    EDIT_COLUMNS,
    TRACKS_SUFFIX,
    read_saved_tracks,
    save_track_edits,
    track_file,
    tracked_source,
)
from napari_batchseg.tracking.synthetic import synthetic_movie
from napari_batchseg.view import layer_files
from napari_batchseg.view.layer_files import META_KEY, napari_get_reader

PIXELS = PixelSize(x=0.5, y=0.5, t=30.0)


def _tracked(tmp_path: Path, seed: int = 4):
    movie = synthetic_movie(seed=seed)
    mask = write_mask(tmp_path / "movie_vSM.ome.tif", movie.masks, PIXELS, "")
    return movie, mask, track_file(mask, TrackParams(max_distance=movie.max_step + 1))


def _rows(data: np.ndarray) -> np.ndarray:
    """Tracks layer rows ``track_id, t, y, x`` in a fixed order."""
    return data[np.lexsort((data[:, 1], data[:, 0]))]


def _expected(tracks: pd.DataFrame) -> tuple[np.ndarray, dict[int, list[int]]]:
    rows = tracks[["track_id", "frame", "centroid_y_px", "centroid_x_px"]].to_numpy(float)
    first = tracks.drop_duplicates("track_id")
    graph = {int(t): [int(p)] for t, p in zip(first["track_id"], first["parent_track_id"], strict=True) if p}
    return _rows(rows), graph


def test_tracks_csv_opens_as_tracks_over_the_tracked_mask(tmp_path: Path) -> None:
    movie, mask, res = _tracked(tmp_path)
    reader = napari_get_reader(str(res.tracks_csv))
    assert reader is not None
    (labels, lkw, ltype), (data, tkw, ttype) = reader(str(res.tracks_csv))
    assert (ltype, ttype) == ("labels", "tracks")
    assert np.array_equal(labels, read_mask(res.tracked_mask).labels)
    meta = lkw["metadata"][META_KEY]
    assert meta["role"] == "tracked" and meta["tracks_csv"] == str(res.tracks_csv.resolve())
    assert meta["tracked_from"] == str(mask.resolve()) == str(tracked_source(res.tracks_csv).resolve())
    rows, graph = _expected(res.result.tracks)
    assert np.array_equal(_rows(data), rows)
    assert tkw["graph"] == graph and len(graph) == 2 * len(set(movie.parents.values()))
    assert tuple(tkw["scale"]) == tuple(lkw["scale"]) == (30.0, 0.5, 0.5)
    assert tuple(tkw["translate"]) == tuple(lkw["translate"])
    assert tkw["metadata"][META_KEY]["tracks_csv"] == meta["tracks_csv"]
    assert layer_files.TRACKS_SUFFIX == TRACKS_SUFFIX
    assert layer_files.TRACKS_HEADER == EDIT_COLUMNS  # the reader's own copy, kept without pandas


def test_a_copied_folder_resolves_to_its_own_mask(tmp_path: Path) -> None:
    """The mask beside the tracks comes before the absolute path the log names."""
    import shutil

    (tmp_path / "a").mkdir()
    _, mask, res = _tracked(tmp_path / "a")
    copy = shutil.copytree(tmp_path / "a", tmp_path / "b")
    assert tracked_source(copy / res.tracks_csv.name) == copy / mask.name
    (copy / mask.name).unlink()  # not copied: where the log names it
    assert tracked_source(copy / res.tracks_csv.name) == mask


def test_tracked_source_without_a_log_or_with_a_windows_path(tmp_path: Path) -> None:
    _, mask, res = _tracked(tmp_path)
    log = res.log
    text = log.read_text(encoding="utf-8")
    assert str(mask.resolve()) in text
    windows = "C:\\Users\\lab\\exp1\\" + mask.name
    log.write_text(text.replace(str(mask.resolve()), windows), encoding="utf-8")
    assert tracked_source(res.tracks_csv) == mask  # the name, taken as Windows writes it
    log.unlink()
    assert tracked_source(res.tracks_csv) == mask  # <base>.ome.tif beside <base>_tracks.csv
    plain = mask.rename(mask.with_name("movie_vSM.tif"))
    assert tracked_source(res.tracks_csv) == plain
    plain.unlink()
    assert tracked_source(res.tracks_csv) is None


def test_a_tracks_csv_saved_by_excel_with_a_bom_opens(tmp_path: Path) -> None:
    _, _, res = _tracked(tmp_path)
    text = res.tracks_csv.read_text(encoding="utf-8")
    res.tracks_csv.write_text(text, encoding="utf-8-sig")
    assert res.tracks_csv.read_bytes()[:3] == b"\xef\xbb\xbf"
    reader = napari_get_reader(str(res.tracks_csv))
    assert reader is not None
    _, (data, _, _) = reader(str(res.tracks_csv))
    assert np.array_equal(_rows(data), _expected(res.result.tracks)[0])


def test_a_tracks_csv_without_rows_is_one_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "none_tracks.csv"
    empty.write_text(",".join(EDIT_COLUMNS) + "\n")
    reader = napari_get_reader(str(empty))
    assert reader is not None
    with pytest.raises(InputError, match="none_tracks.csv: no tracks"):
        reader(str(empty))


def test_round_trip_track_correct_save_reopen(tmp_path: Path) -> None:
    """track -> correct -> save -> open with the reader: the same ids, parents, t, y, x."""
    _, mask, res = _tracked(tmp_path)
    spans = res.result.tracks.groupby("track_id")["frame"].agg(["min", "max"])
    tid = int(next(t for t in spans.index[(spans["min"] == 0) & (spans["max"] == 11)]
                   if not (res.result.tracks["parent_track_id"] == t).any()))
    split = split_track(res.result, tid, 5)
    marked = mark_division(split.result, tid, res.result.max_track_id + 1)
    save_track_edits(mask, marked.result, [split.record, marked.record])
    _, (data, tkw, _) = layer_files.read_paths(str(res.tracks_csv))
    rows, graph = _expected(marked.result.tracks)
    assert np.array_equal(_rows(data), rows) and tkw["graph"] == graph
    assert not np.array_equal(_rows(data), _expected(res.result.tracks)[0])  # the correction is there
    saved = read_saved_tracks(mask)
    pd.testing.assert_frame_equal(saved.result.tracks, marked.result.tracks, check_dtype=False)
    assert saved.corrections == [split.record, marked.record]
    assert saved.result.params.max_distance == res.result.params.max_distance
    tracked = read_mask(res.tracked_mask).labels
    assert saved.result.labels is not None and np.array_equal(saved.result.labels, tracked)
    new_track_in = (tracked == res.result.max_track_id + 1).any(axis=(1, 2))
    assert new_track_in.tolist() == [False] * 5 + [True] * 7  # the split part, from frame 5 on


def test_saved_tracks_of_a_changed_mask_are_refused(tmp_path: Path) -> None:
    movie, mask, res = _tracked(tmp_path)
    changed = movie.masks.copy()
    changed[3][changed[3] == changed[3].max()] = 0
    write_mask(mask, changed, PIXELS, "")
    with pytest.raises(TrackingError, match="sha256 differs"):
        read_saved_tracks(mask, res.tracks_csv)


def test_tracks_without_the_tracked_mask_take_the_tables_scale(tmp_path: Path) -> None:
    _, _, res = _tracked(tmp_path)
    res.tracked_mask.unlink()
    [(data, kwargs, kind)] = napari_get_reader(str(res.tracks_csv))(str(res.tracks_csv))
    assert kind == "tracks" and np.allclose(kwargs["scale"], (30.0, 0.5, 0.5))
    assert np.array_equal(_rows(data), _expected(res.result.tracks)[0])


def test_a_csv_that_is_not_ours_is_left_to_other_readers(tmp_path: Path) -> None:
    other = tmp_path / "cells_tracks.csv"
    other.write_text("id,x,y\n1,2.0,3.0\n")
    assert napari_get_reader(str(other)) is None
    plain = tmp_path / "table.csv"
    plain.write_text("track_id,parent_track_id,frame,label,centroid_y_px,centroid_x_px\n1,0,0,1,2.0,3.0\n")
    assert napari_get_reader(str(plain)) is None  # not named _tracks.csv
    assert napari_get_reader(str(tmp_path / "missing_tracks.csv")) is None
    with pytest.raises(InputError, match="cells_tracks.csv: not a tracks table"):
        layer_files.read_paths(str(other))


def test_tracks_of_a_frame_range_sit_over_its_frames(arcadia_nd2, tmp_path: Path) -> None:
    """Real data: the tracks of a mask of input frames 3-7 reopen at T = 3-7, as the dock shows them."""
    import shutil

    from napari_batchseg import segment_files
    from napari_batchseg.params import SegmentationParams
    from napari_batchseg.testing import threshold_segmenter
    from napari_batchseg.view.tracks import tracks_layer_data

    movie = tmp_path / "movie_BF.nd2"
    shutil.copy(arcadia_nd2["example-timelapse.nd2"], movie)
    segment_files([movie], SegmentationParams(start_frame=3, end_frame=7),
                  segmenter=threshold_segmenter(SegmentationParams()))
    mask = tmp_path / "movie_BF_vSM.ome.tif"
    res = track_file(mask)
    assert res.result.start_frame == 3 and res.result.tracks["frame"].min() == 3
    (labels, lkw, _), (data, tkw, _) = napari_get_reader(str(res.tracks_csv))(str(res.tracks_csv))
    dt = lkw["scale"][0]
    assert labels.shape[0] == 5 and tkw["translate"][0] == lkw["translate"][0] == pytest.approx(3 * dt)
    assert data[:, 1].min() == 0 and data[:, 1].max() == 4  # the layer's own frames, shifted by translate
    saved = read_saved_tracks(mask)
    assert saved.result.start_frame == 3
    assert np.array_equal(_rows(tracks_layer_data(saved.result)[0]), _rows(data))
