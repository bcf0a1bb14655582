"""The "Measure and export" dock widget: object table of a Labels layer, exports, evaluation.

*Measure*: the table of the chosen Labels layer (intensities from the chosen Image layer) is computed in
a worker thread, stored as ``layer.features`` and shown; clicking a row centres the view on the object
and selects its label; a histogram shows one column; *Save CSV* writes the table (in a worker).
Corrections recompute the table (debounced). *Export* runs :func:`~napari_batchseg.export.export_masks`
on a mask file, *Evaluate* compares two Labels layers; both in worker threads. Every job runs as
:mod:`._jobs` runs them: closing napari (or the dock) meanwhile delivers nothing into the closed dock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QWidget,
)

from ..export import KINDS, ExportOptions, export_masks
from ..measure import measure_table
from ..view.dock_jobs import evaluate_job, measure_job, pixel_size_yx
from ._jobs import Background, Job, close_with, disconnect
from ._measure_views import DataFrameModel, Histogram
from ._pages import scrolled_body
from ._qtutil import PathField, folded_form, follow, fspin, layer_list_events, refill, single_shot
from ._stream import layer_meta

NONE = "(none)"
DEBOUNCE_MS = 400


class MeasureExportWidget(QWidget):
    """Dock widget: measure a Labels layer, export masks, evaluate against ground truth."""

    def __init__(self, napari_viewer: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = napari_viewer
        self.background = Background(self)
        self._watched: Any = None
        self._image_chosen = False  # the user picked the intensity image (possibly none) by hand
        self._timer = single_shot(self, DEBOUNCE_MS, self.measure)
        lay = scrolled_body(self)  # scrolls instead of squeezing docks stacked with it

        # --- Measure
        form = QFormLayout()
        self.labels_combo = QComboBox(self)
        self.image_combo = QComboBox(self)
        form.addRow("Labels", self.labels_combo)
        form.addRow("Intensity image", self.image_combo)
        lay.addLayout(form)
        self.measure_btn = QPushButton("Measure", self)
        self.measure_file_btn = QPushButton("Measure the mask file", self)
        self.measure_file_btn.setToolTip(
            "Measure the mask file chosen under Export, with the image and preparation from its log"
        )
        self.auto = QCheckBox("Recompute after corrections", self)
        self.auto.setChecked(True)
        self.save_btn = QPushButton("Save CSV…", self)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        for w in (self.measure_btn, self.measure_file_btn, self.auto, self.save_btn, self.status):
            lay.addWidget(w)
        self.model = DataFrameModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.setMinimumHeight(180)
        lay.addWidget(self.table)
        self.histogram = Histogram(self)
        lay.addWidget(self.histogram)

        # --- Export
        self.kind = QComboBox(self)
        self.kind.addItems(list(KINDS))
        self.mask_path = PathField(False, "Mask to export", "Masks (*.ome.tif *.tif)", "a _vSM.ome.tif mask")
        self.export_dir = PathField(True, "Export folder", placeholder="output folder")
        self.overwrite = QCheckBox("Replace existing exports", self)
        self.pattern = QLineEdit(self)
        self.pattern.setPlaceholderText(r"outlines: (?P<plate>P\d+)_(?P<well>[A-H]\d\d)_s(?P<site>\d+)")
        self.test_fraction = fspin(0.0, 0.9, step=0.05,
                                   tip="dacapo: fraction of frames (rows for one frame) kept as a test crop")
        self.export_btn = QPushButton("Export", self)
        self.export_status = QLabel("", self)
        self.export_status.setWordWrap(True)
        lay.addWidget(folded_form("Export", self, ("Kind", self.kind), ("Mask", self.mask_path),
                                  ("Folder", self.export_dir), ("Pattern", self.pattern),
                                  ("Test fraction", self.test_fraction), self.overwrite, self.export_btn,
                                  self.export_status))

        # --- Evaluate
        self.gt_combo = QComboBox(self)
        self.evaluate_btn = QPushButton("Evaluate", self)
        self.eval_model = DataFrameModel(self)
        self.eval_table = QTableView(self)
        self.eval_table.setModel(self.eval_model)
        lay.addWidget(folded_form("Evaluate", self, ("Ground truth", self.gt_combo), self.evaluate_btn,
                                  self.eval_table))
        lay.addStretch(1)

        self.measure_btn.clicked.connect(self.measure)
        self.measure_file_btn.clicked.connect(self.measure_file)
        self.save_btn.clicked.connect(self._save_dialog)
        self.export_btn.clicked.connect(self.export)
        self.evaluate_btn.clicked.connect(self.evaluate)
        self.gt_combo.activated.connect(lambda *_: self.evaluate())  # choosing a ground truth scores it
        self.table.clicked.connect(lambda index: self.go_to_row(index.row()))
        self.labels_combo.currentTextChanged.connect(self._labels_changed)
        self.image_combo.activated.connect(lambda *_: setattr(self, "_image_chosen", True))
        # napari closing or the dock removed: no job delivers into the dock, no viewer event reaches it
        follow(self, layer_list_events(self.viewer, "inserted", "removed", "reordered"), self._refresh_layers)
        follow(self, [self.viewer.layers.selection.events.active], self._follow_selection)
        close_with(self, self.background.close, self._unwatch)
        self._refresh_layers()
        self._follow_selection()

    # ------------------------------------------------------------------ layers
    def _layers(self, kind: str) -> list[Any]:
        return [lay for lay in self.viewer.layers if type(lay).__name__ == kind]

    def _refresh_layers(self, *_: object) -> None:
        labels = [lay.name for lay in self._layers("Labels")]
        refill(self.labels_combo, labels, block=True)
        refill(self.gt_combo, labels, block=True)
        images = [NONE, *(lay.name for lay in self._layers("Image"))]
        current = refill(self.image_combo, images, block=True)
        kept = current in images and (current != NONE or self._image_chosen)  # "(none)" only if picked
        if not kept and len(images) > 1:
            self.image_combo.blockSignals(True)
            self.image_combo.setCurrentIndex(1)
            self.image_combo.blockSignals(False)
        self._labels_changed(self.labels_combo.currentText())

    def _follow_selection(self, *_: object) -> None:
        active = self.viewer.layers.selection.active
        if active is not None and type(active).__name__ == "Labels":
            self.labels_combo.setCurrentText(active.name)

    def _layer(self, name: str) -> Any:
        return self.viewer.layers[name] if name and name != NONE and name in self.viewer.layers else None

    @property
    def labels_layer(self) -> Any:
        """The Labels layer measured."""
        return self._layer(self.labels_combo.currentText())

    def _unwatch(self) -> None:
        if self._watched is not None:
            disconnect([self._watched.events.data, self._watched.events.paint], self._schedule)
        self._watched = None

    def _labels_changed(self, name: str) -> None:
        layer = self._layer(name)
        if layer is self._watched:
            return
        self._unwatch()
        self._watched = layer
        if layer is not None:
            layer.events.data.connect(self._schedule)
            layer.events.paint.connect(self._schedule)
            mask = layer_meta(layer).get("mask_path")
            if mask and not self.mask_path.text():
                self.mask_path.setText(str(mask))

    def _schedule(self, *_: object) -> None:
        if self.auto.isChecked():
            self._timer.start()

    def _start(self, func: Any, *args: Any, on_done: Any, on_error: Any) -> Job:
        # errors are shown in the widget (on_error), not re-raised in the event loop
        return self.background.submit(func, *args, on_item=on_done, on_error=on_error,
                                      name=f"batchseg-{getattr(func, '__name__', 'job')}")

    @property
    def busy(self) -> bool:
        """Whether a job is running."""
        return self.background.busy

    # ----------------------------------------------------------------- measure
    def measure(self) -> bool:
        """Compute the table of the chosen Labels layer in a worker thread; False if nothing to do."""
        layer = self.labels_layer
        if layer is None:
            self.status.setText("Choose a Labels layer.")
            return False
        labels = np.array(layer.data)
        image_layer = self._layer(self.image_combo.currentText())
        image = None
        if image_layer is not None:
            if tuple(image_layer.data.shape) == labels.shape:
                image = image_layer.data
            else:
                self.status.setText(f"{image_layer.name}: shape differs from the labels; no intensities.")
        self.status.setText("Measuring…")
        self._start(measure_job, labels, image, pixel_size_yx(layer_meta(layer)), layer.name,
                    on_done=lambda df: self._show(layer, df),
                    on_error=lambda exc: self.status.setText(f"Measure failed: {exc}"))
        return True

    def measure_file(self) -> bool:
        """Measure the mask file of the Export section (worker thread) and show its table.

        The table is stored as ``features`` of the Labels layer opened from that file, if there is one.
        """
        mask = self.mask_path.text()
        if not mask:
            self.status.setText("Choose a mask file (Export section).")
            return False
        layer = next((lay for lay in self._layers("Labels")
                      if str(layer_meta(lay).get("mask_path", "")) == str(Path(mask).resolve())), None)
        self.status.setText(f"Measuring {Path(mask).name}…")
        self._start(measure_table, mask, on_done=lambda df: self._show(layer, df),
                    on_error=lambda exc: self.status.setText(f"Measure failed: {exc}"))
        return True

    def _show(self, layer: Any, df: pd.DataFrame) -> None:
        if layer is not None:
            layer.features = df.reset_index(drop=True)
        self.model.set_frame(df)
        self.histogram.set_frame(df)
        name = layer.name if layer is not None else (df["file"].iloc[0] if len(df) else "the file")
        self.status.setText(f"{len(df)} object(s) in {name}.")

    @property
    def frame(self) -> pd.DataFrame:
        """The table shown."""
        return self.model.frame

    @property
    def camera(self) -> Any:
        """The viewer's camera (``viewer.scene.camera`` from napari 0.9, ``viewer.camera`` before)."""
        scene = getattr(self.viewer, "scene", None)
        return scene.camera if scene is not None else self.viewer.camera

    def go_to_row(self, row: int) -> None:
        """Centre the view on the object of ``row`` and select its label."""
        layer = self.labels_layer
        df = self.model.frame
        if layer is None or not 0 <= row < len(df):
            return
        rec = df.iloc[row]
        scale = layer.scale
        y = float(rec["centroid_y_px"]) * scale[-2] + layer.translate[-2]
        x = float(rec["centroid_x_px"]) * scale[-1] + layer.translate[-1]
        if layer.ndim == 3:
            step = list(self.viewer.dims.current_step)
            step[-3] = int(rec["frame"])
            self.viewer.dims.current_step = tuple(step)
        self.camera.center = (y, x)
        layer.selected_label = int(rec["label"])

    def _save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save measurements", "objects.csv", "CSV (*.csv)")
        if path:
            self.save_csv(path)

    def save_csv(self, path: str | Path) -> Any:
        """Write the table to ``path`` (atomically, in a worker thread)."""
        from ..io.atomic import atomic_path

        df = self.model.frame.copy()

        def write() -> Path:
            with atomic_path(Path(path)) as tmp:
                df.to_csv(tmp, index=False)
            return Path(path)

        return self._start(write, on_done=lambda p: self.status.setText(f"Saved {p}."),
                           on_error=lambda exc: self.status.setText(f"Save failed: {exc}"))

    # ------------------------------------------------------------------ export
    def export(self) -> bool:
        """Export the mask file as the chosen kind (worker thread); False when a field is missing."""
        mask, folder = self.mask_path.text(), self.export_dir.text()
        if not mask or not folder:
            self.export_status.setText("Choose a mask file and an output folder.")
            return False
        kind = self.kind.currentText()
        options = ExportOptions(
            overwrite=self.overwrite.isChecked(), pattern=self.pattern.text().strip() or None,
            test_fraction=self.test_fraction.value(),
        )
        self.export_status.setText(f"Exporting {kind}…")
        self._start(export_masks, kind, [mask], folder, options,
                    on_done=lambda res: self.export_status.setText(
                        f"Wrote {sum(len(v) for v in res.outputs.values())} file(s) in {folder}."),
                    on_error=lambda exc: self.export_status.setText(f"Export failed: {exc}"))
        return True

    # ---------------------------------------------------------------- evaluate
    def evaluate(self) -> bool:
        """Compare the measured Labels layer with the ground-truth layer (worker thread)."""
        pred, gt = self.labels_layer, self._layer(self.gt_combo.currentText())
        if pred is None or gt is None or pred is gt:
            self.eval_model.set_frame(pd.DataFrame({"message": ["choose two different Labels layers"]}))
            return False
        if tuple(pred.data.shape) != tuple(gt.data.shape):
            self.eval_model.set_frame(pd.DataFrame({"message": ["the layers differ in shape"]}))
            return False
        self._start(evaluate_job, np.array(pred.data), np.array(gt.data),
                    on_done=self.eval_model.set_frame,
                    on_error=lambda exc: self.eval_model.set_frame(pd.DataFrame({"error": [str(exc)]})))
        return True
