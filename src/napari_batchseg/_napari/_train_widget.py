"""The "Train" dock widget: fine-tune or train a Cellpose model from layers or finished results.

Training data come from an image layer and a Labels layer of the viewer (``(Y, X)`` or ``(T, Y, X)``),
or from files and folders (``_vSM.ome.tif`` results, prepared as their logs say, and
``<name>.tif`` + ``<name>_masks.tif`` pairs). :func:`~napari_batchseg.training.train_model` runs in a
worker thread (:mod:`._jobs`: the thread never touches Qt; its progress is polled on the GUI thread);
each finished epoch updates a live loss curve (train and validation); **Cancel** stops after the current
epoch and nothing is written ("training cancelled"). When napari closes (or the dock is removed)
meanwhile, the training stops within one torch operation and nothing is written either. A saved model
is added to the list of recent models (:func:`~napari_batchseg.training.registry.recent_models`) and
announced by :func:`trained_models_signal`, which the segmentation form listens to.
"""

from __future__ import annotations

import threading
from typing import Any

from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from ..errors import CancelledError
from ..training.run import SCRATCH, TrainingParams, TrainingProgress, TrainingResult
from ..view.dock_jobs import SOURCE_FILES, SOURCE_LAYERS, train_job
from ._jobs import Background, Job, close_with
from ._layerops import PLACEHOLDER, layer_meta
from ._pages import scrolled_body
from ._qtutil import follow, fspin, hbox, ispin, layer_list_events, radio_pair, refill, vbox
from ._trained import load_recent_models_later, trained_models_signal


def _builtin_models() -> list[str]:
    from ..segmenters.catalog import offered_models

    return list(offered_models("cellpose"))


class LossPlot(QWidget):
    """Live train / validation loss per epoch (matplotlib in Qt)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(3.2, 2.0), tight_layout=True)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.axes = self.figure.add_subplot(111)
        self.epochs: list[int] = []
        self.train: list[float] = []
        self.validation: list[float] = []
        (self.train_line,) = self.axes.plot([], [], "o-", ms=3, label="train")
        (self.validation_line,) = self.axes.plot([], [], "s-", ms=3, label="validation")
        self.axes.set_xlabel("epoch")
        self.axes.set_ylabel("loss")
        self.axes.legend(loc="upper right", fontsize="small")
        vbox(self.canvas, into=self)
        self.setMinimumHeight(180)

    def clear(self) -> None:
        """Forget all points."""
        self.epochs, self.train, self.validation = [], [], []
        self._redraw()

    def add(self, epoch: int, train: float, validation: float) -> None:
        """Add one epoch's losses and redraw."""
        self.epochs.append(epoch)
        self.train.append(train)
        self.validation.append(validation)
        self._redraw()

    def _redraw(self) -> None:
        self.train_line.set_data(self.epochs, self.train)
        self.validation_line.set_data(self.epochs, self.validation)
        self.axes.relim()
        self.axes.autoscale_view()
        self.canvas.draw_idle()


class TrainWidget(QWidget):
    """Dock widget: train or fine-tune a Cellpose model (see the module docstring)."""

    def __init__(self, napari_viewer: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = napari_viewer
        self.cancel_event = threading.Event()
        self.background = Background(self)
        self._job: Job | None = None
        self.result: TrainingResult | None = None
        self.error: str | None = None
        #: the last training was cancelled (by Cancel; not an error)
        self.cancelled = False
        # data source
        self.from_layers, self.from_files = radio_pair(self, "Layers", "Files / results")
        self.image_layer = QComboBox()
        self.labels_layer = QComboBox()
        self.paths = QLineEdit()
        self.paths.setPlaceholderText("_vSM results, <name>_masks.tif files or folders (separate with ;)")

        # model and parameters
        self.base_model = QComboBox()
        self.base_model.setEditable(True)
        self.base_model.addItems(_builtin_models() + [SCRATCH])  # trained models: added as announced
        self.base_model.setCurrentText("cyto3")
        self.base_model.setToolTip("built-in Cellpose model, a model file (type its path), or 'scratch'")
        trained_models_signal().added.connect(self._add_base_model)
        load_recent_models_later()
        self.output = QLineEdit()
        self.output.setPlaceholderText("path of the new model file")
        self.overwrite = QCheckBox("overwrite")
        self.epochs = ispin(1, 100000, 100)
        self.learning_rate = fspin(1e-6, 1.0, 0.005, step=0.001, decimals=6)
        self.weight_decay = fspin(0.0, 1.0, 1e-5, decimals=6)
        self.optimizer = QComboBox()
        self.optimizer.addItems(["adamw", "sgd"])
        self.optimizer.setToolTip("AdamW (train_seg's default) or SGD with momentum 0.9 "
                                  "(Cellpose's GUI: SGD, learning rate 0.1, weight decay 1e-4)")
        self.batch_size = ispin(1, 512, 8)
        self.crop_size = ispin(16, 4096, 224)
        self.images_per_epoch = ispin(0, 100000, special="all frames")
        self.validation_fraction = fspin(0.01, 0.99, 0.2, step=0.05)
        self.seed = ispin(0, 2**31 - 1)
        self.min_masks = ispin(1, 100000, 5)
        self.frames = QLineEdit("all")
        self.frames.setToolTip("'all', 'corrected' (results: frames a correction record names) or 0,3-5")
        self.gpu = QCheckBox("use GPU when available")

        self.start_button = QPushButton("Train")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.plot = LossPlot()

        form = QFormLayout()
        form.addRow("Data", hbox(self.from_layers, self.from_files))
        form.addRow("Image layer", self.image_layer)
        form.addRow("Labels layer", self.labels_layer)
        form.addRow("Files", self.paths)
        form.addRow("Frames", self.frames)
        form.addRow("Start from", self.base_model)
        form.addRow("New model", hbox(self.output, self.overwrite))
        form.addRow("Epochs", self.epochs)
        form.addRow("Learning rate", self.learning_rate)
        form.addRow("Weight decay", self.weight_decay)
        form.addRow("Optimizer", self.optimizer)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Crop size", self.crop_size)
        form.addRow("Images per epoch", self.images_per_epoch)
        form.addRow("Validation fraction", self.validation_fraction)
        form.addRow("Seed", self.seed)
        form.addRow("Min. objects/frame", self.min_masks)
        form.addRow("", self.gpu)
        layout = scrolled_body(self)  # scrolls instead of squeezing docks stacked with it
        layout.addLayout(form)
        layout.addWidget(hbox(self.start_button, self.cancel_button))
        layout.addWidget(self.status)
        layout.addWidget(self.plot)
        layout.addStretch(1)

        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.from_layers.toggled.connect(self._update_source)
        # napari closing or the dock removed: stop the training, deliver nothing more, follow no event
        follow(self, layer_list_events(napari_viewer), self._refresh_layers)
        close_with(self, self.background.close)
        self._refresh_layers()
        self._update_source()

    # ------------------------------------------------------------------ layers
    def _add_base_model(self, path: str) -> None:
        """List a trained model as a base model (newest just before 'scratch'), once."""
        if self.base_model.findText(path) < 0:
            self.base_model.insertItem(self.base_model.count() - 1, path)

    def _refresh_layers(self, *_: Any) -> None:
        from napari.layers import Image, Labels

        for combo, kind in ((self.image_layer, Image), (self.labels_layer, Labels)):
            refill(combo, [layer.name for layer in self.viewer.layers  # placeholders hold no data
                           if isinstance(layer, kind) and layer_meta(layer).get("task_key") != PLACEHOLDER])

    def _update_source(self, *_: Any) -> None:
        layers = self.from_layers.isChecked()
        self.image_layer.setEnabled(layers)
        self.labels_layer.setEnabled(layers)
        self.paths.setEnabled(not layers)

    # ------------------------------------------------------------------ run
    @property
    def running(self) -> bool:
        """Whether a training is in progress."""
        return self._job is not None

    def training_params(self) -> TrainingParams:
        """The parameters the form shows (raises ``ParameterError`` for bad values)."""
        from ..training import parse_frames

        return TrainingParams(
            base_model=self.base_model.currentText().strip(),
            epochs=self.epochs.value(),
            learning_rate=self.learning_rate.value(),
            weight_decay=self.weight_decay.value(),
            optimizer=self.optimizer.currentText(),
            batch_size=self.batch_size.value(),
            crop_size=self.crop_size.value(),
            images_per_epoch=self.images_per_epoch.value() or None,
            validation_fraction=self.validation_fraction.value(),
            seed=self.seed.value(),
            min_masks=self.min_masks.value(),
            frames=parse_frames(self.frames.text() or "all"),
            gpu=self.gpu.isChecked(),
        )

    def start(self) -> None:
        """Check the form and start training in a worker thread."""
        if self._job is not None:
            return
        self.error = None
        self.result = None
        try:
            params = self.training_params()
        except ValueError as exc:
            self._fail(str(exc))
            return
        output = self.output.text().strip()
        if not output:
            self._fail("give the path of the new model file")
            return
        arrays = None
        paths: list[str] = []
        if self.from_layers.isChecked():
            names = [layer.name for layer in self.viewer.layers]
            img_name, lab_name = self.image_layer.currentText(), self.labels_layer.currentText()
            if img_name not in names or lab_name not in names:
                self._fail("choose an image layer and a Labels layer")
                return
            image = self.viewer.layers[img_name]
            if getattr(image, "rgb", False) or getattr(image, "multiscale", False):
                self._fail(f"image layer {img_name!r}: use a single-channel, single-scale image")
                return
            # the data objects only: reading them (dask, memory maps) happens in the worker
            arrays = (image.data, self.viewer.layers[lab_name].data, f"{img_name} + {lab_name}")
        else:
            paths = [p.strip() for p in self.paths.text().split(";") if p.strip()]
            if not paths:
                self._fail("give result files or folders")
                return
        self.cancel_event = threading.Event()
        self.plot.clear()
        self.status.setText("starting…")
        source = SOURCE_LAYERS if arrays is not None else SOURCE_FILES
        self.cancelled = False
        self._job = self.background.submit(
            train_job, source, arrays, paths, output, params, self.overwrite.isChecked(), self.cancel_event,
            on_item=self._on_item, on_error=self._on_error, on_done=self._on_finished,
            name="batchseg-train", yield_cpu=True, pass_job=True,
        )
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)

    def cancel(self) -> None:
        """Ask the training to stop after the current epoch (nothing is saved)."""
        self.cancel_event.set()
        self.status.setText("cancelling after this epoch…")

    # ------------------------------------------------------------------ results (GUI thread)
    def _on_item(self, item: TrainingProgress | TrainingResult) -> None:
        if isinstance(item, TrainingResult):
            self._on_done(item)
        else:
            self._on_progress(item)

    def _on_progress(self, event: TrainingProgress) -> None:
        if event.epoch is not None:
            self.plot.add(event.epoch, float(event.train_loss or 0.0), float(event.validation_loss or 0.0))
        self.status.setText(event.message)

    def _on_done(self, result: TrainingResult) -> None:
        self.result = result
        before = f"base {result.before.ap:.3f} → " if result.before else ""
        self.status.setText(
            f"saved {result.model_path.name}; validation AP@0.5: {before}new {result.after.ap:.3f}"
        )
        if self.base_model.findText(str(result.model_path)) < 0:
            self.base_model.insertItem(self.base_model.count() - 1, str(result.model_path))

    def _on_error(self, exc: BaseException) -> None:
        if isinstance(exc, CancelledError):  # the user's choice, not an error
            self.cancelled = True
            self.status.setText(str(exc))
            return
        self._fail(str(exc))

    def _fail(self, message: str) -> None:
        self.error = message
        self.status.setText(f"error: {message}")

    def _on_finished(self) -> None:
        self._job = None
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
