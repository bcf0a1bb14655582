"""The "Re-threshold" dock: recompute a ``--keep-flows`` run's masks with other thresholds, no network.

The user picks run logs (``*_vSM.log`` made with ``--keep-flows``, or the one of a selected result layer,
whose ``batchseg`` metadata names its mask). The current log's current frame is shown as a Labels layer;
the sliders (cell probability threshold, flow threshold, minimum size) recompute it live in a
background job (:mod:`._jobs`) through the frame's
:class:`~napari_batchseg.segmenters.cellpose.frame_masks.FrameMasks` (Cellpose's mask computation,
exactly, with its stages cached: flow threshold and minimum size steps reuse the dynamics). Recomputing
is coalesced: one job at a time, and when it ends only the latest settings are computed next; a result
for settings no longer current is dropped. While the sliders rest, another background job computes
ahead the dynamics of the neighbouring cell probability values (cancelled as soon as a control moves), so
that the next step usually lands on a cached value. *Apply to the batch*
runs :func:`~napari_batchseg.rethreshold_run.rethreshold_log` on every chosen log in the background
(with a suffix, or overwriting), one status line per file. The GUI thread reads no file and computes no
labels.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..rethreshold_run import read_kept_flows, rethreshold_log
from ..segmenters.cellpose.frame_masks import FrameMasks
from ..segmenters.cellpose.rethreshold import Thresholds
from ._jobs import Background, Job, close_with, disconnect
from ._layerops import layer_meta

__all__ = ["RethresholdWidget", "compute_preview"]

LAYER_NAME = "Re-threshold preview"
#: slider steps: cell probability in 0.1, flow threshold in 0.05
CP_STEP = 0.1
FLOW_STEP = 0.05
#: cell probability slider positions computed ahead around the resting one (nearest first)
AHEAD = (1, -1, 2, -2)


@dataclass(frozen=True)
class Preview:
    """One recomputed frame: what it was computed for, its labels and how long it took."""

    key: tuple[str, int, Thresholds]
    frame_t: int
    n_frames: int
    frame_ts: tuple[int, ...]
    labels: NDArray[Any]
    seconds: float
    n_objects: int = 0


class _FlowCache:
    """The last frame read, as its :class:`FrameMasks`.

    Read by the preview job (one at a time); the frame's stage caches are thread-safe, shared with the
    job computing ahead.
    """

    def __init__(self) -> None:
        self.key: tuple[str, int] | None = None
        self.value: tuple[int, FrameMasks, tuple[int, ...]] | None = None

    def get(self, log: str, index: int) -> tuple[int, FrameMasks, tuple[int, ...]]:
        if self.key != (log, index) or self.value is None:
            kept = read_kept_flows(log)
            ts = tuple(t for t, _n in kept.frames)
            index = min(max(index, 0), len(ts) - 1)
            for i, (t, niter, dp, cellprob) in enumerate(kept.frame_flows()):
                if i == index:
                    self.key, self.value = (log, index), (t, FrameMasks(dp, cellprob, niter), ts)
                    break
        assert self.value is not None
        return self.value

    def frame(self, log: str, index: int) -> FrameMasks | None:
        """The frame's stages if it is the one held (no reading)."""
        value = self.value
        return value[1] if value is not None and self.key == (log, index) else None


def compute_preview(cache: _FlowCache, log: str, index: int, thresholds: Thresholds) -> Preview:
    """Labels of frame ``index`` of ``log``'s kept flows with ``thresholds`` (run off the GUI thread)."""
    t, frame, ts = cache.get(log, index)
    started = time.perf_counter()
    labels = frame.labels(thresholds.cellprob_threshold, thresholds.flow_threshold, thresholds.min_size)
    seconds = time.perf_counter() - started
    n_objects = len(np.unique(labels)) - 1  # here, not on the GUI thread
    return Preview((log, index, thresholds), t, len(ts), ts, labels, seconds, n_objects)


def compute_ahead(frame: FrameMasks, cellprob_thresholds: list[float], flow_threshold: float,
                  job: Job) -> None:
    """Stages 1-2 of ``frame`` for each threshold in turn, until ``job`` is cancelled (off the GUI thread)."""
    for threshold in cellprob_thresholds:
        if job.cancel.is_set():
            return
        frame.prepare(threshold, flow_threshold)


def _apply_all(logs: list[str], thresholds: Thresholds, suffix: str | None, overwrite: bool,
               job: Job) -> None:
    for i, log in enumerate(logs):
        if job.cancel.is_set():
            return
        job.report(("start", i, log, ""))
        try:
            result = rethreshold_log(log, thresholds, suffix=suffix, overwrite=overwrite, cancel=job.cancel)
        except Exception as exc:  # noqa: BLE001 - one line per failing file, the batch goes on
            job.report(("error", i, log, str(exc).splitlines()[0] if str(exc) else type(exc).__name__))
        else:
            done = f"{result.mask.name} ({result.n_frames} frame(s), {result.seconds:.1f} s)"
            job.report(("ok", i, log, done))


def _slider(lo: int, hi: int, value: int) -> QSlider:
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(lo, hi)
    slider.setValue(value)
    return slider


class RethresholdWidget(QWidget):
    """Dock widget: preview and apply other thresholds to ``--keep-flows`` runs (see the module notes)."""

    def __init__(self, napari_viewer: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = napari_viewer
        self.background = Background(self)
        self._cache = _FlowCache()
        self._running: Job | None = None  # the preview job
        self._ahead: Job | None = None  # the job computing neighbouring cell probability values
        self._last_cp_move = 1
        self._wanted: tuple[str, int, Thresholds] | None = None
        self._applying: Job | None = None
        self._apply_lines: list[str] = []
        self.layer: Any = None
        self.last_preview: Preview | None = None
        self._frame_ts: tuple[int, ...] = ()
        self.setMaximumWidth(440)
        lay = QVBoxLayout(self)
        self.logs = QListWidget(self)
        self.logs.setToolTip("Run logs (*_vSM.log) made with --keep-flows; the current one is previewed")
        self.logs.setMaximumHeight(90)
        lay.addWidget(QLabel("Runs with kept flows", self))
        lay.addWidget(self.logs)
        row = QHBoxLayout()
        self.add_btn = QPushButton("Add logs…", self)
        self.layer_btn = QPushButton("From selected layer", self)
        self.remove_btn = QPushButton("Remove", self)
        for btn in (self.add_btn, self.layer_btn, self.remove_btn):
            row.addWidget(btn)
        lay.addLayout(row)
        form = QFormLayout()
        self.cellprob = _slider(-60, 60, 0)
        self.flow = _slider(0, 60, 8)
        self.min_size = QSpinBox(self)
        self.min_size.setRange(-1, 100_000)
        self.min_size.setValue(15)
        self.min_size.setSpecialValueText("none")
        self.frame = QSpinBox(self)
        self.frame.setRange(0, 0)
        self.cp_label = QLabel(self)
        self.flow_label = QLabel(self)
        form.addRow("Cell probability", self._with_label(self.cellprob, self.cp_label))
        form.addRow("Flow threshold", self._with_label(self.flow, self.flow_label))
        form.addRow("Min size (px)", self.min_size)
        form.addRow("Frame", self.frame)
        lay.addLayout(form)
        self.preview_status = QLabel("Add a run log to preview.", self)
        self.preview_status.setWordWrap(True)
        lay.addWidget(self.preview_status)
        row2 = QHBoxLayout()
        self.suffix = QLineEdit("rt", self)
        self.suffix.setToolTip("Write <stem>_vSM-SUFFIX beside each run; "
                               "empty + Overwrite: replace the run's own mask")
        self.overwrite = QCheckBox("Overwrite", self)
        row2.addWidget(QLabel("Suffix", self))
        row2.addWidget(self.suffix)
        row2.addWidget(self.overwrite)
        lay.addLayout(row2)
        self.apply_btn = QPushButton("Apply to the batch", self)
        lay.addWidget(self.apply_btn)
        self.apply_status = QLabel("", self)
        self.apply_status.setWordWrap(True)
        lay.addWidget(self.apply_status)
        lay.addStretch(1)
        self.add_btn.clicked.connect(self._browse)
        self.layer_btn.clicked.connect(self.add_selected_layer)
        self.remove_btn.clicked.connect(self._remove)
        self.apply_btn.clicked.connect(self.apply)
        self.logs.currentRowChanged.connect(lambda *_: self._changed(new_run=True))
        self._cp_value = self.cellprob.value()
        self.cellprob.valueChanged.connect(self._cp_moved)
        for signal in (self.cellprob.valueChanged, self.flow.valueChanged, self.min_size.valueChanged,
                       self.frame.valueChanged):
            signal.connect(lambda *_: self._changed())
        self.viewer.dims.events.current_step.connect(self._follow_dims)
        close_with(self, self.background.close,
                   lambda: disconnect([self.viewer.dims.events.current_step], self._follow_dims))
        self._show_values()

    @staticmethod
    def _with_label(slider: QSlider, label: QLabel) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(slider, 1)
        label.setMinimumWidth(40)
        row.addWidget(label)
        return box

    # -- inputs ---------------------------------------------------------------------------------------
    @property
    def thresholds(self) -> Thresholds:
        """The thresholds the sliders show."""
        return Thresholds(round(self.cellprob.value() * CP_STEP, 6), round(self.flow.value() * FLOW_STEP, 6),
                          self.min_size.value())

    def set_thresholds(self, thresholds: Thresholds) -> None:
        """Move the sliders to ``thresholds`` (rounded to the sliders' steps)."""
        self.cellprob.setValue(round(thresholds.cellprob_threshold / CP_STEP))
        self.flow.setValue(round(thresholds.flow_threshold / FLOW_STEP))
        self.min_size.setValue(int(thresholds.min_size))

    def log_paths(self) -> list[str]:
        """The chosen run logs, in order."""
        items = (self.logs.item(i) for i in range(self.logs.count()))
        return [str(item.data(Qt.ItemDataRole.UserRole)) for item in items if item is not None]

    def add_logs(self, paths: list[str | Path]) -> None:
        """Add run logs (a ``_vSM.ome.tif`` stands for its log); the first added becomes current."""
        known = set(self.log_paths())
        first = None
        for path in paths:
            text = str(path)
            if text.endswith("_vSM.ome.tif"):
                text = text[: -len(".ome.tif")] + ".log"
            if text not in known:
                known.add(text)
                item = QListWidgetItem(Path(text).name)
                item.setData(Qt.ItemDataRole.UserRole, text)
                item.setToolTip(text)
                self.logs.addItem(item)
                first = first if first is not None else self.logs.count() - 1
        if first is not None and self.logs.currentRow() < 0:
            self.logs.setCurrentRow(first)

    def add_selected_layer(self) -> None:
        """Add the run of the selected layer (its ``batchseg`` metadata names the mask)."""
        layer = self.viewer.layers.selection.active
        mask = layer_meta(layer).get("mask_path") if layer is not None else None
        if not mask:
            self.preview_status.setText("The selected layer names no batchseg output (open a _vSM mask).")
            return
        self.add_logs([str(mask)])

    def _browse(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Run logs made with --keep-flows", "",
                                                "batchseg logs (*_vSM.log);;All files (*)")
        self.add_logs(list(files))

    def _remove(self) -> None:
        row = self.logs.currentRow()
        if row >= 0:
            self.logs.takeItem(row)

    def _show_values(self) -> None:
        th = self.thresholds
        self.cp_label.setText(f"{th.cellprob_threshold:+.1f}")
        self.flow_label.setText("off" if th.flow_threshold == 0 else f"{th.flow_threshold:.2f}")

    def _follow_dims(self, *_: Any) -> None:
        """The viewer's T (first axis of a 3-D view) moved: show that frame when the run has it."""
        step = tuple(self.viewer.dims.current_step)
        if len(step) >= 3 and self._frame_ts:
            t = int(step[0])
            if t in self._frame_ts:
                self.frame.setValue(self._frame_ts.index(t))

    # -- preview: one job at a time, latest settings only ----------------------------------------------
    def _cp_moved(self, value: int) -> None:
        if value != self._cp_value:
            self._last_cp_move = 1 if value > self._cp_value else -1
        self._cp_value = value

    def _changed(self, new_run: bool = False) -> None:
        self._stop_ahead()
        self._show_values()
        item = self.logs.currentItem()
        if item is None:
            return
        if new_run:
            self.frame.blockSignals(True)
            self.frame.setValue(0)
            self.frame.blockSignals(False)
        self._wanted = (str(item.data(Qt.ItemDataRole.UserRole)), self.frame.value(), self.thresholds)
        self._next()

    def _next(self) -> None:
        if self._running is not None or self._wanted is None:
            return
        if self.last_preview is not None and self.last_preview.key == self._wanted:
            return
        log, index, thresholds = self._wanted
        self.preview_status.setText("computing…")
        self._running = self.background.submit(
            compute_preview, self._cache, log, index, thresholds, on_item=self._shown,
            on_error=self._preview_failed, on_done=self._preview_done, name="batchseg-rethreshold-preview")

    def _preview_done(self) -> None:
        self._running = None
        self._next()
        if self._running is None:
            self._start_ahead()

    # -- computing ahead while the sliders rest ------------------------------------------------------
    def _start_ahead(self) -> None:
        """Compute ahead the dynamics of the cell probability values around the shown one.

        Nearest first, in the direction of the last move first.
        """
        preview = self.last_preview
        if preview is None or self._ahead is not None or preview.key != self._wanted:
            return
        log, index, thresholds = preview.key
        frame = self._cache.frame(log, index)
        if frame is None:
            return
        here = self.cellprob.value()
        lo, hi = self.cellprob.minimum(), self.cellprob.maximum()
        values = [round((here + self._last_cp_move * k) * CP_STEP, 6) for k in AHEAD
                  if lo <= here + self._last_cp_move * k <= hi]
        values = [v for v in values if not frame.cached(v)]
        if values:
            self._ahead = self.background.submit(
                compute_ahead, frame, values, thresholds.flow_threshold, pass_job=True,
                on_done=self._ahead_done, on_error=lambda _exc: None, name="batchseg-rethreshold-ahead",
                yield_cpu=True)

    def _ahead_done(self) -> None:
        self._ahead = None
        if self._running is None:  # cancelled by a move whose preview is done: ahead of the new place
            self._start_ahead()

    def _stop_ahead(self) -> None:
        """A control moved: the job computing ahead stops after its current threshold.

        The preview of a threshold it is computing waits for it rather than computing it again.
        """
        if self._ahead is not None:
            self._ahead.cancel.set()

    def _preview_failed(self, exc: BaseException) -> None:
        self.preview_status.setText(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        self._wanted = None

    def _shown(self, preview: Preview) -> None:
        self._frame_ts = preview.frame_ts
        if self.frame.maximum() != preview.n_frames - 1:
            self.frame.blockSignals(True)
            self.frame.setRange(0, preview.n_frames - 1)
            self.frame.blockSignals(False)
        if preview.key != self._wanted:
            return  # stale: newer settings are computed next
        self.last_preview = preview
        if self.layer is None or self.layer not in self.viewer.layers:
            self.layer = self.viewer.add_labels(preview.labels, name=LAYER_NAME)
        else:
            self.layer.data = preview.labels
        self.preview_status.setText(f"{Path(preview.key[0]).name} frame t={preview.frame_t}: "
                                    f"{preview.n_objects} objects, "
                                    f"computed in {preview.seconds * 1000:.0f} ms")

    # -- apply to every chosen log ------------------------------------------------------------------------
    def apply(self) -> None:
        """Re-threshold every chosen log's outputs with the sliders' thresholds, in the background."""
        logs = self.log_paths()
        if not logs or (self._applying is not None and self._applying.alive):
            return
        suffix = self.suffix.text().strip() or None
        overwrite = self.overwrite.isChecked()
        if suffix is None and not overwrite:
            self.apply_status.setText("Give a suffix, or tick Overwrite to replace the runs' masks.")
            return
        self._apply_lines = [""] * len(logs)
        self.apply_btn.setEnabled(False)
        self.apply_status.setText(f"0/{len(logs)}…")
        self._applying = self.background.submit(
            _apply_all, logs, self.thresholds, suffix, overwrite, pass_job=True, on_item=self._applied,
            on_done=self._apply_done, on_error=self._apply_error, name="batchseg-rethreshold-apply",
            yield_cpu=True)

    def _applied(self, item: tuple[str, int, str, str]) -> None:
        kind, i, log, text = item
        name = Path(log).name
        self._apply_lines[i] = (f"{name}: working…" if kind == "start" else
                                f"{name}: failed: {text}" if kind == "error" else f"{name}: {text}")
        done = sum(1 for line in self._apply_lines if line and not line.endswith("working…"))
        lines = "\n".join(x for x in self._apply_lines if x)
        self.apply_status.setText(f"{done}/{len(self._apply_lines)}\n{lines}")

    def _apply_error(self, exc: BaseException) -> None:
        self.apply_status.setText(f"failed: {exc}")

    def _apply_done(self) -> None:
        self.apply_btn.setEnabled(True)
        self._applying = None
