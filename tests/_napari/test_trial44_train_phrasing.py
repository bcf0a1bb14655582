"""The Train dock names its own field when every frame has too few objects, not the API's ``min_masks``.

GUI trial 44: a movie with one object per frame, trained with the default *Min. objects/frame* 5, failed
with "all 5 frame(s) were skipped (min_masks=5): … fewer than min_masks=5; …", a name the dock does not show.
"""

from __future__ import annotations

import numpy as np


def test_too_few_objects_names_the_min_objects_field(make_napari_viewer, qtbot, tmp_path, monkeypatch):
    from napari_batchseg._napari._train_widget import TrainWidget

    monkeypatch.setenv("BATCHSEG_CONFIG_DIR", str(tmp_path / "config"))
    viewer = make_napari_viewer()
    rng = np.random.default_rng(0)
    viewer.add_image(rng.random((3, 64, 64)).astype(np.float32), name="movie (input)")
    labels = np.zeros((3, 64, 64), np.uint16)
    labels[:, 10:20, 10:20] = 1  # one object per frame
    viewer.add_labels(labels, name="movie")
    dock = TrainWidget(viewer)
    qtbot.addWidget(dock)
    assert dock.min_masks.value() == 5 and dock.fields.specs["min_masks"].label == "Min. objects/frame"
    dock.image_layer.setCurrentText("movie (input)")
    dock.labels_layer.setCurrentText("movie")
    dock.base_model.setCurrentText("scratch")
    dock.output.setText(str(tmp_path / "model"))
    dock.start()
    qtbot.waitUntil(lambda: not dock.running, timeout=120000)
    assert dock.error is not None and "no training frames" in dock.error, dock.status.text()
    assert "min_masks" not in dock.error, dock.error
    assert "'Min. objects/frame' = 5" in dock.error, dock.error
    assert not (tmp_path / "model").exists()
