"""A single image's input frame is on the canvas while its mask is computed, not only with it.

GUI trial 45: the canvas stayed black for seconds while a single image's first (only) frame was
segmented: the input arrived with its result, in one event.
"""

from __future__ import annotations

import numpy as np

from napari_batchseg.view.layer_files import layer_meta

from ._fakes import held_factory


def _stream(viewer, role: str):
    return next((lay for lay in viewer.layers
                 if layer_meta(lay).get("stream") and layer_meta(lay).get("role") == role), None)


def test_input_shows_before_the_segmenter_returns(widget, data_folder, qtbot):
    viewer = widget.viewer
    widget.files.contains.setText("nuclei_BF")
    widget.files.add_paths([data_folder])
    made: list = []
    widget.controller.segmenter_factory = held_factory(0.0, 0, made)  # frame 0 waits until released
    assert widget.run()
    try:
        qtbot.waitUntil(lambda: bool(made) and any(s.status == "running" for s in widget.session.tasks),
                        timeout=60000)

        def input_drawn() -> bool:
            image = _stream(viewer, "prepared")
            return image is not None and image.visible and float(np.asarray(image.data).max()) > 0

        qtbot.waitUntil(input_drawn, timeout=20000)
        assert made[0].calls == 0  # the segmenter has not returned a mask yet
        labels = _stream(viewer, "mask")
        assert labels is None or not np.asarray(labels.data).any()
        image = _stream(viewer, "prepared")
        lo, hi = image.contrast_limits
        assert hi > lo > -1 and hi <= float(np.asarray(image.data).max()) + 1  # its contrast is the input's
    finally:
        for seg in made:
            seg.release.set()
    qtbot.waitUntil(lambda: not widget.running and widget.streamer.settled, timeout=60000)
    labels = _stream(viewer, "mask")
    assert labels is not None and np.asarray(labels.data).max() > 0
