"""Volume runs (``z_mode`` 3d) stream into the widget: each volume appears in the file's ``(T, Z, Y, X)``
Labels layer as the engine yields it, like the frames of a 2D run (issue 23, widget point).

The project's own Cellpose 3 model on a crop of a real Z stack (``tests/test_3d.py``: 5 slices of
40 x 40 pixels, Z step 6 µm, pixel 0.323 µm), three time points.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from napari_batchseg.events import FrameDone, TaskDone
from napari_batchseg.io.masks import read_mask
from napari_batchseg.view.layer_files import is_volume_result, layer_meta
from test_3d import write_crop

from .test_volume_run import set_up_volume_run

N_T = 3


def _stream_pair(viewer):
    by_role = {layer_meta(lay).get("role"): lay for lay in viewer.layers if layer_meta(lay).get("stream")}
    return by_role.get("mask"), by_role.get("prepared")


@pytest.mark.cp3
def test_each_volume_streams_into_a_tzyx_labels_layer_before_the_run_ends(widget, tmp_path, qtbot):
    image = write_crop(tmp_path / "cells.ome.tif", n_t=N_T)
    viewer = widget.viewer
    set_up_volume_run(widget, image, qtbot, "3d")
    # what the layers hold each time napari is asked to redraw them (the streamer's refreshes), and when
    # the engine's events arrive (after the widget handled them)
    seen: list[dict[str, object]] = []
    events: list[tuple[str, int]] = []

    def look() -> None:
        labels, _ = _stream_pair(viewer)
        if labels is None or labels.data.ndim != 4:
            return
        task_done = any(name == "TaskDone" for name, _ in events)
        seen.append({"done": task_done, "running": widget.running, "frames_in": list(events),
                     "data": labels.data, "scale": tuple(labels.scale),
                     "filled": [bool(np.asarray(labels.data[t]).any()) for t in range(labels.data.shape[0])],
                     "first": np.array(labels.data[0]),
                     "z": labels.world_to_data(viewer.dims.point)[1]})

    def on_event(ev: object) -> None:
        if isinstance(ev, FrameDone):
            events.append(("FrameDone", ev.index))
            assert ev.labels is not None and ev.labels.ndim == 3  # the engine yields (Z, Y, X) volumes
        elif isinstance(ev, TaskDone):
            events.append(("TaskDone", -1))

    widget.controller.run_event.connect(on_event)
    widget.streamer.refreshed.connect(look)
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running and widget.streamer.settled, timeout=300000)
    widget.controller.run_event.disconnect(on_event)
    widget.streamer.refreshed.disconnect(look)
    key = widget.status.keys()[0]
    assert widget.status.status(key) == "done", widget.message.text()
    mask_path = tmp_path / "cells_vSM.ome.tif"
    mask = read_mask(mask_path)
    assert mask.is_volume and mask.labels.shape == (N_T, 5, 40, 40) and mask.labels.max() > 0
    # a volume was on screen while the engine was still working on the next ones
    early = [s for s in seen if not s["done"] and s["running"] and s["filled"][0]]
    assert early, [(s["frames_in"], s["filled"]) for s in seen]
    first_seen = early[0]
    assert first_seen["frames_in"][-1][0] == "FrameDone" and not all(first_seen["filled"])
    np.testing.assert_array_equal(first_seen["first"], mask.labels[0])
    ps = mask.pixel_size
    assert ps.z == pytest.approx(6.0, rel=0.01)
    assert first_seen["scale"] == pytest.approx((ps.t or 1.0, ps.z, ps.y, ps.x))
    assert first_seen["z"] == pytest.approx(2)  # napari's Z slider on the middle slice of 5
    # the finished layer equals the written mask, knows its file, and is the buffer the volumes streamed
    # into (not a second copy of the movie read back from disk)
    labels, image_layer = _stream_pair(viewer)
    assert labels.data.ndim == 4 and tuple(labels.axis_labels) == ("T", "Z", "Y", "X")
    np.testing.assert_array_equal(np.asarray(labels.data), mask.labels)
    assert labels.data is first_seen["data"]
    assert layer_meta(labels)["mask_path"] == str(mask_path)
    assert image_layer is not None and image_layer.data.shape == mask.labels.shape
    assert float(np.asarray(image_layer.data[N_T - 1]).max()) > 0  # the prepared input, volume by volume


@pytest.mark.cp3
def test_the_stream_layers_change_dimensions_between_a_2d_and_a_volume_run(widget, tmp_path, qtbot):
    """A projected (T, Y, X) run, then a 3d (T, Z, Y, X) run of the same file reuse the pair of stream
    layers: both change dimensions in one turn, with the same units, and napari never warns about
    layers whose units differ."""
    image = write_crop(tmp_path / "cells.ome.tif", n_t=2)
    viewer = widget.viewer
    set_up_volume_run(widget, image, qtbot, "project")
    widget.output.suffix.setText("flat")  # the volume run writes its own output beside this one
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running and widget.streamer.settled, timeout=300000)
    labels, image_layer = _stream_pair(viewer)
    assert labels.data.ndim == 3 and image_layer.data.ndim == 3
    assert not is_volume_result(layer_meta(labels))  # 2D frames: no intensities of Z slices for them
    flat_layers = (labels, image_layer)
    form = widget.form
    form.volume_mode.setCurrentIndex(form.volume_mode.findData("stitch"))
    widget.output.suffix.setText("")
    from napari.utils.notifications import notification_manager

    said: list[str] = []

    def heard(notification) -> None:
        said.append(str(notification.message))

    notification_manager.notification_ready.connect(heard)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert widget.run()
            qtbot.waitUntil(lambda: not widget.running and widget.streamer.settled, timeout=300000)
            qtbot.wait(50)
    finally:
        notification_manager.notification_ready.disconnect(heard)
    assert widget.status.status(widget.status.keys()[0]) == "done", widget.message.text()
    labels, image_layer = _stream_pair(viewer)
    assert (labels, image_layer) == flat_layers  # the same two layers, reshaped
    mask = read_mask(labels.metadata["batchseg"]["mask_path"])
    assert mask.is_volume and labels.data.ndim == image_layer.data.ndim == 4
    assert is_volume_result(layer_meta(labels))  # as the reader says of its mask file
    np.testing.assert_array_equal(np.asarray(labels.data), mask.labels)
    assert tuple(map(str, labels.units)) == tuple(map(str, image_layer.units))
    assert tuple(labels.scale) == pytest.approx(tuple(image_layer.scale))
    assert viewer.layers.extent.units is not None
    texts = said + [str(w.message) for w in caught]
    assert not [t for t in texts if "Inconsistent units" in t], texts
