"""A single-frame result is drawn even when another layer holds napari's T slider past its frame.

GUI trial 44: the Track dock's ``… tracked`` layers of a 5-frame movie kept the slider on frame 4; the next
run's single images (and a single-frame result reopened from the table) went into layers with one frame
at T = 0: the canvas stayed black while the message line said the file was shown.
"""

from __future__ import annotations

import numpy as np

from napari_batchseg.view.layer_files import layer_meta
from napari_batchseg.view.slider import slider_slot

from ._fakes import factory


def _stream_labels(viewer):
    return next(lay for lay in viewer.layers
                if layer_meta(lay).get("stream") and layer_meta(lay).get("role") == "mask")


def _drawn(viewer, layer) -> bool:
    """The slider stands on one of ``layer``'s frames (napari draws nothing of it otherwise)."""
    slot = slider_slot(viewer.dims, layer)
    return slot is not None and 0 <= slot < layer.data.shape[0]


def test_single_frame_results_are_drawn_over_a_longer_movie(widget, data_folder, qtbot):
    viewer = widget.viewer
    movie = viewer.add_labels(np.zeros((5, 64, 64), np.uint16), name="movie tracked")
    viewer.dims.set_point(0, 4)  # the user looked at the movie's last frame
    widget.files.contains.setText("nuclei_BF")
    widget.files.add_paths([data_folder])
    widget.controller.segmenter_factory = factory()
    assert [p.name for p in widget.files.files()] == ["nuclei_BF.tif"]
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running and widget.streamer.settled, timeout=60000)
    labels = _stream_labels(viewer)
    assert labels.data.shape[0] == 1 and labels.data.max() > 0
    assert _drawn(viewer, labels), (viewer.dims.point, labels.extent.world)
    # the user goes back to the movie's last frame, then reopens the result from the table
    viewer.dims.set_point(0, 4)
    assert not _drawn(viewer, labels)
    assert widget.show_result(widget.status.keys()[0])
    qtbot.waitUntil(lambda: widget.streamer.settled, timeout=20000)
    labels = _stream_labels(viewer)
    assert _drawn(viewer, labels), (viewer.dims.point, labels.extent.world)
    assert movie in viewer.layers  # (the user's layer is left alone)
