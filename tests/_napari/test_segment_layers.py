"""Segment what is open: image layers through the same engine as files, streamed and saved."""

from __future__ import annotations

import shutil

import numpy as np

from napari_batchseg import segment_files
from napari_batchseg.io.masks import read_mask
from napari_batchseg.params import SegmentationParams
from napari_batchseg.testing import threshold_segmenter
from napari_batchseg.view.layer_files import layer_meta


def _mask_layer(viewer):
    return next(lay for lay in viewer.layers if layer_meta(lay).get("role") == "mask")


def test_segment_an_opened_file_layer_like_the_file(widget, example_files, tmp_path, qtbot):
    movie = tmp_path / "movie_BF.nd2"
    shutil.copy(example_files["timelapse"], movie)
    viewer = widget.viewer
    viewer.open(str(movie), plugin="napari-batchseg")
    layer = viewer.layers["movie_BF"]
    viewer.layers.selection = {layer}
    assert widget.layers.run_btn.isEnabled() and "movie_BF" in widget.layers.selected.text()
    assert widget.layers.axes.currentText() == "TYX"  # from the reader's axis labels
    widget.controller.segmenter_factory = threshold_segmenter
    widget.form.end_frame.setValue(4)
    assert widget.run_layers()
    qtbot.waitUntil(lambda: not widget.running, timeout=60000)
    out = tmp_path / "movie_BF_vSM.ome.tif"
    assert [s.status for s in widget.session.tasks] == ["done"], [s.reason for s in widget.session.tasks]
    mask = read_mask(out)
    assert mask.labels.shape == (5, 64, 64)
    assert "napari layer 'movie_BF' from " + str(movie) in mask.log_text
    np.testing.assert_array_equal(_mask_layer(viewer).data, mask.labels)  # streamed into a Labels layer
    # the same engine: the file itself gives the same mask, pixel for pixel
    ref = tmp_path / "ref"
    ref.mkdir()
    shutil.copy(movie, ref / "movie_BF.nd2")
    segment_files([ref / "movie_BF.nd2"], SegmentationParams(end_frame=4),
                  segmenter=threshold_segmenter(SegmentationParams()))
    np.testing.assert_array_equal(read_mask(ref / "movie_BF_vSM.ome.tif").labels, mask.labels)


def _three_frames(dsb2018, ny, nx):
    """A 3-frame movie of the real DSB2018 image (shifted copies), ``ny`` x ``nx``."""
    import tifffile

    img = tifffile.imread(dsb2018[0])[:ny, :nx]
    return np.stack([img, np.roll(img, 20, axis=1), np.roll(img, 40, axis=0)])


def test_layer_without_file_current_frame(widget, tmp_path, qtbot, dsb2018):
    import tifffile

    viewer = widget.viewer
    stack = _three_frames(dsb2018, 128, 160)
    layer = viewer.add_image(stack, name="my stack")
    viewer.layers.selection = {layer}
    widget.controller.segmenter_factory = threshold_segmenter
    assert not widget.run_layers()  # no file: an output folder is needed
    assert "output folder" in widget.message.text()
    widget.output.custom.setChecked(True)
    widget.output.folder.setText(str(tmp_path))
    viewer.dims.set_current_step(0, 2)
    widget.layers.this_frame.setChecked(True)
    widget.form.model.setCurrentText("User trained model…")  # without a file: refused, not cyto3
    assert not widget.run_layers() and "Model file (Settings tab) is empty" in widget.message.text()
    widget.form.model.setCurrentIndex(0)
    assert widget.run_layers()
    qtbot.waitUntil(lambda: not widget.running, timeout=60000)
    mask = read_mask(tmp_path / "my_stack_t0002_vSM.ome.tif")  # a current frame's output names it
    assert mask.labels.shape == (1, 128, 160)
    assert "frames: 2-2 (1 of 3)" in mask.log_text and "napari layer 'my stack' (no file)" in mask.log_text
    assert mask.labels.max() > 0
    # the user's layer keeps its name, and the stream layers' names do not collide with it ("my stack [1]")
    names = [lay.name for lay in viewer.layers]
    assert "my stack" in names and "my_stack_t0002 mask" in names and not any("[" in n for n in names), names
    assert "my_stack_t0002 (input)" in names, names  # a walk: "... mask (input)"
    # the same frame of the same pixels as a file: the same mask
    ref = tmp_path / "ref"
    ref.mkdir()
    tifffile.imwrite(ref / "stack.ome.tif", stack, ome=True, metadata={"axes": "TYX"})
    segment_files([ref / "stack.ome.tif"], SegmentationParams(start_frame=2, end_frame=2),
                  segmenter=threshold_segmenter(SegmentationParams()))
    np.testing.assert_array_equal(read_mask(ref / "stack_vSM.ome.tif").labels, mask.labels)


def test_closing_the_widget_forgets_layer_sources(widget, tmp_path, qtbot):
    from napari_batchseg.io import reader

    layer = widget.viewer.add_image(np.zeros((2, 40, 50), np.uint16), name="tmp layer")
    widget.viewer.layers.selection = {layer}
    widget.output.custom.setChecked(True)
    widget.output.folder.setText(str(tmp_path))
    widget.controller.segmenter_factory = threshold_segmenter
    assert widget.run_layers()
    qtbot.waitUntil(lambda: not widget.running, timeout=60000)
    assert (tmp_path.absolute() / "tmp_layer") in reader._IN_MEMORY
    widget.close_down()
    assert (tmp_path.absolute() / "tmp_layer") not in reader._IN_MEMORY


def test_channel_and_z_axes_of_a_layer(widget, tmp_path, qtbot, dsb2018):
    """A ZCYX layer: the chosen channel and the Z-projection apply as for a file with the same axes."""
    import tifffile

    img = tifffile.imread(dsb2018[0])[:96, :128].astype(np.uint16)
    data = np.stack([np.stack([img // (z + 1), np.roll(img, 10 * z, axis=1)]) for z in range(3)])  # ZCYX
    layer = widget.viewer.add_image(data, name="zc stack")
    widget.viewer.layers.selection = {layer}
    widget.layers.axes.setCurrentText("ZCYX")
    assert widget.layers.chosen()[0][1] == "ZCYX"
    widget.output.custom.setChecked(True)
    widget.output.folder.setText(str(tmp_path))
    widget.form.z_type.setCurrentText("max")
    widget.form.set_params(widget.params().replace(channel=1, z_projection="max"))
    widget.controller.segmenter_factory = threshold_segmenter
    assert widget.run_layers()
    qtbot.waitUntil(lambda: not widget.running, timeout=60000)
    mask = read_mask(tmp_path / "zc_stack_vSM.ome.tif")
    ref = tmp_path / "ref"
    ref.mkdir()
    tifffile.imwrite(ref / "zc.ome.tif", data, ome=True, metadata={"axes": "ZCYX"})
    segment_files([ref / "zc.ome.tif"], SegmentationParams(channel=1, z_projection="max"),
                  segmenter=threshold_segmenter(SegmentationParams()))
    np.testing.assert_array_equal(read_mask(ref / "zc_vSM.ome.tif").labels, mask.labels)
    assert "channel used: 1" in mask.log_text and mask.labels.max() > 0


def test_settings_describe_a_z_stack_layer(widget, data_folder, dsb2018, qtbot):
    """QA s15: with a ZYX layer selected, Z-projection is offered and its note gives the layer's slices."""
    import tifffile

    img = tifffile.imread(dsb2018[0])[:96, :128]
    viewer = widget.viewer
    form = widget.form
    layer = viewer.add_image(np.stack([img] * 5), name="zstack", axis_labels=("Z", "Y", "X"))
    viewer.layers.selection.active = layer
    assert widget.layers.axes.currentText() == "ZYX"
    assert form.z_mode.isEnabled() and form.z_type.isEnabled()
    assert form.z_note.text() == "layer 'zstack': 5 Z slice(s)"
    assert not form.start_frame.isEnabled()  # no time axis
    widget.layers.axes.setCurrentText("TYX")  # read as a time series instead: frames, no Z
    assert form.start_frame.isEnabled() and form.end_frame.isEnabled()
    assert not form.z_mode.isEnabled() and form.z_note.text() == "no layer has Z slices"
    widget.layers.axes.setCurrentText("ZYX")
    # a file picked in the list: the Settings describe the files again (a 2D TIFF: no Z)
    widget.files.add_paths([data_folder / "nuclei_BF.tif"])
    qtbot.waitUntil(lambda: not widget.infos.busy and bool(widget.infos.infos(widget.files.files())),
                    timeout=20000)
    widget.files.select_file((data_folder / "nuclei_BF.tif").resolve())
    assert not form.z_mode.isEnabled() and "no file has Z slices" in form.z_note.text()
    # the layer selected again in napari: described again
    viewer.layers.selection.clear()
    viewer.layers.selection.active = layer
    assert form.z_mode.isEnabled() and "5 Z slice(s)" in form.z_note.text()


def test_the_channel_chosen_for_a_cyx_layer_is_segmented(widget, tmp_path, qtbot, dsb2018):
    """QA s16: a CYX layer, channel 0 empty, nuclei in channel 1: its channels are listed, 1 is segmented."""
    import tifffile

    img = tifffile.imread(dsb2018[0])[:128, :128]
    viewer = widget.viewer
    layer = viewer.add_image(np.stack([np.zeros_like(img), img]), name="two channels",
                             axis_labels=("C", "Y", "X"))
    viewer.layers.selection.active = layer
    assert widget.layers.axes.currentText() == "CYX"
    channel = widget.form.channel
    assert channel.isEnabled()
    assert [channel.itemText(i) for i in range(channel.count())] == ["0: C0", "1: C1"]
    channel.setCurrentIndex(1)
    assert widget.form.values()["channel"] == 1
    widget.output.custom.setChecked(True)
    widget.output.folder.setText(str(tmp_path))
    widget.controller.segmenter_factory = threshold_segmenter
    assert widget.run_layers()
    qtbot.waitUntil(lambda: not widget.running, timeout=60000)
    assert [s.status for s in widget.session.tasks] == ["done"], [s.reason for s in widget.session.tasks]
    mask = read_mask(tmp_path / "two_channels_vSM.ome.tif")
    assert "channel used: 1" in mask.log_text
    assert mask.labels.max() > 0  # channel 0 is empty: the nuclei of channel 1 were segmented
    # the same pixels as a file, channel 1: the same mask
    ref = tmp_path / "ref"
    ref.mkdir()
    tifffile.imwrite(ref / "two.ome.tif", np.stack([np.zeros_like(img), img]), ome=True,
                     metadata={"axes": "CYX"})
    segment_files([ref / "two.ome.tif"], SegmentationParams(channel=1),
                  segmenter=threshold_segmenter(SegmentationParams()))
    np.testing.assert_array_equal(read_mask(ref / "two_vSM.ome.tif").labels, mask.labels)


def test_results_sit_over_a_layer_moved_along_t(widget, tmp_path, qtbot, dsb2018):
    """QA r9: a layer at T 10-12 (translate 10): results sat at T 0-2, away from the user's frames."""

    viewer = widget.viewer
    stack = _three_frames(dsb2018, 96, 128)
    layer = viewer.add_image(stack, name="moved", translate=(10, 0, 0))
    viewer.layers.selection = {layer}
    widget.controller.segmenter_factory = threshold_segmenter
    widget.output.custom.setChecked(True)
    widget.output.folder.setText(str(tmp_path))

    def stream_labels():
        return next(lay for lay in viewer.layers if lay.metadata.get("batchseg", {}).get("role") == "mask"
                    and lay.metadata["batchseg"].get("stream"))

    assert widget.run_layers()  # whole stack
    qtbot.waitUntil(lambda: not widget.running and widget.streamer.settled, timeout=60000)
    labels = stream_labels()
    assert tuple(labels.translate)[0] == 10.0 and labels.data.shape[0] == 3
    assert viewer.dims.point[0] == 12.0  # followed to the last frame, over the user's last frame
    whole = widget.session.tasks[0]
    # the frame on screen only (T = 11: the layer's frame 1)
    widget.output.existing.setCurrentIndex(widget.output.existing.findText("overwrite it"))
    viewer.dims.set_point(0, 11.0)
    widget.layers.this_frame.setChecked(True)
    assert widget.run_layers()
    qtbot.waitUntil(lambda: not widget.running and widget.streamer.settled, timeout=60000)
    labels = stream_labels()
    assert tuple(labels.translate)[0] == 11.0 and labels.data.shape[0] == 1
    mask = read_mask(tmp_path / "moved_t0001_vSM.ome.tif")  # beside the whole stack's moved_vSM
    assert "frames: 1-1 (1 of 3)" in mask.log_text
    np.testing.assert_array_equal(np.asarray(labels.data)[0], mask.labels[0])
    # the whole stack's result reopened from its file sits over the layer too (it sat at T 0-2)
    widget.streamer.results.open_from_disk(whole.task, whole.mask_path, widget.params())
    reopened, _ = widget.streamer.layers_for(whole.task.key)
    assert tuple(reopened.translate)[0] == 10.0 and reopened.data.shape[0] == 3
