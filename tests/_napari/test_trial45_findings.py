"""GUI trial 45 (a biologist driving napari 0.9 under Xvfb): its confirmed findings, one test each.

Each test reproduces one finding of the trial's report through the dock's own widgets (they failed before
the fixes).
"""

from __future__ import annotations

import shutil

from .test_tracking_widget import track_dock_on_movie


def _listed(widget, qtbot, *paths) -> None:
    widget.files.add_paths(list(paths))
    qtbot.waitUntil(lambda: not widget.infos.busy, timeout=30000)
    widget.files.list.setCurrentRow(0)
    qtbot.wait(400)  # the marks are decided 100 ms after new metadata


def test_frames_of_an_earlier_time_series_can_be_undone_for_a_z_stack(widget, example_files, tmp_path, qtbot):
    movie, stack = tmp_path / "movie.nd2", tmp_path / "stack.nd2"
    shutil.copy(example_files["timelapse"], movie)
    shutil.copy(example_files["zstack"], stack)
    _listed(widget, qtbot, movie)
    widget.form.start_frame.setValue(2)  # the user segmented frames 2.. of the movie
    widget.files.buttons.clear_btn.click()
    _listed(widget, qtbot, stack)
    # the stack is marked as the command line refuses it, and the field that undoes it stays open (it was
    # greyed out: the user could not see how to run the stack but by per-file frames)
    assert "⚠ no frame 2" in widget.files.list.item(0).text()
    assert widget.form.start_frame.isEnabled()
    widget.form.start_frame.setValue(0)
    qtbot.waitUntil(lambda: "⚠" not in widget.files.list.item(0).text(), timeout=5000)
    widget.files.buttons.clear_btn.click()
    _listed(widget, qtbot, stack)
    assert not widget.form.start_frame.isEnabled()  # nothing set: greyed, as for any file of one frame


def _two_masks(viewer, tmp_path):
    """A first Labels layer (another mask), then a mask opened from its file: the one the user works on."""
    import numpy as np

    from _one_square import segmented_square
    from napari_batchseg.params import SegmentationParams

    (task,) = segmented_square(tmp_path / "square.tif", SegmentationParams()).tasks
    viewer.add_labels(np.zeros((48, 48), np.uint16), name="other mask")
    (layer,) = viewer.open(str(task.names.mask), plugin="napari-batchseg")
    return layer


def test_measure_dock_keeps_its_labels_layer_through_the_edited_rename(make_napari_viewer, tmp_path, qtbot):
    from napari_batchseg._napari._measure_widget import MeasureExportWidget

    viewer = make_napari_viewer()
    layer = _two_masks(viewer, tmp_path)
    dock = MeasureExportWidget(viewer)
    viewer.window.add_dock_widget(dock, name="Measure")
    dock.labels_combo.setCurrentText(layer.name)
    assert dock.labels_layer is layer
    layer.paint((10, 10), 7)  # napari's brush, as a user corrects the mask
    qtbot.wait(50)
    assert layer.name.endswith("(edited)")
    assert dock.labels_layer is layer  # today: the layer "other mask"


def test_train_dock_keeps_its_labels_layer_through_the_edited_rename(make_napari_viewer, tmp_path, qtbot,
                                                                    monkeypatch):
    from napari_batchseg._napari._train_widget import TrainWidget

    monkeypatch.setenv("BATCHSEG_CONFIG_DIR", str(tmp_path / "config"))
    viewer = make_napari_viewer()
    layer = _two_masks(viewer, tmp_path)
    dock = TrainWidget(viewer)
    viewer.window.add_dock_widget(dock, name="Train")
    dock.labels_layer.setCurrentText(layer.name)
    layer.paint((10, 10), 7)
    qtbot.wait(50)
    assert layer.name.endswith("(edited)")
    assert dock.labels_layer.currentText() == layer.name  # today: "other mask"


def test_track_dock_keeps_its_labels_layer_through_the_edited_rename(make_napari_viewer, tmp_path, qtbot):
    import numpy as np

    from napari_batchseg._napari._track_widget import TrackWidget
    from napari_batchseg.view.layer_files import write_labels

    movie = np.zeros((3, 32, 32), np.uint16)
    movie[:, 4:10, 4:10] = 1
    viewer = make_napari_viewer()
    for name in ("a_other", "b_chosen"):
        (written, *_) = write_labels(str(tmp_path / f"{name}.ome.tif"), movie, {})
        viewer.open(written, plugin="napari-batchseg")
    other, layer = viewer.layers
    dock = TrackWidget(viewer)
    viewer.window.add_dock_widget(dock, name="Track")
    dock.labels_combo.setCurrentText(layer.name)
    layer.paint((0, 20, 20), 5)
    qtbot.wait(50)
    assert layer.name.endswith("(edited)")
    assert dock.labels_combo.currentText() == layer.name  # today: other.name


def test_time_slider_spans_the_frames_segmented(widget, example_files, tmp_path, qtbot):
    """Trial 45 #3: a run of frames 0-9 of a 53-frame movie (its idle pair was made with 53 frames; since
    trial 46 the pair is made at Run)."""
    from napari_batchseg.view.layer_files import layer_meta
    from napari_batchseg.view.slider import slider_slot

    from ._fakes import held_factory

    movie = tmp_path / "movie.nd2"
    shutil.copy(example_files["timelapse"], movie)  # 53 frames
    qtbot.waitUntil(lambda: widget.startup_done, timeout=120000)
    _listed(widget, qtbot, movie)
    viewer = widget.viewer
    assert not [lay for lay in viewer.layers if layer_meta(lay).get("stream")]  # none before Run
    made: list = []
    widget.controller.segmenter_factory = held_factory(0.0, 0, made)  # held before its first frame
    widget.form.end_frame.setValue(9)
    assert widget.run()
    qtbot.waitUntil(lambda: bool(made) and all(lay.visible for lay in viewer.layers)
                    and widget.streamer.settled, timeout=60000)
    qtbot.wait(300)
    try:  # Run clicked, no frame segmented yet: the slider spans the run's frames, on its first one
        assert [lay.data.shape[0] for lay in viewer.layers] == [10, 10]
        assert viewer.dims.nsteps[0] == 10  # was 53 (frames 10-52: a black canvas)
        assert slider_slot(viewer.dims, viewer.layers[-1]) == 0  # was 9, the last one (black)
    finally:
        made[0].release.set()
    qtbot.waitUntil(lambda: not widget.running and widget.streamer.settled, timeout=120000)
    qtbot.wait(1500)  # (the layers are refreshed at most once a second)
    assert [lay.data.shape[0] for lay in viewer.layers] == [10, 10]
    assert viewer.dims.nsteps[0] == 10  # was 53


def test_closing_the_dock_mid_run_marks_its_layer_cancelled(widget, data_folder, qtbot):
    """Trial 45 #8: the dock closed mid-run cancels the run; the stream layer kept the file's name, with
    the cancelled run's first frames, and nothing said that it was cancelled (Cancel's own mark)."""
    from napari_batchseg.view.layer_files import layer_meta

    from ._fakes import factory

    viewer, gone = widget.viewer, []
    widget.destroyed.connect(lambda *_: gone.append("segment"))
    widget.files.contains.setText("timelapse_BF")
    widget.controller.segmenter_factory = factory(0.1)
    widget.form.end_frame.setValue(30)
    _listed(widget, qtbot, data_folder)
    assert widget.run()
    controller = widget.controller
    qtbot.waitUntil(lambda: any(s.frames_done for s in widget.session.tasks), timeout=30000)
    viewer.window.remove_dock_widget(widget)
    qtbot.waitUntil(lambda: gone == ["segment"], timeout=5000)
    qtbot.waitUntil(lambda: not controller.compute_alive, timeout=10000)
    (labels,) = [lay for lay in viewer.layers if layer_meta(lay).get("role") == "mask"]
    assert labels.name == "timelapse_BF.nd2 (cancelled, not saved)"  # was "timelapse_BF.nd2"


def test_tracks_of_a_layer_removed_while_tracked_are_not_added(make_napari_viewer, qtbot):
    """Trial 45 (suspected): the Labels layer removed while its tracking job runs; its result, delivered
    later, added "movie tracked" and "movie tracks" layers for a layer no longer there."""
    viewer, w, layer = track_dock_on_movie(make_napari_viewer)
    assert w.track()
    viewer.layers.remove(layer)  # in the same turn: before the job's result can be delivered
    qtbot.waitUntil(lambda: not w.busy, timeout=60000)
    assert [lay.name for lay in viewer.layers] == []  # were "movie tracked", "movie tracks"
    assert "removed" in w.status.text(), w.status.text()
    assert w.result is None  # nothing to correct or save


def test_track_frame_field_says_the_files_frames_for_a_movie_from_frame_2(make_napari_viewer, qtbot):
    """Trial 45 (suspected UX): a run from frame 2; napari's slider counts its layer's frames 0-11 while the
    Frame field ("Split A at frame") takes the file's 2-13, and nothing said so: a slider number typed in
    split another frame."""
    viewer, w, _ = track_dock_on_movie(make_napari_viewer,
                                       metadata={"batchseg": {"role": "mask", "first_frame": 2}})
    assert w.track()
    qtbot.waitUntil(lambda: not w.busy, timeout=60000)
    assert (w.frame.minimum(), w.frame.value()) == (3, 3)  # the file's frames (the layer's 1st = frame 2)
    # was "3" with nothing saying whose; then "file frame 3" in the box (cut off: session 46), now its label
    assert (w.frame_label.text(), w.frame.text()) == ("File frame", "3")
    assert "slider at k shows file frame 2 + k" in w.frame.toolTip()
