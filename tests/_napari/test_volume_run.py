"""A 3D (z_mode 3d) run from the widget with the project's model on a real Z-stack crop."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from napari_batchseg.io.masks import read_mask
from napari_batchseg.params import SegmentationParams
from napari_batchseg.view.layer_files import layer_meta
from test_3d import DIAMETER, MODEL, write_crop


def set_up_volume_run(widget, image, qtbot, z_mode: str) -> None:
    """List ``image`` and set the project's model, its diameter and ``z_mode`` (3d: anisotropy 1.5)."""
    form = widget.form
    assert widget.files.add_paths([image]) == 1
    qtbot.waitUntil(lambda: not widget.infos.busy, timeout=20000)
    form.model.setCurrentText("User trained model…")
    form.model_path.setText(str(MODEL))
    form.diameter.setValue(DIAMETER)
    form.volume_mode.setCurrentIndex(form.volume_mode.findData(z_mode))
    if z_mode == "3d":
        form.anisotropy.setValue(1.5)


@pytest.mark.cp3
def test_a_3d_run_in_the_widget_ends_with_a_tzyx_labels_layer(widget, tmp_path, qtbot):
    image = write_crop(tmp_path / "cells.ome.tif", n_t=2)
    set_up_volume_run(widget, image, qtbot, "3d")
    params = widget.params()
    assert (params.z_mode, params.anisotropy, params.stitch_threshold) == ("3d", 1.5, 0.25)
    assert widget.run()
    # the run ends before its last volume is stored for display (a worker copies it): wait for both
    qtbot.waitUntil(lambda: not widget.running and widget.streamer.settled, timeout=300000)
    key = widget.status.keys()[0]
    assert widget.status.status(key) == "done", widget.message.text()
    mask = read_mask(tmp_path / "cells_vSM.ome.tif")
    assert mask.is_volume and mask.labels.shape == (2, 5, 40, 40) and mask.labels.max() > 0
    assert "z mode 3d" in mask.log_text and "anisotropy 1.5" in mask.log_text
    layers = [lay for lay in widget.viewer.layers if layer_meta(lay).get("role") == "mask"]
    assert layers, [lay.name for lay in widget.viewer.layers]
    qtbot.waitUntil(lambda: layers[0].data.ndim == 4, timeout=20000)
    assert len(layers[0].scale) == 4
    assert tuple(layers[0].translate) == (0.0, 0.0, 0.0, 0.0)  # every slice: Z from the input's first
    np.testing.assert_array_equal(np.asarray(layers[0].data), mask.labels)


def test_a_volume_mode_flags_files_without_z_before_run(widget, data_folder, tmp_path, qtbot):
    stack = write_crop(tmp_path / "stack.ome.tif")
    flat = data_folder / "nuclei_BF.tif"
    files, form = widget.files, widget.form
    files.add_paths([stack, flat])
    qtbot.waitUntil(lambda: not widget.infos.busy, timeout=20000)
    assert files.problem(flat) == "" and files.problem(stack) == ""
    form.volume_mode.setCurrentIndex(form.volume_mode.findData("stitch"))
    assert "Z" in files.problem(flat) and files.problem(stack) == ""
    assert "--" not in files.problem(flat), files.problem(flat)  # the widget's words (a walk)
    # a walk: best focus was offered in a volume mode, then Run refused it in the API's words
    z_range = form.z.z_mode
    assert z_range.currentData() == "all"
    best = [z_range.findData(mode) for mode in ("best", "best:r")]
    assert not any(z_range.model().item(i).isEnabled() for i in best)
    form.volume_mode.setCurrentIndex(form.volume_mode.findData("project"))
    z_range.setCurrentIndex(best[1])
    form.volume_mode.setCurrentIndex(form.volume_mode.findData("3d"))
    assert z_range.currentData() == "all" and widget.params().z_range == "all"
    # a review: parameters of a projection with best focus, loaded while a volume mode was shown, lost it
    widget.set_params(SegmentationParams(z_range="best:3", z_mode="project"))
    assert (widget.params().z_range, widget.params().z_mode) == ("best:3", "project")
    form.volume_mode.setCurrentIndex(form.volume_mode.findData("project"))
    assert files.problem(flat) == ""


@pytest.mark.cp3
def test_a_volume_run_after_a_flat_file_was_listed_starts_on_the_middle_slice(widget, data_folder, tmp_path,
                                                                                  qtbot):
    """A walk: a flat image and a Z stack listed, 2D + stitch chosen (the idle layers took the flat
    file's one slice), the flat one removed, Run: the Z slider stayed on slice 0 (a dark slice, no masks)
    instead of the middle one."""
    stack = write_crop(tmp_path / "stack.ome.tif")  # 5 Z slices
    qtbot.waitUntil(lambda: widget.startup_done, timeout=120000)
    widget.files.add_paths([data_folder / "nuclei_BF.tif"])
    set_up_volume_run(widget, stack, qtbot, "stitch")

    def idle_layers() -> list:
        return [lay for lay in widget.viewer.layers if layer_meta(lay).get("stream")]

    qtbot.waitUntil(lambda: not widget.infos.busy and widget.run_btn.isEnabled(), timeout=20000)
    assert idle_layers() == []  # none before Run (was an idle pair of the flat file's one slice)
    widget.files.remove_marked()
    assert widget.files.files() == [stack]
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running and widget.streamer.settled, timeout=300000)
    labels = next(lay for lay in widget.viewer.layers if layer_meta(lay).get("role") == "mask")
    assert labels.data.shape[1] == 5
    z_axis = widget.viewer.dims.ndim - 3
    assert widget.viewer.dims.current_step[z_axis] == 2, widget.viewer.dims.current_step


@pytest.mark.cp3
def test_a_volume_run_of_a_z_range_sits_over_its_input_slices(widget, tmp_path, qtbot):
    """A walk: a stitch run of slices 2-4 of a 5-slice stack showed its streamed Labels layer and its
    prepared input at Z 0-2, not over slices 2-4 of the input opened beside them (as the reader places
    the mask file); reopened from its file too."""
    image = write_crop(tmp_path / "cells.ome.tif")
    set_up_volume_run(widget, image, qtbot, "stitch")
    widget.set_params(replace(widget.params(), z_range="2-4"))
    assert widget.params().z_range == "2-4" and widget.form.z.z_mode.currentData() == "range"
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running and widget.streamer.settled, timeout=300000)
    state = widget.streamer.session.tasks[0]
    assert state.status == "done", widget.message.text()
    mask = read_mask(state.mask_path)
    assert mask.labels.shape == (1, 3, 40, 40)
    z_at = 2 * mask.pixel_size.z  # slice 2 of the input, in µm

    def stream_pair() -> list:
        return [lay for lay in widget.viewer.layers if layer_meta(lay).get("stream")]

    assert len(stream_pair()) == 2
    for layer in stream_pair():
        assert tuple(layer.translate) == pytest.approx((0.0, z_at, 0.0, 0.0)), layer.name
    widget.viewer.layers.clear()  # shown again: from its mask file
    widget.streamer.results.open_from_disk(state.task, state.mask_path, widget.params())
    assert len(stream_pair()) == 2
    for layer in stream_pair():
        assert tuple(layer.translate) == pytest.approx((0.0, z_at, 0.0, 0.0)), layer.name
