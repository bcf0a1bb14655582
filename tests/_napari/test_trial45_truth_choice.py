"""The Evaluate section's ground truth is the user's choice: never a layer the dock picked on its own.

GUI trial 45: with a result and one other Labels layer open (the tracked copy of the result, a second run's
output), the Ground truth box already named that other layer and *Evaluate* scored the result against it:
numbers that look like an evaluation and mean nothing.
"""

from __future__ import annotations

import numpy as np

from napari_batchseg.evaluate import evaluate_frame
from napari_batchseg.view.measure_form import NO_TRUTH

from .test_measure_widget import _widget, scored_pair


def _message(w) -> str:
    frame = w.eval_model.frame
    return "" if frame is None or "message" not in frame else str(frame.loc[0, "message"])


def test_ground_truth_waits_for_the_users_choice(make_napari_viewer, qtbot):
    viewer, w = _widget(make_napari_viewer)
    gt, pred = scored_pair(viewer, "result tracked", "result")  # "result tracked": the only other one
    w.labels_combo.setCurrentText("result")
    assert w.gt_combo.currentText() == NO_TRUTH  # nothing chosen for the user
    assert not w.evaluate()  # Evaluate asks for the choice; it scores nothing
    assert "ground truth" in _message(w) and not w.busy
    # chosen by the user: kept as layers come and go, and scored
    w.gt_combo.setCurrentText("result tracked")
    w.gt_combo.activated.emit(w.gt_combo.currentIndex())
    assert w.busy
    qtbot.waitUntil(lambda: not w.busy, timeout=30000)
    assert w.eval_model.frame.loc[0, "ap_50"] == evaluate_frame(pred, gt)["ap_50"]
    viewer.add_labels(np.zeros_like(gt), name="another")
    assert w.gt_combo.currentText() == "result tracked"
    # the user measures the chosen ground truth itself: it is not scored against itself, nor against the
    # next layer in the list; the choice is asked for again
    w.labels_combo.setCurrentText("result tracked")
    assert w.gt_combo.currentText() == NO_TRUTH
    # the chosen layer removed: not replaced by another on its own
    w.labels_combo.setCurrentText("result")
    w.gt_combo.setCurrentText("another")
    viewer.layers.remove("another")
    assert w.gt_combo.currentText() == NO_TRUTH
