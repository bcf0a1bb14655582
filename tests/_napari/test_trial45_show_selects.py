"""Showing a result from the Results table selects its Labels layer (the Correct tab works on it).

GUI trial 45: *Show selected result* put the output in the stream layers but left napari's selection on
whatever layer was selected before: the Correct tab then said "select a Labels layer".
"""

from __future__ import annotations

import shutil

import numpy as np

from napari_batchseg.view.layer_files import layer_meta

from ._fakes import factory


def test_shown_result_is_the_active_layer(widget, data_folder, qtbot):
    viewer = widget.viewer
    shutil.copy(data_folder / "nuclei_BF.tif", data_folder / "second_BF.tif")
    widget.files.contains.setText("_BF.tif")
    widget.files.add_paths([data_folder])
    widget.controller.segmenter_factory = factory()
    assert len(widget.files.files()) == 2
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running and widget.streamer.settled, timeout=60000)
    mine = viewer.add_image(np.zeros((8, 8), np.float32), name="user image")
    viewer.layers.selection.active = mine  # the user looked at another layer meanwhile
    for key in widget.status.keys():
        assert widget.show_result(key)
        qtbot.waitUntil(lambda: widget.streamer.settled, timeout=20000)
        active = viewer.layers.selection.active
        meta = layer_meta(active)
        assert meta.get("role") == "mask" and meta.get("task_key") == key, active
        assert widget.correction.layer() is active
        assert "select a Labels layer" not in widget.correction.target.text()
        viewer.layers.selection.active = mine
    # the user closed the result's layers: showing it again adds them (the labels layer in a later turn)
    for layer in [lay for lay in viewer.layers if layer_meta(lay).get("stream")]:
        viewer.layers.remove(layer)
    viewer.layers.selection.active = mine
    key = widget.status.keys()[0]
    assert widget.show_result(key)
    qtbot.waitUntil(lambda: widget.streamer.settled and layer_meta(viewer.layers.selection.active).get(
        "task_key") == key, timeout=20000)
    assert widget.correction.layer() is viewer.layers.selection.active
