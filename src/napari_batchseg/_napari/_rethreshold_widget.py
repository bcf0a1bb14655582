"""The "Re-threshold" dock: recompute a ``--keep-flows`` run's masks with other thresholds, no network.

One preview job at a time (only the latest settings next); while the sliders rest, another job computes
the neighbouring cell probability values ahead. The GUI thread reads no file and computes no labels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qtpy.QtCore import QEvent, Qt
from qtpy.QtWidgets import QFileDialog, QLabel, QListWidget, QListWidgetItem, QSlider, QWidget

from ..segmenters.cellpose.rethreshold import Thresholds
from ..view import rethreshold as rt
from ..view.layer_files import layer_meta
from ..view.rethreshold_layer import PreviewLayer
from ._dock import Dock, button, status_line
from ._jobs import Job, close_all, close_with
from ._qtutil import follow, form_box, hbox, quiet
from ._warmup import install_units, prepare_layers

__all__ = ["LAYER_NAME", "RethresholdWidget"]

LAYER_NAME = rt.LAYER_NAME


def _slider(lo: int, hi: int, value: int) -> tuple[QSlider, QLabel, QWidget]:
    """A slider, its value's label and the row of both."""
    slider, label = QSlider(Qt.Orientation.Horizontal), QLabel()
    slider.setRange(lo, hi)
    slider.setValue(value)
    label.setMinimumWidth(40)
    return slider, label, hbox(slider, label)


class RethresholdWidget(Dock):
    """Dock widget: preview and apply other thresholds to ``--keep-flows`` runs."""

    def __init__(self, napari_viewer: Any, parent: QWidget | None = None) -> None:
        super().__init__(napari_viewer, parent, fields=rt.FIELDS)
        self._cache = rt.FlowCache()
        self._running: Job | None = None  # the preview job
        self._ahead: Job | None = None  # the job computing neighbouring cell probability values
        self._applying: Job | None = None
        self._refused = False  # the Apply status says why Apply is off
        self._apply_lines = rt.ApplyLines(0)
        self._frame_ts: tuple[int, ...] = ()
        self.setMaximumWidth(440)
        self.logs = QListWidget(self)
        self.logs.setToolTip("Run logs (*_vSM.log) made with --keep-flows; the current one is previewed")
        self.logs.setMaximumHeight(90)
        self.add_btn = button("Add logs…", self._browse, self)
        self.layer_btn = button("From selected layer", self.add_selected_layer, self)
        self.remove_btn = button("Remove", lambda: self.logs.takeItem(self.logs.currentRow()), self)
        self.cellprob, self.cp_label, cellprob_row = _slider(*rt.CP_SLIDER)
        self.flow, self.flow_label, flow_row = _slider(*rt.FLOW_SLIDER)
        self.preview_status = self.status
        self.preview = PreviewLayer(napari_viewer, self.status.setText)  # (removed with the dock)
        self.background.submit(prepare_layers, on_item=install_units, name="batchseg-warmup")  # (see _shown)
        close_with(self, self.preview.drop)
        self.preview_status.setText(rt.NO_LOG)
        self.apply_btn = button("Apply to the batch", self.apply, self)
        self.apply_status = status_line(self)
        self.add(QLabel("Runs with kept flows", self), self.logs,
                 hbox(self.add_btn, self.layer_btn, self.remove_btn),
                 form_box(("Cell probability", cellprob_row), ("Flow threshold", flow_row),
                          *self.fields.rows("min_size", "frame")),
                 self.preview_status, hbox(QLabel("Suffix", self), self.suffix, self.overwrite),
                 self.apply_btn, self.apply_status)
        self.suffix.textChanged.connect(self.update_buttons)  # a bad suffix is said as it is typed
        self.overwrite.toggled.connect(self.update_buttons)
        self.logs.currentRowChanged.connect(lambda *_: self._changed(new_run=True))
        self.logs.itemClicked.connect(lambda *_: self._changed(again=True))  # e.g. the run was made again
        self._plan = rt.PreviewPlan(self.cellprob.value())
        self.cellprob.valueChanged.connect(self._plan.moved)
        for signal in (self.cellprob.valueChanged, self.flow.valueChanged, self.min_size.valueChanged,
                       self.frame.valueChanged):
            signal.connect(lambda *_: self._changed())
        follow(self, [self.viewer.dims.events.current_step], self._follow_dims)
        self._show_values()

    def event(self, event: QEvent | None) -> bool:  # noqa: D102 - Qt
        # out of its dock (remove_dock_widget, the × button): stop now, not once deleted (turns later, never
        # under processEvents): a preview ending meanwhile added a layer no dock removed (GUI trial 46)
        if event is not None and event.type() == QEvent.Type.ParentChange and self.parent() is None:
            close_all(self.background.close, self.preview.drop)
        return super().event(event)

    @property
    def last_preview(self) -> rt.Preview | None:
        """The preview on screen."""
        return self._plan.last

    @property
    def thresholds(self) -> Thresholds:
        """The thresholds the sliders show."""
        return rt.thresholds_at(self.cellprob.value(), self.flow.value(), self.min_size.value())

    def set_thresholds(self, thresholds: Thresholds) -> None:
        """Move the sliders to ``thresholds`` (rounded to the sliders' steps)."""
        sliders = (self.cellprob, self.flow, self.min_size)
        for slider, value in zip(sliders, rt.positions_of(thresholds), strict=True):
            slider.setValue(value)

    def log_paths(self) -> list[str]:
        """The chosen run logs, in order."""
        items = (self.logs.item(i) for i in range(self.logs.count()))
        return [str(item.data(Qt.ItemDataRole.UserRole)) for item in items if item is not None]

    def add_logs(self, paths: list[str | Path]) -> None:
        """Add run logs (a ``_vSM.ome.tif`` stands for its log); the first added becomes current."""
        known, first = set(self.log_paths()), self.logs.count()
        for text in [log for log in dict.fromkeys(map(rt.log_of, paths)) if log not in known]:
            item = QListWidgetItem(Path(text).name)
            item.setData(Qt.ItemDataRole.UserRole, text)
            item.setToolTip(text)
            self.logs.addItem(item)
        if self.logs.count() > first and self.logs.currentRow() < 0:
            self.logs.setCurrentRow(first)

    def add_selected_layer(self) -> None:
        """Add the run of the selected layer (its ``batchseg`` metadata names the mask)."""
        mask = layer_meta(active := self.viewer.layers.selection.active).get("mask_path")
        if mask:
            self.add_logs([str(mask)])
            self.preview.take_from(active)  # the preview goes when that layer does (or shows another run)
        else:
            self.preview_status.setText(rt.NO_RUN_LAYER)

    def _browse(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Run logs made with --keep-flows", "",
                                                "batchseg logs (*_vSM.log);;All files (*)")
        self.add_logs(list(files))

    def _show_values(self) -> None:
        cellprob, flow = rt.value_texts(self.thresholds)
        self.cp_label.setText(cellprob)
        self.flow_label.setText(flow)

    def _follow_dims(self, *_: Any) -> None:
        # the viewer's T (first axis of a 3-D view) moved: show that frame when the run has it
        index = rt.frame_at(tuple(self.viewer.dims.current_step), self._frame_ts)
        if index is not None:
            self.frame.setValue(index)

    def _changed(self, new_run: bool = False, again: bool = False) -> None:
        # the job computing ahead stops after its current threshold (a preview of it waits for it)
        if self._ahead is not None:
            self._ahead.cancel.set()
        if again:  # read the log again
            self._plan.last = None
        self._show_values()
        item = self.logs.currentItem()
        if item is None:  # the last log was removed: nothing to preview (a walk: its status stayed)
            self._plan.wanted = None
            self.preview_status.setText(rt.NO_LOG)
            self.preview.drop()
            return
        if new_run:
            with quiet(self.frame):
                self.frame.setValue(0)
        self._plan.wanted = (str(item.data(Qt.ItemDataRole.UserRole)), self.frame.value(), self.thresholds)
        self._next()

    def _next(self) -> None:
        wanted = self._plan.next(running=self._running is not None)
        if wanted is None:
            return
        self.preview_status.setText("computing…")
        self._running = self.background.submit(
            rt.compute_preview, self._cache, *wanted, on_item=self._shown,
            on_error=self._preview_failed, on_done=self._preview_done, name="batchseg-rethreshold-preview")

    def _preview_done(self) -> None:
        self._running = None
        self._next()
        if self._running is None:
            self._start_ahead()

    def _start_ahead(self) -> None:
        ahead = rt.ahead_job(self._cache, self._plan, self._ahead is not None, self.cellprob.value(),
                             self.cellprob.minimum(), self.cellprob.maximum())
        if ahead is not None:
            self._ahead = self.background.submit(
                rt.compute_ahead, *ahead, pass_job=True, on_done=self._ahead_done, on_error=lambda _exc: None,
                name="batchseg-rethreshold-ahead", yield_cpu=True)

    def _ahead_done(self) -> None:
        self._ahead = None
        if self._running is None:  # cancelled by a move whose preview is done: ahead of the new place
            self._start_ahead()

    def _preview_failed(self, exc: BaseException) -> None:
        self.preview_status.setText(rt.first_line(exc))
        self._plan.wanted = None

    def _shown(self, preview: rt.Preview) -> None:
        self._frame_ts = preview.frame_ts
        if self.frame.maximum() != preview.n_frames - 1:
            with quiet(self.frame):
                self.frame.setRange(0, preview.n_frames - 1)
        if not self._plan.shown(preview):
            return  # stale: newer settings are computed next
        if self.preview.check():  # the layer of the run previewed went meanwhile
            return
        self.preview.show(preview)  # the first layer: its unit registry built in a worker (else 1.9 s here)
        self.preview_status.setText(rt.preview_text(preview))

    def apply(self) -> None:
        """Re-threshold every chosen log's outputs with the sliders' thresholds, in the background."""
        logs = self.log_paths()
        if not logs or self.slot.kind:
            return
        overwrite = self.overwrite.isChecked()
        if refused := rt.apply_refusal(self.suffix.text(), overwrite):
            self.apply_status.setText(refused)
            return
        self._apply_lines = rt.ApplyLines(len(logs))
        suffix = self.suffix.text().strip() or None
        self._applying = self.run_job(rt.apply_all, logs, self.thresholds, suffix, overwrite,
                                      say=f"0/{len(logs)}…", status=self.apply_status, pass_job=True,
                                      on_item=self._applied, on_done=lambda: setattr(self, "_applying", None),
                                      kind="rethreshold-apply", yield_cpu=True)

    def _applied(self, item: tuple[str, ...]) -> None:
        self.apply_status.setText(self._apply_lines.update(item, rt.applied_note(self.viewer.layers, item)))

    def update_buttons(self, *_: Any) -> None:
        """*Apply to the batch* on while no Apply runs and the suffix is valid (else its status says why)."""
        enabled, text = rt.apply_check(self.suffix.text(), self.overwrite.isChecked(), bool(self.slot.kind),
                                       self._refused)
        self.apply_btn.setEnabled(enabled)
        if text is not None:
            self.apply_status.setText(text)
        self._refused = bool(text)
