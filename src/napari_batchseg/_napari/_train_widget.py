"""The "Train" dock: fine-tune or train a Cellpose model from layers, files or finished results.

**Cancel** stops after the current epoch, napari closing within one torch operation: nothing is written.
"""

from __future__ import annotations

import threading
from typing import Any

from qtpy.QtWidgets import QComboBox, QLineEdit, QWidget

from ..errors import CancelledError
from ..training.run import TrainingProgress, TrainingResult
from ..view import training_form
from ..view.dock_jobs import train_job
from ._dock import Dock, button
from ._form import load_recent_models_later, trained_models_signal
from ._measure_widget import PlotCanvas
from ._pages import MIN_WIDTH
from ._qtutil import form_box, hbox, radio_pair, refill

__all__ = ["LossPlot", "TrainWidget", "trained_models_signal"]


class LossPlot(PlotCanvas):
    """Live train / validation loss per epoch (the points and how they are drawn: ``LossCurves``)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        self.curves = curves = training_form.LossCurves()
        self.epochs, self.train, self.validation = curves.epochs, curves.train, curves.validation  # (its own)
        super().__init__((3.2, 2.0), parent)
        self.setMinimumHeight(180)

    def clear(self) -> None:
        """Forget all points."""
        self.curves.clear()
        self.redraw()

    def add(self, epoch: int, train: float, validation: float) -> None:
        """Add one epoch's losses and redraw."""
        self.curves.add(epoch, train, validation)
        self.redraw()

    def plot(self) -> None:
        """Both curves over whole epochs, and their legend in the theme's colours."""
        self.curves.draw(self.axes, self.background, self.foreground)


class TrainWidget(Dock):
    """Dock widget: train or fine-tune a Cellpose model."""

    def __init__(self, napari_viewer: Any, parent: QWidget | None = None) -> None:
        super().__init__(napari_viewer, parent, fields=training_form.TRAIN_FIELDS)
        self.cancel_event = threading.Event()
        self.result: TrainingResult | None = None
        self.error: str | None = None
        self.cancelled = False  # the last training was cancelled (by Cancel; not an error)
        self.from_layers, self.from_files = radio_pair(self, "Layers", "Files / results")
        self.image_layer, self.labels_layer = QComboBox(), QComboBox()
        self.paths = QLineEdit()
        self.paths.setPlaceholderText("_vSM results, <name>_masks.tif files or folders (separate with ;)")
        self.base_model = QComboBox()
        self.base_model.setEditable(True)
        self.base_model.addItems(training_form.base_models())  # trained models: added as announced
        self.base_model.setCurrentText("cyto3")
        self.base_model.setToolTip("built-in Cellpose model, a model file (type its path), or 'scratch'")
        trained_models_signal().added.connect(self._add_base_model)
        load_recent_models_later()
        self.start_button = button("Train", self.start)
        self.cancel_button = button("Cancel", self.cancel)
        self.cancel_button.setEnabled(False)
        self.plot = LossPlot()
        self.add(form_box(("Data", hbox(self.from_layers, self.from_files)),
                          ("Image layer", self.image_layer), ("Labels layer", self.labels_layer),
                          ("Files", self.paths), *self.fields.rows("frames"), ("Start from", self.base_model),
                          ("New model", hbox(self.output, self.overwrite)),
                          *self.fields.rows(*training_form.PARAM_KEYS)),
                 hbox(self.start_button, self.cancel_button), self.status, self.plot)
        self.setMinimumWidth(MIN_WIDTH)  # as wide as the Batch segmentation dock: its controls whole
        self.from_layers.toggled.connect(self._update_source)
        self.epochs.valueChanged.connect(lambda n: self.status.setText(  # (few: Cellpose's warm-up)
            training_form.epochs_note(n, self.status.text(), self.running)))
        self.follow_layers(self._refresh_layers)
        self._update_source()

    def _add_base_model(self, path: str) -> None:
        # a trained model, once, newest just before 'scratch'
        if self.base_model.findText(path) < 0:
            self.base_model.insertItem(self.base_model.count() - 1, path)

    def _refresh_layers(self, *_: Any) -> None:
        for combo, kind in ((self.image_layer, "Image"), (self.labels_layer, "Labels")):
            refill(combo, self.layers_of(kind))

    def _update_source(self, *_: Any) -> None:
        for widget, of_layers in ((self.image_layer, True), (self.labels_layer, True), (self.paths, False)):
            widget.setEnabled(self.from_layers.isChecked() == of_layers)

    @property
    def running(self) -> bool:
        """Whether a training is in progress."""
        return bool(self.slot.kind)

    def start(self) -> None:
        """Check the form and start training in a worker thread."""
        if self.slot.kind:
            return
        self.error, self.result = None, None
        try:
            params = training_form.training_params(self.fields.values(), self.base_model.currentText())
            output = training_form.model_output(self.output.text())
            source, arrays, paths = training_form.training_inputs(
                self.from_layers.isChecked(), self.layer_named(self.image_layer.currentText()),
                self.layer_named(self.labels_layer.currentText()), self.paths.text(), params.frames)
        except ValueError as exc:
            self._on_error(exc)
            return
        self.cancel_event = threading.Event()
        self.plot.clear()
        self.cancelled = False
        self.run_job(train_job, source, arrays, paths, output, params, self.overwrite.isChecked(),
                     self.cancel_event, say="starting…", kind="train", on_item=self._on_item,
                     on_error=self._on_error, yield_cpu=True, pass_job=True)

    def cancel(self) -> None:
        """Ask the training to stop after the current epoch (nothing is saved); Cancel is off until then."""
        if self.running:
            self.cancel_event.set()
            self.status.setText(training_form.CANCELLING)
            self.update_buttons()

    def _on_item(self, item: TrainingProgress | TrainingResult) -> None:
        if isinstance(item, TrainingResult):
            self.result = item
            self.status.setText(training_form.saved_text(item))
            self._add_base_model(str(item.model_path))
            return
        if (point := training_form.loss_point(item)) is not None:
            self.plot.add(*point)
        self.status.setText(training_form.progress_text(item.message, self.cancel_event.is_set()))

    def _on_error(self, exc: BaseException) -> None:
        if isinstance(exc, CancelledError):  # the user's choice, not an error
            self.cancelled = True
            self.status.setText(str(exc))
            return
        self.error = self.phrase(exc)
        self.status.setText(f"error: {self.error}")

    def update_buttons(self) -> None:
        """Train while no training runs, Cancel while one does."""
        state = training_form.train_buttons(self.running, self.cancel_event.is_set())
        self.start_button.setEnabled(state.train)
        self.cancel_button.setEnabled(state.cancel)
        self.cancel_button.setText(state.cancel_text)
