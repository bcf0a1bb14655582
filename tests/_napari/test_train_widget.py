"""The Train dock widget: layers in, a real (tiny) Cellpose fine-tune in a worker thread, a live loss curve,
cancel without a written model, and the new model announced to the segmentation form."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.segmenters.catalog import cellpose_major
from napari_batchseg.training import recent_models

ROOT = Path(__file__).resolve().parents[2]
STARTER = ROOT / "examples" / "models" / "batchseg_nuclei_cp3"
pytestmark = pytest.mark.skipif(cellpose_major() != 3, reason="training uses Cellpose 3's train_seg")

@pytest.fixture(autouse=True)
def _private_registry(tmp_path, monkeypatch):
    monkeypatch.setenv("BATCHSEG_CONFIG_DIR", str(tmp_path / "config"))


def add_nuclei_tiles(viewer):
    """Four 96 x 96 tiles of the DSB2018 nuclei image ("nuclei") and of its annotation ("corrected")."""
    img = tifffile.imread(ROOT / "examples" / "data" / "dsb2018_nuclei.tif")
    gt = tifffile.imread(ROOT / "examples" / "groundtruth" / "dsb2018_nuclei_masks.tif")
    tiles = [(0, 0), (0, 96), (96, 0), (96, 96)]
    viewer.add_image(np.stack([img[y:y + 96, x:x + 96] for y, x in tiles]), name="nuclei")
    viewer.add_labels(np.stack([gt[y:y + 96, x:x + 96] for y, x in tiles]), name="corrected")


@pytest.fixture
def train_widget(make_napari_viewer, qtbot):
    from napari_batchseg._napari._train_widget import TrainWidget

    viewer = make_napari_viewer()
    add_nuclei_tiles(viewer)
    w = TrainWidget(viewer)
    viewer.window.add_dock_widget(w, name="Train")
    w.base_model.setCurrentText(str(STARTER))
    w.crop_size.setValue(64)
    w.batch_size.setValue(3)
    w.validation_fraction.setValue(0.25)
    w.min_masks.setValue(1)
    yield w
    if w.running:
        w.cancel()
        qtbot.waitUntil(lambda: not w.running, timeout=300_000)


@pytest.mark.slow  # real training, even if tiny
def test_train_from_layers_curve_and_model_list(train_widget, qtbot, tmp_path):
    from napari_batchseg._napari._train_widget import trained_models_signal

    w = train_widget
    assert w.image_layer.currentText() == "nuclei" and w.labels_layer.currentText() == "corrected"
    out = tmp_path / "models" / "fine_tuned"
    w.output.setText(str(out))
    w.epochs.setValue(2)
    announced: list[str] = []
    trained_models_signal().added.connect(announced.append)
    w.start()
    assert w.running and not w.start_button.isEnabled() and w.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not w.running, timeout=600_000)
    assert w.error is None, w.error
    assert w.result is not None and out.is_file() and out.with_name(out.name + ".json").is_file()
    assert w.plot.epochs == [1, 2]  # one point per epoch, train and validation
    assert w.plot.train == pytest.approx(w.result.train_losses)
    assert w.plot.validation == pytest.approx(w.result.validation_losses)
    assert "validation AP@0.5" in w.status.text()
    # the registry's signal is emitted in the training's thread and reaches this one queued, on its own
    # way (not with the job's result that ends ``running``): wait for it
    qtbot.waitUntil(lambda: bool(announced), timeout=10_000)
    assert announced == [str(out)] and recent_models() == [str(out)]
    assert w.base_model.findText(str(out)) >= 0


@pytest.mark.slow
def test_cancel_leaves_no_model(train_widget, qtbot, tmp_path):
    w = train_widget
    out = tmp_path / "never"
    w.output.setText(str(out))
    w.epochs.setValue(200)
    w.start()
    qtbot.waitUntil(lambda: len(w.plot.epochs) >= 1, timeout=600_000)
    w.cancel()
    qtbot.waitUntil(lambda: not w.running, timeout=600_000)
    # a cancel is the user's choice, not an error: "training cancelled after epoch ...", no "error:"
    assert w.error is None and w.cancelled
    assert w.status.text().startswith("training cancelled"), w.status.text()
    assert len(w.plot.epochs) < 200
    assert not out.exists() and not out.with_name(out.name + ".json").exists()
    assert not list(tmp_path.glob(".never.partial-*")) and recent_models() == []


def test_bad_form_values_are_reported_without_starting(train_widget):
    w = train_widget
    w.output.setText("")
    w.start()
    assert not w.running and "path of the new model" in w.error
    w.output.setText("/tmp/x")
    w.frames.setText("first")
    w.start()
    assert not w.running and "is not a frame number" in w.error


def test_trained_models_join_the_segmentation_model_list(qtbot, tmp_path):
    """Models remembered earlier (read in a thread) and models trained now are offered by the form."""
    from napari_batchseg._napari._form import USER_MODEL, ParamsForm
    from napari_batchseg.training.registry import remember_model

    earlier = tmp_path / "earlier_model"
    earlier.write_bytes(b"weights")
    remember_model(earlier)
    form = ParamsForm()
    qtbot.addWidget(form)
    items = lambda: [form.model.itemText(i) for i in range(form.model.count())]  # noqa: E731
    qtbot.waitUntil(lambda: str(earlier.absolute()) in items(), timeout=5000)
    assert items()[-1] == USER_MODEL  # trained models sit before the user-model entry
    now = tmp_path / "trained_now"
    now.write_bytes(b"weights")
    remember_model(now)  # what train_model does when it saves
    qtbot.waitUntil(lambda: str(now.absolute()) in items(), timeout=5000)
    form.model.setCurrentText(str(now.absolute()))
    assert form.values()["model"] == str(now.absolute())
    assert items().count(str(now.absolute())) == 1
