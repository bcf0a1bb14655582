"""Saved tracks open again in napari (the plugin's reader) and the Track dock goes on correcting them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from napari_batchseg.io.masks import read_mask, write_mask
from napari_batchseg.io.sources import PixelSize
from napari_batchseg.tracking import TrackParams
from napari_batchseg.tracking.edit import split_track
from napari_batchseg.tracking.files import read_saved_tracks, save_track_edits, track_file
from napari_batchseg.tracking.synthetic import synthetic_movie
from napari_batchseg.view.tracks import tracks_layer_data


def _wait(w, qtbot) -> None:
    qtbot.waitUntil(lambda: not w.busy, timeout=60000)


def _whole_track(result) -> int:
    spans = result.tracks.groupby("track_id")["frame"].agg(["min", "max"])
    return int(next(t for t in spans.index[(spans["min"] == 0) & (spans["max"] == 11)]
                    if not (result.tracks["parent_track_id"] == t).any()))


def test_reopened_tracks_are_corrected_and_saved_again(make_napari_viewer, qtbot, tmp_path: Path) -> None:
    from napari_batchseg._napari._track_widget import TrackWidget

    movie = synthetic_movie(seed=4)
    mask = write_mask(tmp_path / "movie_vSM.ome.tif", movie.masks, PixelSize(x=0.5, y=0.5, t=30.0), "")
    res = track_file(mask, TrackParams(max_distance=movie.max_step + 1))
    first = split_track(res.result, _whole_track(res.result), 4)  # a correction saved the day before
    save_track_edits(mask, first.result, [first.record])

    viewer = make_napari_viewer()
    w = TrackWidget(viewer)
    viewer.window.add_dock_widget(w, name="Track cells")
    opened = viewer.open(str(res.tracks_csv), plugin="napari-batchseg")
    assert [type(lay).__name__ for lay in opened] == ["Labels", "Tracks"]
    tracked, tracks = opened
    assert np.allclose(tracks.scale, tracked.scale) and np.allclose(tracks.translate, tracked.translate)
    assert tracks.graph == tracks_layer_data(first.result)[1]
    assert [w.labels_combo.itemText(i) for i in range(w.labels_combo.count())] == [tracked.name]

    # Track cells on the tracked mask reads the saved tracks back (no new layers), off the GUI thread
    assert w.track()
    assert w.busy and w.result is None  # nothing read on the GUI thread: the result comes from the job
    _wait(w, qtbot)
    assert w.result is not None, w.status.text()
    pd.testing.assert_frame_equal(w.result.tracks, first.result.tracks, check_dtype=False)
    assert list(viewer.layers) == [tracked, tracks]
    assert w.shown.tracked is tracked and w.shown.tracks is tracks
    assert w._on_click in tracked.mouse_drag_callbacks and w.save_btn.isEnabled()

    # go on correcting: split another track, Save: the log keeps both corrections, the files follow
    other = _whole_track(w.result)
    w.track_a.setValue(other)
    w.frame.setValue(7)
    w.split_btn.click()
    _wait(w, qtbot)
    assert len(w.records) == 1, w.status.text()
    new = w.result.max_track_id
    assert new in set(tracks.data[:, 0].astype(int))
    assert w.save()
    _wait(w, qtbot)
    assert "Saved movie_vSM_tracks.csv" in w.status.text(), w.status.text()
    saved = read_saved_tracks(mask)
    assert saved.corrections == [first.record, *w.records]
    pd.testing.assert_frame_equal(saved.result.tracks, w.result.tracks, check_dtype=False)
    assert np.array_equal(read_mask(res.tracked_mask).labels, np.asarray(tracked.data))
    assert (np.asarray(tracked.data)[7:] == new).any() and not (np.asarray(tracked.data)[:7] == new).any()


def test_reopened_tracks_of_a_changed_mask_are_refused(make_napari_viewer, qtbot, tmp_path: Path) -> None:
    from napari_batchseg._napari._track_widget import TrackWidget

    movie = synthetic_movie(seed=4)
    pixels = PixelSize(x=0.5, y=0.5, t=30.0)
    mask = write_mask(tmp_path / "movie_vSM.ome.tif", movie.masks, pixels, "")
    res = track_file(mask, TrackParams(max_distance=movie.max_step + 1))
    changed = movie.masks.copy()
    changed[2][changed[2] == changed[2].max()] = 0
    write_mask(mask, changed, pixels, "")  # corrected after tracking

    viewer = make_napari_viewer()
    w = TrackWidget(viewer)
    viewer.window.add_dock_widget(w, name="Track cells")
    viewer.open(str(res.tracks_csv), plugin="napari-batchseg")
    assert w.track()
    _wait(w, qtbot)
    assert w.result is None and len(viewer.layers) == 2
    assert w.status.text().startswith("Saved tracks not opened: ") and "sha256 differs" in w.status.text()


def test_reopened_tracks_without_their_mask_say_so(make_napari_viewer, qtbot, tmp_path: Path) -> None:
    from napari_batchseg._napari._track_widget import TrackWidget
    from napari_batchseg.view.tracks import NO_SOURCE

    movie = synthetic_movie(seed=4)
    mask = write_mask(tmp_path / "movie_vSM.ome.tif", movie.masks, PixelSize(x=0.5, y=0.5), "")
    res = track_file(mask, TrackParams(max_distance=movie.max_step + 1))
    mask.rename(tmp_path / "elsewhere.ome.tif")  # the tracked mask and the tracks stay, the mask is gone

    viewer = make_napari_viewer()
    w = TrackWidget(viewer)
    viewer.window.add_dock_widget(w, name="Track cells")
    tracked, _ = viewer.open(str(res.tracks_csv), plugin="napari-batchseg")
    assert tracked.metadata["batchseg"]["tracked_from"] is None
    assert not w.track() and w.status.text() == NO_SOURCE
    assert w.result is None and not w.busy and len(viewer.layers) == 2


def test_reopened_output_dir_tracks_are_saved_back_there(make_napari_viewer, qtbot, tmp_path: Path) -> None:
    """Tracks made with ``--output-dir out/``, reopened from out/, corrected and saved: out/ changes."""
    from napari_batchseg._napari._track_widget import TrackWidget

    movie = synthetic_movie(seed=4)
    mask = write_mask(tmp_path / "movie_vSM.ome.tif", movie.masks, PixelSize(x=0.5, y=0.5, t=30.0), "")
    res = track_file(mask, TrackParams(max_distance=movie.max_step + 1), output_dir=tmp_path / "out")
    assert res.tracks_csv.parent == tmp_path / "out"
    beside = sorted(p.name for p in tmp_path.iterdir())
    before = res.tracks_csv.read_bytes()

    viewer = make_napari_viewer()
    w = TrackWidget(viewer)
    viewer.window.add_dock_widget(w, name="Track cells")
    tracked, tracks = viewer.open(str(res.tracks_csv), plugin="napari-batchseg")
    assert tracked.metadata["batchseg"]["tracked_from"] == str(mask.resolve())
    assert w.track()
    _wait(w, qtbot)
    assert w.result is not None, w.status.text()
    w.track_a.setValue(_whole_track(w.result))
    w.frame.setValue(6)
    w.split_btn.click()
    _wait(w, qtbot)
    assert len(w.records) == 1, w.status.text()
    # tracking another layer that gives nothing leaves the reopened tracks, their folder and records, as
    # they were (it reset them, so Save wrote beside the mask)
    from napari_batchseg.view.tracks import NO_OBJECTS

    viewer.add_labels(np.zeros((3, 24, 24), np.uint16), name="empty")
    w.labels_combo.setCurrentText("empty")
    assert w.track()
    _wait(w, qtbot)
    assert w.status.text() == NO_OBJECTS and len(w.records) == 1
    assert w.save()
    _wait(w, qtbot)
    assert "Saved" in w.status.text(), w.status.text()
    assert sorted(p.name for p in tmp_path.iterdir()) == beside  # nothing new beside the mask
    assert res.tracks_csv.read_bytes() != before
    saved = read_saved_tracks(mask, res.tracks_csv)
    pd.testing.assert_frame_equal(saved.result.tracks, w.result.tracks, check_dtype=False)
    assert saved.corrections == w.records
    assert np.array_equal(read_mask(res.tracked_mask).labels, np.asarray(tracked.data))


def test_an_empty_movie_is_said_not_shown(make_napari_viewer, qtbot) -> None:
    """No objects in any frame: one line in the dock, no Tracks layer (napari's cannot be empty)."""
    from napari_batchseg._napari._track_widget import TrackWidget
    from napari_batchseg.view.tracks import NO_OBJECTS

    viewer = make_napari_viewer()
    w = TrackWidget(viewer)
    viewer.window.add_dock_widget(w, name="Track cells")
    viewer.add_labels(np.zeros((3, 24, 24), np.uint16), name="empty")
    assert w.track()
    _wait(w, qtbot)
    assert w.status.text() == NO_OBJECTS and w.result is None
    assert [lay.name for lay in viewer.layers] == ["empty"]
