"""The "Measure and export" dock (object table, exports, evaluation, all in jobs) and its table and plots."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from qtpy.QtCore import QAbstractTableModel, QModelIndex, Qt
from qtpy.QtWidgets import QCheckBox, QComboBox, QFileDialog, QTableView, QWidget

from ..export import export_masks
from ..measure import measure_table
from ..view import measure_form as mf
from ..view.dock_layers import LayerWatch, content_key, same_layer
from ..view.layer_files import first_input_frame, input_origin, is_kind, layer_meta
from ._dock import Dock, button, status_line
from ._jobs import Job, close_with
from ._qtutil import PathField, folded_form, follow, form_box, quiet, refill, single_shot, vbox

DEBOUNCE_MS = 400
_DISPLAY = Qt.ItemDataRole.DisplayRole


class DataFrameModel(QAbstractTableModel):
    """Read-only table model over a :class:`pandas.DataFrame` (``frame``)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.frame = pd.DataFrame()

    def set_frame(self, df: pd.DataFrame) -> None:
        """Show ``df``."""
        self.beginResetModel()
        self.frame = df.reset_index(drop=True)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008, N802 - Qt API
        """Number of rows."""
        return 0 if parent.isValid() else len(self.frame)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008, N802 - Qt API
        """Number of columns."""
        return 0 if parent.isValid() else len(self.frame.columns)

    def data(self, index: QModelIndex, role: int = _DISPLAY) -> Any:
        """Cell text."""
        ok = role == _DISPLAY and index.isValid()
        return mf.cell_text(self.frame.iat[index.row(), index.column()]) if ok else None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY) -> Any:  # noqa: N802
        """Column names and row numbers."""
        if role == _DISPLAY and orientation == Qt.Orientation.Horizontal:
            return str(self.frame.columns[section]) if section < len(self.frame.columns) else None
        return str(section) if role == _DISPLAY else None


class PlotCanvas(QWidget):
    """A matplotlib figure of one ``axes`` in napari's theme, below the widgets ``above``; drawn whole."""

    def __init__(self, size: tuple[float, float], parent: QWidget | None = None, *above: QWidget) -> None:
        super().__init__(parent)
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=size, tight_layout=True)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.axes = self.figure.add_subplot(111)
        vbox(*above, self.canvas, into=self)
        self.retheme()
        try:  # napari's theme switched later (Preferences > Appearance): the plot follows it
            from napari.settings import get_settings

            follow(self, [get_settings().appearance.events.theme], self.retheme)
        except Exception:  # noqa: BLE001 - no napari settings: the plot keeps its colours
            pass

    def retheme(self, *_: object) -> None:
        """Take napari's current theme colours and draw again."""
        self.background, self.foreground = theme_colors()
        self.figure.set_facecolor(self.background)
        self.redraw()

    def redraw(self, *_: object) -> None:
        """Clear the axes, colour them as napari's theme and draw the plot."""
        ax, fg = self.axes, self.foreground
        ax.clear()
        ax.set_facecolor(self.background)
        ax.tick_params(colors=fg, which="both")
        ax.xaxis.label.set_color(fg)
        ax.yaxis.label.set_color(fg)
        for spine in ax.spines.values():
            spine.set_color(fg)
        self.plot()
        self.canvas.draw_idle()

    def plot(self) -> None:
        """Draw the data on the cleared axes (nothing here)."""


def theme_colors() -> tuple[str, str]:
    """``(background, text)`` colours of napari's current theme (its dark one when unknown)."""
    try:
        from napari.settings import get_settings
        from napari.utils.theme import get_theme

        theme = get_theme(get_settings().appearance.theme)
        return theme.background.as_hex(), theme.text.as_hex()
    except Exception:  # noqa: BLE001 - e.g. the 'system' theme in an older napari: its default look
        return "#262930", "#f0f1f2"


class Histogram(PlotCanvas):
    """A histogram of one numeric column of a table, the column chosen in a combo box above it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        self.column = QComboBox()
        self._df = pd.DataFrame()
        super().__init__((3, 2), parent, self.column)
        self.canvas.setMinimumHeight(160)
        self.column.currentTextChanged.connect(self.redraw)

    def set_frame(self, df: pd.DataFrame) -> None:
        """Use ``df``; keep the chosen column when it still exists (default ``area_px``)."""
        self._df = df
        refill(self.column, mf.histogram_columns(df), block=True, default="area_px")
        self.redraw()

    @property
    def n_bars(self) -> int:
        """Number of bars drawn."""
        return len(self.axes.patches)

    def plot(self) -> None:
        """Draw the histogram of the chosen column."""
        col = self.column.currentText()
        if col and col in self._df.columns:
            values, bins = mf.histogram_values(self._df, col)
            if values.size:
                self.axes.hist(values, bins=bins, color="#4c9be8")
            self.axes.set(xlabel=col, ylabel="objects")


class MeasureExportWidget(Dock):
    """Dock widget: measure a Labels layer, export masks, evaluate against ground truth."""

    def __init__(self, napari_viewer: Any, parent: QWidget | None = None) -> None:
        super().__init__(napari_viewer, parent, fields=mf.EXPORT_FIELDS)
        self._watched = LayerWatch(data=self._schedule, paint=self._schedule)  # corrections recompute
        self._image_chosen = False  # the user picked the intensity image (possibly none) by hand
        self._measured: Any = None  # the layer (content_key) whose table was asked for: only it is recomputed
        self._auto_mask = ""  # the Export mask filled from the chosen layer (a typed one is kept)
        self._evaluated: Any = None  # the layer (content_key) whose scores are shown: they follow its edits
        self._table_layer: Any = None  # the layer the table's rows are objects of (a row click goes there)
        self._table_key: Any = None  # its content_key then (a run's stream layer moves on to the next output)
        self._timer = single_shot(self, DEBOUNCE_MS, self._recompute)
        self.labels_combo, self.image_combo = QComboBox(self), QComboBox(self)
        self.measure_btn = button("Measure", self.measure, self)
        self.measure_file_btn = button("Measure the mask file", self.measure_file, self,
                                       "Measure the mask file chosen under Export, with the image and "
                                       "preparation from its log")
        self.auto = QCheckBox("Recompute after corrections", self)
        self.auto.setChecked(True)
        self.save_btn = button("Save CSV…", self._save_dialog, self)
        self.model, self.table = DataFrameModel(self), QTableView(self)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.setMinimumHeight(180)
        self.histogram = Histogram(self)
        self.mask_path = PathField(False, "Mask to export", "Masks (*.ome.tif *.tif)", "a _vSM.ome.tif mask")
        self.export_dir = PathField(True, "Export folder", placeholder="output folder")
        self.export_btn = button("Export", self.export, self)
        self.export_status = status_line(self)
        self.gt_combo = QComboBox(self)
        self.evaluate_btn = button("Evaluate", self.evaluate, self)
        self.eval_model, self.eval_table = DataFrameModel(self), QTableView(self)
        self.eval_table.setModel(self.eval_model)
        self.add(form_box(("Labels", self.labels_combo), ("Intensity image", self.image_combo)),
                 self.measure_btn, self.measure_file_btn, self.auto, self.save_btn, self.status, self.table,
                 self.histogram,
                 folded_form("Export", self, self.fields.rows("kind")[0], ("Mask", self.mask_path),
                             ("Folder", self.export_dir),
                             *self.fields.rows("pattern", "pattern_on", "test_fraction"),
                             self.overwrite, self.export_btn, self.export_status),
                 folded_form("Evaluate", self, ("Ground truth", self.gt_combo), self.evaluate_btn,
                             self.eval_table))
        self.gt_combo.activated.connect(lambda *_: self.evaluate())  # choosing a ground truth scores it
        self.table.clicked.connect(lambda index: self.go_to_row(index.row()))
        self.labels_combo.currentTextChanged.connect(self._labels_changed)
        self.image_combo.activated.connect(lambda *_: setattr(self, "_image_chosen", True))
        close_with(self, self._timer.stop, self._watched.close)
        self.follow_layers(self._refresh_layers, "inserted", "removed", "reordered", "renamed")
        follow(self, [self.viewer.layers.selection.events.active], self._follow_selection)
        self._follow_selection()

    def _refresh_layers(self, *_: object) -> None:
        labels = self.layers_of("Labels")
        refill(self.labels_combo, labels, block=True)
        refill(self.gt_combo, [mf.NO_TRUTH, *labels], block=True)  # (the user's choice; none at first)
        images = [mf.NONE, *(lay.name for lay in self.layers_of("Image"))]
        index = mf.image_to_select(images, refill(self.image_combo, images, block=True), self._image_chosen)
        if index is not None:
            with quiet(self.image_combo):
                self.image_combo.setCurrentIndex(index)
        self._labels_changed(self.labels_combo.currentText())

    def _follow_selection(self, *_: object) -> None:
        active = self.viewer.layers.selection.active
        if active is not None and is_kind(active, "Labels"):
            self.labels_combo.setCurrentText(active.name)

    @property
    def labels_layer(self) -> Any:
        """The Labels layer measured."""
        return self.layer_named(self.labels_combo.currentText())

    def _labels_changed(self, name: str) -> None:
        if self.gt_combo.currentText() == name:  # not scored against itself, nor a layer chosen for the user
            self.gt_combo.setCurrentIndex(0)
        layer = self.layer_named(name)
        if layer is not self._watched.layer:
            self._watched.watch(layer)
            self._follow_output(layer)

    def _follow_output(self, layer: Any) -> None:
        # the Export section's mask follows the layer's output, unless the user typed or picked another
        mask = mf.followed_mask(str(layer_meta(layer).get("mask_path") or ""), self.mask_path.text(),
                                self._auto_mask)
        if mask is not None:
            self.mask_path.setText(mask)
            self._auto_mask = mask
        if same_layer(layer, self._table_layer) and content_key(layer) != self._table_key:
            self.status.setText(mf.measured_text(self.model.frame, None, mf.output_name(layer)))

    def _schedule(self, *_: object) -> None:
        self._timer.start()

    def _recompute(self) -> None:
        # only a table (and scores) asked for: not those of a layer pointed at another output since
        if (watched := self._watched.layer) is None:
            return
        self._follow_output(watched)
        if self.auto.isChecked() and content_key(watched) == self._measured:
            self.measure()
        if self.auto.isChecked() and content_key(watched) == self._evaluated:  # a walk: scores went stale
            self.evaluate()

    def measure(self) -> bool:
        """Compute the table of the chosen Labels layer in a worker thread; False if nothing to do."""
        layer = self.labels_layer
        if layer is None:
            return self.refuse(mf.NO_LABELS)
        name = self.image_combo.currentText()
        args, note = mf.measure_args(layer, self.layer_named("" if name == mf.NONE else name))
        self._measured = content_key(layer)
        self.run_job(mf.measure_layer, *args, say="Measuring…" + note,
                     on_item=self._shower(layer, note), failed="Measure failed")
        return True

    def measure_file(self) -> bool:
        """Measure the Export section's mask file; the table goes to the layer opened from it if unedited."""
        mask = self.mask_path.text()
        if not mask:
            return self.refuse(mf.NO_MASK_FILE)
        layer, note = mf.mask_file_layer(self.layers_of("Labels"), mask)
        self.run_job(measure_table, mask, say=f"Measuring {Path(mask).name}…",
                     on_item=self._shower(layer, note), failed="Measure failed")
        return True

    def _shower(self, layer: Any, note: str) -> Callable[[pd.DataFrame], None]:
        """Shows a table of what ``layer`` holds now (a layer shown the next output by then: not its rows)."""
        key, name = (None, None) if layer is None else (content_key(layer), layer.name)

        def show(df: pd.DataFrame) -> None:
            moved_on = layer is not None and content_key(layer) != key
            self._table_layer, self._table_key = layer, key
            if layer is not None and not moved_on:
                layer.features = df.reset_index(drop=True)
            self.model.set_frame(df)
            self.histogram.set_frame(df)
            now = mf.output_name(layer) if moved_on else None
            self.status.setText(mf.measured_text(df, name, now) + note)

        return show

    @property
    def camera(self) -> Any:
        """The viewer's camera (``viewer.scene.camera`` from napari 0.9, ``viewer.camera`` before)."""
        scene = getattr(self.viewer, "scene", None)
        return scene.camera if scene is not None else self.viewer.camera

    def go_to_row(self, row: int) -> None:
        """Centre the view on the object of ``row`` and select its label, in the layer the table is of.

        Not the Labels box's layer: it follows the selection (a walk: a tracked copy added after the
        measure took the click, another object of its own numbering, at its own frames).
        """
        layer: Any = self._table_layer
        if layer is None or layer not in self.viewer.layers or content_key(layer) != self._table_key:
            return  # (a table of a file, a removed layer, or one showing the run's next output now)
        target = mf.row_target(self.model.frame, row, layer.scale, layer.translate, layer.ndim,
                               *input_origin(layer_meta(layer)))
        if target is None:
            return
        ndim = self.viewer.dims.ndim
        if target.t is not None:
            self.viewer.dims.set_point(ndim - (3 if target.z is None else 4), target.t)
        if target.z is not None:
            self.viewer.dims.set_point(ndim - 3, target.z)  # the object's centroid slice
        self.camera.center = (target.y, target.x)
        layer.selected_label = target.label

    def _save_dialog(self) -> None:
        if not len(self.model.frame.columns):  # a walk: a 1-byte CSV was "saved" before any measure
            self.status.setText(mf.NOTHING_TO_SAVE)
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save measurements", "objects.csv", "CSV (*.csv)")
        if path:
            self.save_csv(path)

    def save_csv(self, path: str | Path) -> Job:
        """Write the table to ``path`` (atomically, in a worker thread)."""
        return self.run_job(mf.write_csv, self.model.frame.copy(), path, failed="Save failed",
                            on_item=lambda p: self.status.setText(f"Saved {p}."))

    def export(self) -> bool:
        """Export the mask file as the chosen kind (worker thread); False when a field is missing."""
        mask, folder = self.mask_path.text(), self.export_dir.text()
        if not mask or not folder:
            return self.refuse(mf.NO_EXPORT_PATHS, self.export_status)
        values = self.fields.values()
        note = mf.mask_file_layer(self.viewer.layers, mask, mf.EXPORT_UNSAVED_NOTE)[1]  # (edits not saved)
        self.run_job(export_masks, values["kind"], [mask], folder, mf.export_options(values),
                     say=f"Exporting {values['kind']}…",
                     on_item=lambda res: self.export_status.setText(mf.exported_text(res, folder) + note),
                     failed="Export failed", status=self.export_status)
        return True

    def evaluate(self) -> bool:
        """Compare the measured Labels layer with the ground-truth layer (worker thread)."""
        pred, gt = self.labels_layer, self.layer_named(self.gt_combo.currentText())
        pred_shape, gt_shape = (None if lay is None else tuple(lay.data.shape) for lay in (pred, gt))
        problem = mf.evaluation_problem(pred_shape, gt_shape, pred is gt, self.gt_combo.currentIndex() > 0)
        if problem:
            self.eval_model.set_frame(pd.DataFrame({"message": [problem]}))
            return False
        self._evaluated = content_key(pred)
        self.run_job(mf.evaluate_layers, pred.data, gt.data, first_input_frame(layer_meta(pred)),
                     on_item=self.eval_model.set_frame, name="batchseg-evaluate",
                     on_error=lambda exc: self.eval_model.set_frame(pd.DataFrame({"error": [str(exc)]})))
        return True
