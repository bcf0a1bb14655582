"""Track corrections in the "Track cells" dock: click to select, split, join, (un)mark a division, save."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from napari_batchseg.corrections import save_corrections
from napari_batchseg.io.masks import read_mask, write_mask
from napari_batchseg.io.sources import PixelSize
from napari_batchseg.tracking.files import track_paths
from napari_batchseg.tracking.synthetic import synthetic_movie
from napari_batchseg.view.layer_files import mark_rewritten
from napari_batchseg.view.layer_ops import mark_edited, mark_saved


def _wait(w, qtbot) -> None:
    qtbot.waitUntil(lambda: not w.busy, timeout=60000)


def _mask_in_dock(make_napari_viewer, tmp_path: Path):
    """``(movie, its mask file, viewer, Track dock, the mask's Labels layer)``."""
    from napari_batchseg._napari._track_widget import TrackWidget
    from napari_batchseg.view.layer_files import mask_layer_data

    movie = synthetic_movie(seed=4)
    mask = write_mask(tmp_path / "movie_vSM.ome.tif", movie.masks, PixelSize(x=0.5, y=0.5, t=30.0), "")
    viewer = make_napari_viewer()
    w = TrackWidget(viewer)
    viewer.window.add_dock_widget(w, name="Track cells")
    data, kwargs, _ = mask_layer_data(mask)[0]
    return movie, mask, viewer, w, viewer.add_labels(data, **kwargs)


def test_select_split_join_divisions_and_save(make_napari_viewer, qtbot, tmp_path: Path) -> None:
    movie, mask, viewer, w, source = _mask_in_dock(make_napari_viewer, tmp_path)
    assert not w.save_btn.isEnabled() and not w.join_btn.isEnabled()
    w.max_distance.setValue(movie.max_step + 1)
    assert w.track()
    _wait(w, qtbot)
    original = w.result
    assert original is not None, w.status.text()
    tracked, tracks = viewer.layers["movie_vSM tracked"], viewer.layers["movie_vSM tracks"]
    assert w._on_click in tracked.mouse_drag_callbacks and w._on_click in source.mouse_drag_callbacks
    assert w.save_btn.isEnabled()
    assert (w.frame.minimum(), w.frame.maximum()) == (1, 11)  # a split's frames (a walk: 0 to 10**9)

    # a click on a cell of frame 3 selects its track: A, shown alone in every frame
    spans = original.tracks.groupby("track_id")["frame"].agg(["min", "max"])
    whole = [t for t in spans.index[(spans["min"] == 0) & (spans["max"] == 11)]
             if not (original.tracks["parent_track_id"] == t).any()]
    tid = int(whole[0])
    row = original.tracks[(original.tracks["track_id"] == tid) & (original.tracks["frame"] == 3)].iloc[0]
    world = tracked.data_to_world([3, row["centroid_y_px"], row["centroid_x_px"]])
    w._on_click(tracked, SimpleNamespace(position=world, modifiers=()))
    assert w.track_a.value() == tid and w.frame.value() == 3
    assert tracked.selected_label == tid and tracked.show_selected_label
    w.only_selected.setChecked(False)
    assert not tracked.show_selected_label
    # Shift+click: B; a click on the background near no cell selects nothing
    other = original.tracks[(original.tracks["frame"] == 3) & (original.tracks["track_id"] != tid)].iloc[0]
    w._on_click(tracked, SimpleNamespace(position=tracked.data_to_world(
        [3, other["centroid_y_px"], other["centroid_x_px"]]), modifiers=("Shift",)))
    assert w.track_b.value() == other["track_id"] and w.track_a.value() == tid
    assert w.select_at(tracked.data_to_world([3, -1000, -1000])) == 0

    # split A at frame 3 (button), off the GUI thread: both layers follow
    w.split_btn.click()
    assert w.busy or w.result is not original
    _wait(w, qtbot)
    new = original.max_track_id + 1
    assert w.records == [f"split track {tid} at frame 3: frames 3-11 are track {new}"], w.status.text()
    later = (np.arange(12) >= 3)[:, None, None]
    assert np.array_equal(np.asarray(tracked.data) == new, (original.labels == tid) & later)
    assert new in set(tracks.data[:, 0].astype(int))
    # a bad operation: one line in the status, nothing changed
    w.track_b.setValue(tid)
    w.join_btn.click()  # A with itself
    _wait(w, qtbot)
    assert "cannot be joined to itself" in w.status.text() and len(w.records) == 1
    # mark the new part as a daughter of A, unmark it, then join them back
    w.track_b.setValue(new)
    w.mark_btn.click()
    _wait(w, qtbot)
    assert tracks.graph.get(new) == [tid]
    w.track_a.setValue(new)
    w.unmark_btn.click()
    _wait(w, qtbot)
    assert not tracks.graph.get(new)
    w.track_a.setValue(tid)
    w.join_btn.click()
    _wait(w, qtbot)
    assert len(w.records) == 4 and np.array_equal(np.asarray(tracked.data), original.labels)

    # split again and save: the three outputs beside the mask, the operations in the log
    w.split_btn.click()
    _wait(w, qtbot)
    # corrections of the layer made after it was tracked are not these tracks': they are saved, as of the
    # mask file (a walk: "save them first" was said; once saved, the file no longer matched the tracks)
    mark_edited(source)
    assert w.save_btn.isEnabled() and w.save(), w.status.text()
    _wait(w, qtbot)
    csv, tracked_mask, log = track_paths(mask)
    assert "Saved movie_vSM_tracks.csv" in w.status.text(), w.status.text()
    pd.testing.assert_frame_equal(pd.read_csv(csv), w.result.tracks, check_dtype=False)
    assert np.array_equal(read_mask(tracked_mask).labels, np.asarray(tracked.data))
    text = log.read_text()
    assert text.count("| tracking | INFO | track correction: ") == 5
    assert f"track correction: split track {tid} at frame 3" in text


def test_tracks_are_saved_after_the_source_layer_is_removed(make_napari_viewer, qtbot,
                                                           tmp_path: Path) -> None:
    """Issue #20 walk: the original layer removed (its tracked copy kept), Save tracks said "the tracked
    layer has no mask file"; the tracks are saved beside the mask file they were made from."""
    movie, mask, viewer, w, source = _mask_in_dock(make_napari_viewer, tmp_path)
    w.max_distance.setValue(movie.max_step + 1)
    assert w.track()
    _wait(w, qtbot)
    assert w.result is not None, w.status.text()
    tracked = viewer.layers["movie_vSM tracked"]
    w.track_a.setValue(_whole_track(w.result))
    w.frame.setValue(5)
    w.split_btn.click()
    _wait(w, qtbot)
    assert len(w.records) == 1, w.status.text()
    viewer.layers.remove(source)
    assert w.shown.source is None and w.save_btn.isEnabled() and w.split_btn.isEnabled()
    assert w.save(), w.status.text()
    _wait(w, qtbot)
    csv, tracked_mask, log = track_paths(mask)
    assert "Saved movie_vSM_tracks.csv" in w.status.text(), w.status.text()
    pd.testing.assert_frame_equal(pd.read_csv(csv), w.result.tracks, check_dtype=False)
    assert np.array_equal(read_mask(tracked_mask).labels, np.asarray(tracked.data))
    assert log.read_text().count("| tracking | INFO | track correction: ") == 1
    # the tracked copy removed too: the tracks of a layer of no file are still not saved anywhere
    plain = viewer.add_labels(movie.masks, name="plain")
    w.labels_combo.setCurrentText("plain")
    assert w.track()
    _wait(w, qtbot)
    assert w.result is not None and not w.save_btn.isEnabled()
    viewer.layers.remove(plain)
    assert not w.save_btn.isEnabled() and not w.save() and "no mask file" in w.status.text()


def _whole_track(result) -> int:
    spans = result.tracks.groupby("track_id")["frame"].agg(["min", "max"])
    return int(next(t for t in spans.index[(spans["min"] == 0) & (spans["max"] == 11)]
                    if not (result.tracks["parent_track_id"] == t).any()))


def test_undo_button_takes_back_corrections_last_first(make_napari_viewer, qtbot) -> None:
    from napari_batchseg._napari._track_widget import TrackWidget

    movie = synthetic_movie(seed=4)
    viewer = make_napari_viewer()
    w = TrackWidget(viewer)
    viewer.window.add_dock_widget(w, name="Track cells")
    viewer.add_labels(movie.masks, name="movie")
    w.max_distance.setValue(movie.max_step + 1)
    assert not w.undo_btn.isEnabled()
    assert w.track()
    _wait(w, qtbot)
    original = w.result
    assert original is not None and original.labels is not None, w.status.text()
    assert not w.undo_btn.isEnabled() and not w.undo()  # nothing to undo yet
    tracked, tracks = viewer.layers["movie tracked"], viewer.layers["movie tracks"]
    spans = original.tracks.groupby("track_id")["frame"].agg(["min", "max"])
    tid = int(next(t for t in spans.index[(spans["min"] == 0) & (spans["max"] == 11)]
                   if not (original.tracks["parent_track_id"] == t).any()))
    new = original.max_track_id + 1
    w.track_a.setValue(tid)
    w.frame.setValue(4)
    w.split_btn.click()
    _wait(w, qtbot)
    w.track_b.setValue(new)
    w.mark_btn.click()
    _wait(w, qtbot)
    assert tracks.graph.get(new) == [tid] and len(w.records) == 2
    assert w.undo_btn.isEnabled() and w.undo_btn.toolTip() == f"Undo: {w.records[-1]}"
    # a refused operation is not on the stack (A divides now: it cannot be joined to B)
    w.join_btn.click()
    _wait(w, qtbot)
    assert "divides" in w.status.text() and len(w.records) == 2
    records = list(w.records)
    w.undo_btn.click()
    assert w.busy or len(w.records) == 1  # off the GUI thread
    _wait(w, qtbot)
    assert w.records == records[:1] and w.status.text().startswith(f"undid: {records[1]}")
    assert not tracks.graph.get(new) and (np.asarray(tracked.data) == new).any()
    w.undo_btn.click()
    _wait(w, qtbot)
    assert w.records == [] and not w.undo_btn.isEnabled()
    pd.testing.assert_frame_equal(w.result.tracks, original.tracks)
    assert np.array_equal(np.asarray(tracked.data), original.labels)
    assert not tracks.graph.get(new) and new not in set(tracks.data[:, 0].astype(int))


def _tracked_in_dock(make_napari_viewer, qtbot, tmp_path: Path, erase: bool = False):
    """:func:`_mask_in_dock`, tracked; ``erase``: first an object is erased from frame 0 by hand (as the
    Correct tab's brush does: the layer is marked edited)."""
    movie, mask, viewer, w, source = _mask_in_dock(make_napari_viewer, tmp_path)
    if erase:
        edited = np.asarray(source.data).copy()
        edited[0][edited[0] == edited[0].max()] = 0
        source.data = edited
        mark_edited(source)
        w.labels_combo.setCurrentText(source.name)
    w.max_distance.setValue(movie.max_step + 1)
    assert w.track()
    _wait(w, qtbot)
    assert w.result is not None and w.save_btn.isEnabled(), w.status.text()
    return mask, viewer, w, source


def test_removing_both_result_layers_forgets_the_result(make_napari_viewer, qtbot, tmp_path: Path) -> None:
    """A walk: the tracked labels and the tracks layer both removed, Save tracks still wrote the tracks."""
    mask, viewer, w, source = _tracked_in_dock(make_napari_viewer, qtbot, tmp_path)
    viewer.layers.remove("movie_vSM tracked")
    assert w.result is not None and w.save_btn.isEnabled()  # the tracks layer still shows it
    viewer.layers.remove("movie_vSM tracks")
    assert w.result is None and w.records == [] and not w.save_btn.isEnabled() and not w.split_btn.isEnabled()
    assert "removed" in w.status.text() and "Track cells" in w.status.text(), w.status.text()
    assert not w.save() and not any(p.exists() for p in track_paths(mask))
    # tracking again brings it all back
    assert w.track()
    _wait(w, qtbot)
    assert w.save_btn.isEnabled() and w.save()
    _wait(w, qtbot)
    pd.testing.assert_frame_equal(pd.read_csv(track_paths(mask)[0]), w.result.tracks, check_dtype=False)


def _split(w, qtbot, frame: int) -> str:
    """Split a whole track at ``frame`` with the button; the correction's record."""
    w.track_a.setValue(_whole_track(w.result))
    w.frame.setValue(frame)
    w.split_btn.click()
    _wait(w, qtbot)
    return w.records[-1]


def test_forgetting_the_result_names_the_corrections_not_saved(make_napari_viewer, qtbot,
                                                               tmp_path: Path) -> None:
    """Known bug: both result layers removed, the dock forgot the tracks' corrections not saved and said
    only "their tracks are forgotten"; the status names what was lost (only what was not saved)."""
    mask, viewer, w, source = _tracked_in_dock(make_napari_viewer, qtbot, tmp_path)
    saved = _split(w, qtbot, 3)
    assert w.save()
    _wait(w, qtbot)
    lost = _split(w, qtbot, 6)
    viewer.layers.remove("movie_vSM tracked")
    viewer.layers.remove("movie_vSM tracks")
    text = w.status.text()
    assert w.result is None and "forgotten" in text and "1 track correction(s) not saved" in text, text
    assert lost in text and saved not in text  # the one saved is in the files
    # saved, then forgotten: nothing is said lost
    assert w.track()
    _wait(w, qtbot)
    _split(w, qtbot, 3)
    assert w.save()
    _wait(w, qtbot)
    viewer.layers.remove("movie_vSM tracked")
    viewer.layers.remove("movie_vSM tracks")
    assert w.result is None and "not saved" not in w.status.text(), w.status.text()


def test_tracking_again_names_the_corrections_it_drops(make_napari_viewer, qtbot, tmp_path: Path) -> None:
    """Track cells pressed again replaced the corrected tracks, their corrections not saved dropped unsaid;
    the Track button's tooltip says so before, the status line after."""
    mask, viewer, w, source = _tracked_in_dock(make_napari_viewer, qtbot, tmp_path)
    assert "not saved" not in w.track_btn.toolTip()
    lost = _split(w, qtbot, 4)
    assert "1 track correction(s) not saved" in w.track_btn.toolTip() and lost in w.track_btn.toolTip()
    w.labels_combo.setCurrentText(source.name)
    assert w.track()
    _wait(w, qtbot)
    text = w.status.text()
    assert w.records == [] and "1 track correction(s) not saved" in text and lost in text, text
    assert "not saved" not in w.track_btn.toolTip()


def test_saved_tracks_of_an_edited_layer_lose_edited_in_their_names(make_napari_viewer, qtbot,
                                                                   tmp_path: Path) -> None:
    """A walk: tracked while its corrections were unsaved, then saved (Correct tab) and Save tracks: the
    layers kept ``movie_vSM (edited) tracked`` / ``... tracks`` though the files now hold them."""
    mask, viewer, w, source = _tracked_in_dock(make_napari_viewer, qtbot, tmp_path, erase=True)
    assert {"movie_vSM (edited) tracked", "movie_vSM (edited) tracks"} <= {lay.name for lay in viewer.layers}
    save_corrections(mask, np.asarray(source.data))  # the Correct tab's Save corrections
    mark_saved(source)
    assert w.save()
    _wait(w, qtbot)
    assert "Saved movie_vSM_tracks.csv" in w.status.text(), w.status.text()
    names = [lay.name for lay in viewer.layers]
    assert names == ["movie_vSM", "movie_vSM tracked", "movie_vSM tracks"], names
    assert np.array_equal(read_mask(track_paths(mask)[1]).labels, np.asarray(viewer.layers[1].data))
    assert w.labels_combo.findText("movie_vSM tracked") >= 0  # the dock's choices follow the new names


def test_a_removed_source_layers_unsaved_corrections_are_said_with_what_to_do(make_napari_viewer, qtbot,
                                                                             tmp_path: Path) -> None:
    """A walk: the source layer with unsaved corrections removed, Save tracks said the mask 'changed since
    it was tracked ... track it again' (it had not: the corrections were never saved)."""
    mask, viewer, w, source = _tracked_in_dock(make_napari_viewer, qtbot, tmp_path, erase=True)
    assert not w.save() and "save them first" in w.status.text()  # while the layer is there
    viewer.layers.remove(source)
    text = w.status.text()
    assert "movie_vSM (edited) was removed with corrections not saved to movie_vSM.ome.tif" in text, text
    assert "File > Save Layers" in text and not w.save_btn.isEnabled()
    assert not w.save() and w.status.text() == f"Not saved: {text}"
    _wait(w, qtbot)
    assert not any(p.exists() for p in track_paths(mask))


def test_a_mask_rewritten_under_the_source_layer_turns_save_off(make_napari_viewer, qtbot,
                                                               tmp_path: Path) -> None:
    """A walk: Re-threshold's Apply (Overwrite) rewrote the mask under the tracked layer: Save stayed on and
    said 'the tracked layer has no mask file'; it says who rewrote it, and turns off."""
    from qtpy.QtCore import QPointF
    from qtpy.QtGui import QEnterEvent
    from qtpy.QtWidgets import QApplication

    mask, viewer, w, source = _tracked_in_dock(make_napari_viewer, qtbot, tmp_path)
    write_mask(mask, np.asarray(source.data)[:, ::-1], PixelSize(x=0.5, y=0.5, t=30.0), "")
    assert mark_rewritten(viewer.layers, [mask], "Re-threshold rewrote movie_vSM.ome.tif") == ["movie_vSM"]
    # the pointer coming into the dock decides again: Save is off before it is pressed, its tooltip says why
    QApplication.sendEvent(w, QEnterEvent(QPointF(5, 5), QPointF(5, 5), QPointF(5, 5)))
    assert not w.save_btn.isEnabled()
    assert w.save_btn.toolTip().startswith("Not saved: Re-threshold rewrote movie_vSM.ome.tif")
    assert not w.save()
    assert w.status.text().startswith("Not saved: Re-threshold rewrote movie_vSM.ome.tif"), w.status.text()
    assert "track it again" in w.status.text() and not w.save_btn.isEnabled()
    assert not any(p.exists() for p in track_paths(mask))


def test_tracking_again_and_saving_keeps_the_saved_corrected_tracks(make_napari_viewer, qtbot,
                                                                     tmp_path: Path) -> None:
    """A walk: corrected and saved, then Track cells again on the same mask and Save: the saved corrections
    were replaced without a word. They are kept as ``.corrected_tracks.csv``, and the status says so."""
    mask, viewer, w, source = _tracked_in_dock(make_napari_viewer, qtbot, tmp_path)
    w.track_a.setValue(_whole_track(w.result))
    w.frame.setValue(4)
    w.split_btn.click()
    _wait(w, qtbot)
    assert len(w.records) == 1 and w.save()
    _wait(w, qtbot)
    assert "kept" not in w.status.text(), w.status.text()
    corrected = track_paths(mask)[0].read_text()
    w.labels_combo.setCurrentText(source.name)
    assert w.track()  # tracked afresh: no corrections
    _wait(w, qtbot)
    assert w.records == [] and w.save(), w.status.text()
    _wait(w, qtbot)
    kept = track_paths(tmp_path / "movie_vSM.corrected.ome.tif")
    assert kept[0].read_text() == corrected and all(p.is_file() for p in kept)
    text = w.status.text()
    assert text.startswith("Saved movie_vSM_tracks.csv"), text
    assert "kept as movie_vSM.corrected_tracks.csv" in text, text
