"""Track corrections (tracking.edit): join, split, (un)mark a division; saving them; another mask's tracks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from napari_batchseg.cli import main
from napari_batchseg.io.masks import read_mask, write_mask
from napari_batchseg.io.sources import PixelSize
from napari_batchseg.tracking import TrackingError, track_masks
from napari_batchseg.tracking.edit import (
    TrackEditError,
    join_tracks,
    mark_division,
    split_track,
    track_at,
    track_span,
    unmark_division,
)
from napari_batchseg.tracking.files import save_track_edits, track_paths
from napari_batchseg.tracking.synthetic import synthetic_movie

PIXELS = PixelSize(x=0.5, y=0.5, t=60.0)


def _consistent(result) -> None:
    """The relabelled movie is the mask relabelled by the table: every object carries its row's track id."""
    assert result.labels is not None
    for row in result.tracks.itertuples():
        where = result._source[row.frame][row.label]
        values = np.unique(result.labels[row.frame - result.start_frame][where])
        assert values.tolist() == [row.track_id], row


@pytest.fixture()
def tracked():
    movie = synthetic_movie(seed=4, n_frames=12)
    result = track_masks(movie.masks, max_distance=movie.max_step + 1)
    # where each (frame, label) object is, to check the relabelled movie after edits
    result._source = {t: {int(v): movie.masks[t] == v for v in np.unique(movie.masks[t]) if v}
                      for t in range(len(movie.masks))}
    return movie, result


def _long_track(result) -> int:
    spans = result.tracks.groupby("track_id")["frame"].agg(["min", "max"])
    full = spans[(spans["min"] == 0) & (spans["max"] == result.n_frames - 1)]
    no_daughters = [t for t in full.index if not (result.tracks["parent_track_id"] == t).any()]
    return int(no_daughters[0])


def test_split_then_join_restores_the_track_and_both_relabel_the_movie(tracked) -> None:
    _, result = tracked
    tid = _long_track(result)
    split = split_track(result, tid, 5)
    new = result.max_track_id + 1
    assert split.record == f"split track {tid} at frame 5: frames 5-11 are track {new}"
    assert track_span(split.result, tid) == (0, 4) and track_span(split.result, new) == (5, 11)
    assert split.result.n_tracks == result.n_tracks + 1
    after = split.result.labels
    assert (result.labels == tid).sum() == (after == tid).sum() + (after == new).sum()
    assert not (split.result.labels[:5] == new).any() and not (split.result.labels[5:] == tid).any()
    split.result._source = result._source
    _consistent(split.result)
    # the input is untouched
    assert track_span(result, tid) == (0, 11) and not (result.labels == new).any()
    joined = join_tracks(split.result, new, tid)  # either order: the earlier keeps its id
    assert joined.record.startswith(f"joined tracks {tid} and {new}")
    pd.testing.assert_frame_equal(joined.result.tracks, result.tracks)
    assert np.array_equal(joined.result.labels, result.labels)
    # relabelling a mask frame follows the corrected table (what the saved tracked mask is made from)
    mask_frame = np.zeros(result.labels.shape[1:], dtype=np.int32)
    for label, where in result._source[7].items():
        mask_frame[where] = label
    assert np.array_equal(split.result.relabel(7, mask_frame), split.result.labels[7])


def test_split_daughters_follow_the_later_part_and_join_refuses_a_dividing_track(tracked) -> None:
    movie, result = tracked
    mother = int(result.tracks.loc[result.tracks["parent_track_id"] > 0, "parent_track_id"].iloc[0])
    daughters = sorted(result.tracks.loc[result.tracks["parent_track_id"] == mother, "track_id"].unique())
    first, last = track_span(result, mother)
    assert last > first  # the seeded movie's mother lives several frames
    split = split_track(result, mother, last)
    new = result.max_track_id + 1
    parents = split.result.tracks.drop_duplicates("track_id").set_index("track_id")["parent_track_id"]
    assert [parents[d] for d in daughters] == [new] * len(daughters)
    with pytest.raises(TrackEditError, match="divides"):
        join_tracks(result, mother, daughters[0])


def test_mark_and_unmark_a_division(tracked) -> None:
    _, result = tracked
    daughter = int(result.tracks.loc[result.tracks["parent_track_id"] > 0, "track_id"].iloc[0])
    mother = int(result.tracks.loc[result.tracks["track_id"] == daughter, "parent_track_id"].iloc[0])
    cleared = unmark_division(result, daughter)
    assert cleared.record == f"unmarked division: track {daughter} is no longer a daughter of track {mother}"
    table = cleared.result.tracks
    assert (table.loc[table["track_id"] == daughter, "parent_track_id"] == 0).all()
    assert np.array_equal(cleared.result.labels, result.labels)
    with pytest.raises(TrackEditError, match="has no mother"):
        unmark_division(cleared.result, daughter)
    again = mark_division(cleared.result, mother, daughter)
    pd.testing.assert_frame_equal(again.result.tracks, result.tracks)
    sisters = result.tracks.loc[result.tracks["parent_track_id"] == mother, "track_id"].nunique()
    assert ("has 1 daughter so far" in again.record) == (sisters == 1)  # back to two: said only for one
    other = int(result.tracks.loc[(result.tracks["parent_track_id"] == mother)
                                  & (result.tracks["track_id"] != daughter), "track_id"].iloc[0])
    alone = mark_division(unmark_division(cleared.result, other).result, mother, daughter)
    # a walk: a division of one was taken without a word
    assert alone.record.endswith(f"; track {mother} has 1 daughter so far (mark the other; a cell that "
                                 "did not divide: join)")
    with pytest.raises(TrackEditError, match="already the mother"):
        mark_division(again.result, mother, daughter)
    with pytest.raises(TrackEditError, match="does not end before"):
        mark_division(result, daughter, mother)


def test_bad_edits_are_one_line_errors(tracked) -> None:
    _, result = tracked
    tid = _long_track(result)
    other = int(next(t for t in result.tracks["track_id"].unique() if t != tid))
    with pytest.raises(TrackEditError, match="there is no track 999"):
        split_track(result, 999, 3)
    with pytest.raises(TrackEditError, match="split it at a frame from 1 to 11, not 0"):
        split_track(result, tid, 0)
    with pytest.raises(TrackEditError, match="overlap in time"):
        join_tracks(result, tid, other)
    with pytest.raises(TrackEditError, match="itself"):
        join_tracks(result, tid, tid)


def test_track_at_picks_the_nearest_centroid_in_the_frame(tracked) -> None:
    _, result = tracked
    row = result.tracks[result.tracks["frame"] == 3].iloc[0]
    assert track_at(result, 3, row["centroid_y_px"] + 1, row["centroid_x_px"]) == row["track_id"]
    assert track_at(result, 3, -500.0, -500.0, radius=10) == 0
    assert track_at(result, 99, 0.0, 0.0) == 0


def test_save_track_edits_writes_the_three_outputs_with_the_operation_log(tmp_path: Path) -> None:
    movie = synthetic_movie(seed=4, n_frames=12)
    mask = write_mask(tmp_path / "movie_vSM.ome.tif", movie.masks, PIXELS, "")
    assert main(["track", str(mask), "--max-distance", str(movie.max_step + 1)]) == 0
    csv, tracked_mask, log = track_paths(mask)
    result = track_masks(movie.masks, max_distance=movie.max_step + 1, pixel_size=PIXELS)
    tid = _long_track(result)
    edit = split_track(result, tid, 6)
    saved = save_track_edits(mask, edit.result, [edit.record])
    assert saved.tracks_csv == csv
    pd.testing.assert_frame_equal(pd.read_csv(csv), edit.result.tracks, check_dtype=False)
    back = read_mask(tracked_mask)
    assert np.array_equal(back.labels, edit.result.labels)
    assert back.pixel_size.t == pytest.approx(60.0)
    text = log.read_text()
    assert f" | tracking | INFO | track correction: {edit.record}" in text
    assert back.log_text.strip() == text.strip()
    # measure and export ctc take the corrected tracks (they are of this mask)
    assert main(["export", "ctc", str(mask), "--output-dir", str(tmp_path / "ctc")]) == 0
    lines = (tmp_path / "ctc" / "movie_vSM_ctc" / "res_track.txt").read_text().split("\n")
    assert f"{result.max_track_id + 1} 6 11 0" in lines
    # a walk: tracking again with --overwrite dropped the saved corrections without a word: they are kept
    corrected = csv.read_text()
    assert main(["track", str(mask), "--max-distance", str(movie.max_step + 1), "--overwrite"]) == 0
    kept = track_paths(tmp_path / "movie_vSM.corrected.ome.tif")
    assert [p.name for p in kept] == ["movie_vSM.corrected_tracks.csv", "movie_vSM.corrected-tracked.ome.tif",
                                      "movie_vSM.corrected-tracked.log"]
    assert kept[0].read_text() == corrected and f"track correction: {edit.record}" in kept[2].read_text()
    assert np.array_equal(read_mask(kept[1]).labels, edit.result.labels)
    pd.testing.assert_frame_equal(pd.read_csv(csv), result.tracks, check_dtype=False)  # tracked afresh
    assert main(["track", str(mask), "--max-distance", str(movie.max_step + 1), "--overwrite"]) == 0
    assert not track_paths(tmp_path / "movie_vSM.corrected-2.ome.tif")[0].exists()  # nothing to keep


def test_save_refuses_a_mask_that_is_not_the_tracked_one(tmp_path: Path) -> None:
    movie = synthetic_movie(seed=4, n_frames=12)
    other = synthetic_movie(seed=5, n_frames=12)
    mask = write_mask(tmp_path / "other_vSM.ome.tif", other.masks, PIXELS, "")
    result = track_masks(movie.masks, max_distance=movie.max_step + 1)
    with pytest.raises(TrackingError, match="other_vSM.ome.tif: frame 0 has labels the tracks do not have"):
        save_track_edits(mask, result, [])
    assert not any(p.exists() for p in track_paths(mask))


def test_tracks_of_another_mask_are_refused_by_measure_and_export(tmp_path: Path, capsys) -> None:
    movie = synthetic_movie(seed=4, n_frames=12)
    a = write_mask(tmp_path / "a_vSM.ome.tif", movie.masks, PIXELS, "")
    b = write_mask(tmp_path / "b_vSM.ome.tif", movie.masks[:, ::-1].copy(), PIXELS, "")
    c = write_mask(tmp_path / "c_vSM.ome.tif", movie.masks, PIXELS, "")
    assert main(["track", str(a), str(b)]) == 0
    a_csv = track_paths(a)[0]
    image = tmp_path / "img.tif"
    import tifffile

    tifffile.imwrite(image, (movie.masks > 0).astype(np.uint8) * 100)
    capsys.readouterr()
    # --tracks of another mask given to measure: one line naming the tracks, the masks and the fix
    assert main(["measure", str(b), "--tracks", str(a_csv), "--image", str(image)]) == 1
    err = "".join(capsys.readouterr())  # measure's batch report line
    said = f"{a_csv}: tracks of {a.resolve()}, not of {b} (its sha256 differs): track it again"
    assert said in err
    assert not (tmp_path / "b_vSM_objects.csv").exists()
    # a mask changed after tracking (a correction saved): its own tracks are stale
    write_mask(b, movie.masks[:, :, ::-1].copy(), PIXELS, "")
    # export ctc checks every mask first and leaves out those it cannot export (c has no tracks, b's
    # are stale), each named; the others are exported
    out = tmp_path / "out"
    assert main(["export", "ctc", str(a), str(c), "--output-dir", str(out)]) == 1
    assert "c_vSM.ome.tif: no tracks" in "".join(capsys.readouterr())
    assert (out / "a_vSM_ctc").exists() and not (out / "c_vSM_ctc").exists()
    assert main(["export", "ctc", str(a), str(b), "--output-dir", str(out), "--overwrite"]) == 1
    assert "tracks made before the mask changed" in "".join(capsys.readouterr())
    assert not (out / "b_vSM_ctc").exists()
    assert main(["export", "ctc", str(a), "--output-dir", str(out), "--overwrite"]) == 0
    # walk: b's own stale tracks were "of b, not of b": said as they are; measure can leave them out
    capsys.readouterr()
    assert main(["measure", str(b), "--image", str(image)]) == 1
    err = "".join(capsys.readouterr())
    assert "tracks made before the mask changed (its sha256 differs: segmented again or corrected" in err
    assert "--no-tracks" in err
    assert main(["measure", str(b), "--image", str(image), "--image-axes", "TYX", "--no-tracks"]) == 0
    assert "track_id" not in pd.read_csv(tmp_path / "b_vSM_objects.csv").columns


def test_edit_history_undoes_last_first_and_maps_the_movie_back(tracked) -> None:
    from napari_batchseg.tracking.edit import EditHistory

    _, result = tracked
    tid = _long_track(result)
    daughter = int(result.tracks.loc[result.tracks["parent_track_id"] > 0, "track_id"].iloc[0])
    history = EditHistory(result)
    assert not history.can_undo and history.last == "" and history.records == []
    with pytest.raises(TrackEditError, match="nothing to undo"):
        history.undo()
    steps = [result]
    for make in (lambda r: split_track(r, tid, 4), lambda r: unmark_division(r, daughter),
                 lambda r: split_track(r, r.max_track_id, 8)):
        edited = make(history.current)
        assert history.apply(edited) is edited.result
        steps.append(edited.result)
    records = history.records
    assert len(records) == 3 and history.last == records[-1]
    assert records[2].startswith(f"split track {result.max_track_id + 1} at frame 8")
    for k in (2, 1, 0):  # each undo gives back the tables and the relabelled movie of the step before
        undone = history.undo()
        assert undone.record == f"undid: {records[k]}"
        pd.testing.assert_frame_equal(undone.result.tracks, steps[k].tracks)
        assert np.array_equal(undone.result.labels, steps[k].labels)
        assert history.current is undone.result and history.records == records[:k]
        undone.result._source = result._source
        _consistent(undone.result)
    assert not history.can_undo
    # the relabelling maps of the restored result are its own (a saved mask follows the restored table)
    mask_frame = np.zeros(result.labels.shape[1:], dtype=np.int32)
    for label, where in result._source[9].items():
        mask_frame[where] = label
    assert np.array_equal(history.current.relabel(9, mask_frame), result.labels[9])


def test_edit_history_keeps_max_undo_operations_and_their_records(tracked) -> None:
    from napari_batchseg.tracking.edit import EditHistory, retrack_labels

    movie, result = tracked
    tid = _long_track(result)
    history = EditHistory(result, max_undo=1)
    history.apply(split_track(history.current, tid, 3))
    history.apply(split_track(history.current, tid, 2))
    assert history.undo().record.startswith(f"undid: split track {tid} at frame 2")
    assert not history.can_undo and len(history.records) == 1  # the first is kept, no longer undoable
    with pytest.raises(ValueError, match="max_undo"):
        EditHistory(result, max_undo=0)
    other = track_masks(synthetic_movie(seed=5, n_frames=12).masks, max_distance=movie.max_step + 1)
    with pytest.raises(TrackEditError, match="not corrections of one tracking"):
        retrack_labels(result.labels, result, other)


def test_undone_operations_leave_no_record_in_the_saved_log(tmp_path: Path) -> None:
    from napari_batchseg.tracking.edit import EditHistory

    movie = synthetic_movie(seed=4, n_frames=12)
    mask = write_mask(tmp_path / "movie_vSM.ome.tif", movie.masks, PIXELS, "")
    result = track_masks(movie.masks, max_distance=movie.max_step + 1, pixel_size=PIXELS)
    tid = _long_track(result)
    history = EditHistory(result)
    history.apply(split_track(history.current, tid, 6))
    history.apply(split_track(history.current, tid, 3))
    history.undo()
    saved = save_track_edits(mask, history.current, history.records)
    text = saved.log.read_text()
    assert text.count("track correction: ") == 1 and f"split track {tid} at frame 6" in text
    pd.testing.assert_frame_equal(pd.read_csv(saved.tracks_csv), split_track(result, tid, 6).result.tracks,
                                  check_dtype=False)
    assert np.array_equal(read_mask(saved.tracked_mask).labels, history.current.labels)


def test_saving_fresh_tracks_over_corrected_ones_keeps_the_corrected_ones(tmp_path: Path) -> None:
    """A walk: tracked, corrected and saved in the Track dock, then Track cells again and Save: the saved
    corrections were replaced without a word (``batchseg track --overwrite`` kept them)."""
    from napari_batchseg.view.track_form import saved_text

    movie = synthetic_movie(seed=4, n_frames=12)
    mask = write_mask(tmp_path / "movie_vSM.ome.tif", movie.masks, PIXELS, "")
    result = track_masks(movie.masks, max_distance=movie.max_step + 1, pixel_size=PIXELS)
    tid = _long_track(result)
    assert save_track_edits(mask, result, []).kept == []  # nothing there before
    first = split_track(result, tid, 6)
    assert save_track_edits(mask, first.result, [first.record]).kept == []  # no corrections replaced
    # the same corrected tracks, corrected further (as reopened: the saved records first): nothing to keep
    second = split_track(first.result, tid, 3)
    saved = save_track_edits(mask, second.result, [first.record, second.record])
    assert saved.kept == [] and "kept" not in saved_text(saved, 2)
    csv, tracked_mask, log = track_paths(mask)
    corrected, corrected_log = csv.read_text(), log.read_text()
    # tracked afresh (no corrections) and saved: the corrected tracks are kept first
    saved = save_track_edits(mask, result, [])
    kept = track_paths(tmp_path / "movie_vSM.corrected.ome.tif")
    assert saved.kept == list(kept)
    assert kept[0].read_text() == corrected and kept[2].read_text() == corrected_log
    assert np.array_equal(read_mask(kept[1]).labels, second.result.labels)
    pd.testing.assert_frame_equal(pd.read_csv(csv), result.tracks, check_dtype=False)
    assert "track correction: " not in log.read_text()
    text = saved_text(saved, 0)
    assert text.startswith("Saved movie_vSM_tracks.csv"), text
    assert "kept as movie_vSM.corrected_tracks.csv (and its tracked mask and log)" in text, text
    # a fresh result corrected otherwise: its saved corrections are not those replaced (a second copy)
    other = split_track(result, tid, 8)
    assert save_track_edits(mask, other.result, [other.record]).kept == []  # (fresh tracks replaced)
    again = split_track(result, tid, 4)
    saved = save_track_edits(mask, again.result, [again.record])
    assert [p.name for p in saved.kept] == ["movie_vSM.corrected-2_tracks.csv",
                                            "movie_vSM.corrected-2-tracked.ome.tif",
                                            "movie_vSM.corrected-2-tracked.log"]
    assert f"track correction: {other.record}" in saved.kept[2].read_text()
    assert kept[0].read_text() == corrected  # the first copy is left as it was
    # a save refused (another mask's tracks) keeps nothing
    foreign = track_masks(synthetic_movie(seed=5, n_frames=12).masks, max_distance=movie.max_step + 1)
    with pytest.raises(TrackingError):
        save_track_edits(mask, foreign, [])
    assert not track_paths(tmp_path / "movie_vSM.corrected-3.ome.tif")[0].exists()
