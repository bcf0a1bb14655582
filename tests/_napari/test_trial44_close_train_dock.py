"""Closing the Train dock (its ×) while it trains stops the training: no model is written.

GUI trial 44 checked this from a script; the docs promise it ("Closing napari (or a dock) while any of
them runs stops them (a training within one torch operation, nothing saved)").
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from napari_batchseg.segmenters.catalog import cellpose_major

from .test_train_widget import add_nuclei_tiles

ROOT = Path(__file__).resolve().parents[2]
STARTER = ROOT / "examples" / "models" / "batchseg_nuclei_cp3"


@pytest.mark.skipif(cellpose_major() != 3, reason="training uses Cellpose 3's train_seg")
def test_closing_the_train_dock_stops_its_training(make_napari_viewer, qtbot, tmp_path, monkeypatch):
    from napari_batchseg._napari._measure_widget import MeasureExportWidget
    from napari_batchseg._napari._train_widget import TrainWidget

    monkeypatch.setenv("BATCHSEG_CONFIG_DIR", str(tmp_path / "config"))
    viewer = make_napari_viewer()
    add_nuclei_tiles(viewer)
    viewer.window.add_dock_widget(MeasureExportWidget(viewer), name="Measure")  # (tabbed with it)
    w = TrainWidget(viewer)
    viewer.window.add_dock_widget(w, name="Train")
    gone: list[bool] = []
    w.destroyed.connect(lambda *_: gone.append(True))
    w.base_model.setCurrentText(str(STARTER))
    w.crop_size.setValue(64)
    w.batch_size.setValue(3)
    w.min_masks.setValue(1)
    w.epochs.setValue(200)
    w.output.setText(str(tmp_path / "model"))
    qtbot.wait(50)  # (the dock is found the turn after)
    w.start()
    qtbot.waitUntil(lambda: "epoch 1/" in w.status.text(), timeout=120000)
    viewer.window.remove_dock_widget(w)
    qtbot.waitUntil(lambda: bool(gone), timeout=5000)
    qtbot.waitUntil(lambda: not any(t.name == "batchseg-train" for t in threading.enumerate()), timeout=30000)
    assert not list(tmp_path.glob("model*"))
