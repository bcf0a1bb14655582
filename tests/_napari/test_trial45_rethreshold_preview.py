"""The Re-threshold preview layer goes with what it stands on: the run's layer, and the dock.

GUI trial 45: a preview left in pixel units after its run's layer had moved on made napari warn
"Inconsistent units" and draw the next result (in µm) tiny beside it.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_batchseg.view.layer_files import mask_layer_data
from napari_batchseg.view.layer_ops import retarget
from napari_batchseg.view.rethreshold import LAYER_NAME
from napari_batchseg.view.rethreshold_layer import SOURCE_GONE

from .test_rethreshold_widget import _dock, kept_logs  # noqa: F401  (a fixture)


def _previewed(make_napari_viewer, qtbot, logs):
    viewer, w = _dock(make_napari_viewer)
    (data, kwargs, _kind), = mask_layer_data(logs[0].with_name("a_vSM.ome.tif"))  # as File > Open shows it
    layer = viewer.add_labels(data, **kwargs)
    viewer.layers.selection.active = layer
    w.add_selected_layer()
    qtbot.waitUntil(lambda: LAYER_NAME in viewer.layers, timeout=120000)
    qtbot.waitUntil(lambda: w._running is None and w._ahead is None, timeout=120000)
    assert [str(u) for u in viewer.layers[LAYER_NAME].units] == ["pixel", "pixel"]
    return viewer, w, layer


@pytest.mark.cp3
def test_preview_goes_with_the_layer_of_its_run(make_napari_viewer, qtbot, kept_logs) -> None:  # noqa: F811
    viewer, w, layer = _previewed(make_napari_viewer, qtbot, kept_logs)
    viewer.layers.remove(layer)
    assert LAYER_NAME not in viewer.layers and w.preview_status.text() == SOURCE_GONE


@pytest.mark.cp3
def test_preview_goes_when_its_layer_shows_a_result_in_um(make_napari_viewer, qtbot, kept_logs) -> None:  # noqa: F811
    viewer, w, layer = _previewed(make_napari_viewer, qtbot, kept_logs)
    # the run's layer reused for the next output, a calibrated one (as the Batch segmentation dock does)
    retarget(layer, np.zeros((300, 300), np.uint16), (0.325, 0.325), "next",
             {"mask_path": "/n/next_vSM.ome.tif"}, ("µm", "µm"))
    assert LAYER_NAME not in viewer.layers
    assert {tuple(str(u) for u in lay.units) for lay in viewer.layers} == {("micrometer", "micrometer")}


@pytest.mark.cp3
def test_preview_goes_with_the_dock(make_napari_viewer, qtbot, kept_logs) -> None:  # noqa: F811
    viewer, w, layer = _previewed(make_napari_viewer, qtbot, kept_logs)
    viewer.window.remove_dock_widget(w)
    qtbot.waitUntil(lambda: LAYER_NAME not in viewer.layers, timeout=5000)
    assert layer in viewer.layers  # (the user's layer stays)
