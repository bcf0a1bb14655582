"""The Measure and export dock after a second run reuses the layer it measured.

A user walk (explore/napari_second_run.py, real model): segment nuclei_BF.tif, correct and save, Measure
(103 objects); run again with suffix "again" (other settings, or the retrained model): the Batch
segmentation dock points the same layer, same name, at nuclei_BF_vSM-again.ome.tif (115 objects). The
Measure dock then still says "103 object(s) in nuclei_BF.tif." and its Export mask is still
nuclei_BF_vSM.ome.tif: Export writes the first run's mask, not the one on screen.
"""

from __future__ import annotations

import numpy as np
import tifffile

from _downstream import DSB_GT


def _widget(make_napari_viewer):
    from napari_batchseg._napari._measure_widget import MeasureExportWidget

    viewer = make_napari_viewer()
    w = MeasureExportWidget(viewer)
    viewer.window.add_dock_widget(w, name="Measure and export")
    return viewer, w


def _measured_then_run_again(make_napari_viewer, qtbot, tmp_path):
    """nuclei_BF.tif's stream layer measured, then pointed (as the streamer does) at a second run's output."""
    from napari_batchseg.view.layer_ops import retarget

    viewer, w = _widget(make_napari_viewer)
    gt = tifffile.imread(DSB_GT)
    first, again = tmp_path / "nuclei_BF_vSM.ome.tif", tmp_path / "nuclei_BF_vSM-again.ome.tif"
    layer = viewer.add_labels(gt.copy(), name="nuclei_BF.tif", metadata={"batchseg": {
        "role": "mask", "task_key": "nuclei_BF", "mask_path": str(first)}})
    assert w.mask_path.text() == str(first)  # filled in from the layer
    assert w.measure()
    qtbot.waitUntil(lambda: not w.busy, timeout=30000)
    said = w.status.text()
    assert said.startswith(f"{len(np.unique(gt)) - 1} object(s) in nuclei_BF.tif")
    second = np.zeros_like(gt)
    second[10:20, 10:20] = 1  # another output: one object
    retarget(layer, second, (1.0, 1.0), "nuclei_BF.tif",
             {"role": "mask", "task_key": "nuclei_BF", "mask_path": str(again)})
    qtbot.wait(600)  # (the dock's debounce is 400 ms)
    return w, said, again


def test_export_mask_follows_the_layers_new_output(make_napari_viewer, qtbot, tmp_path):
    w, _said, again = _measured_then_run_again(make_napari_viewer, qtbot, tmp_path)
    assert w.mask_path.text() == str(again)


def test_status_does_not_give_the_old_count_for_the_layer_as_it_is_now(make_napari_viewer, qtbot, tmp_path):
    w, said, _again = _measured_then_run_again(make_napari_viewer, qtbot, tmp_path)
    n = said.split()[0]
    assert w.status.text() == (f"{n} object(s) in nuclei_BF_vSM.ome.tif (its layer shows "
                               "nuclei_BF_vSM-again.ome.tif now).")
