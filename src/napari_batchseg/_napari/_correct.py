"""Manual correction: common fixes on the selected Labels layer, undo, and saving back to its mask.

The fixes themselves are :mod:`napari_batchseg.corrections` functions; this panel picks the layer and the
frames, applies them in place (so a layer still receiving frames keeps receiving them) and saves.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qtpy.QtCore import Signal
from qtpy.QtWidgets import (
    QButtonGroup,
    QGridLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from .. import corrections as cx
from ._qtutil import hbox, muted
from ._stream import layer_meta


def _spin(lo: int, hi: int, value: int, tip: str) -> QSpinBox:
    s = QSpinBox()
    s.setRange(lo, hi)
    s.setValue(value)
    s.setToolTip(tip)
    return s


class CorrectionPanel(QWidget):
    """Fixes for the active Labels layer and *Save corrections* back to its ``_vSM.ome.tif``."""

    saved = Signal(object)  # CorrectionSummary

    def __init__(self, viewer: Any, parent: QWidget | None = None) -> None:  # napari.Viewer (untyped)
        super().__init__(parent)
        self.viewer = viewer
        self.target = QLabel("")
        muted(self.target)
        self.this_frame = QRadioButton("current frame")
        self.all_frames = QRadioButton("all frames")
        self.this_frame.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.this_frame)
        group.addButton(self.all_frames)

        self.min_size = _spin(1, 10**7, 30, "Objects with fewer pixels are removed")
        self.small_btn = QPushButton("Remove small")
        self.border_btn = QPushButton("Remove touching border")
        self.relabel_btn = QPushButton("Relabel sequentially")
        self.keep_id = _spin(1, 2**31 - 1, 1, "Label that stays")
        self.merge_id = _spin(1, 2**31 - 1, 2, "Label merged into the other one")
        self.merge_btn = QPushButton("Merge")
        self.delete_id = _spin(1, 2**31 - 1, 1, "Label to delete (default: the layer's selected label)")
        self.delete_btn = QPushButton("Delete label")
        self.undo_btn = QPushButton("Undo fix")
        self.save_btn = QPushButton("Save corrections")
        self.save_btn.setToolTip("Write the edited mask back to its _vSM.ome.tif (atomic) and log the edits")
        self.result = QLabel("")
        muted(self.result)

        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(QLabel("smaller than (px)"), 0, 0)
        grid.addWidget(self.min_size, 0, 1)
        grid.addWidget(self.small_btn, 0, 2)
        grid.addWidget(self.border_btn, 1, 0, 1, 3)
        grid.addWidget(self.relabel_btn, 2, 0, 1, 3)
        grid.addWidget(hbox(QLabel("into"), self.keep_id, QLabel("merge"), self.merge_id), 3, 0, 1, 2)
        grid.addWidget(self.merge_btn, 3, 2)
        grid.addWidget(self.delete_id, 4, 1)
        grid.addWidget(QLabel("label"), 4, 0)
        grid.addWidget(self.delete_btn, 4, 2)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.target)
        lay.addWidget(hbox(self.this_frame, self.all_frames, 1))
        lay.addLayout(grid)
        lay.addWidget(hbox(self.undo_btn, self.save_btn, 1))
        lay.addWidget(self.result)

        self._undo: tuple[Any, NDArray[Any], NDArray[Any]] | None = None  # (Labels layer, frames, old)
        self.small_btn.clicked.connect(lambda: self.apply(cx.remove_small, self.min_size.value()))
        self.border_btn.clicked.connect(lambda: self.apply(cx.remove_touching_border))
        self.relabel_btn.clicked.connect(lambda: self.apply(cx.relabel_sequential))
        self.merge_btn.clicked.connect(
            lambda: self.apply(cx.merge_labels, self.keep_id.value(), self.merge_id.value())
        )
        self.delete_btn.clicked.connect(lambda: self.apply(cx.delete_label, self.delete_id.value()))
        self.undo_btn.clicked.connect(self.undo)
        self.save_btn.clicked.connect(self.save)
        viewer.layers.selection.events.active.connect(self.refresh)
        self.refresh()

    def close(self) -> None:
        """Stop following the viewer's selection (the widget is closing)."""
        with contextlib.suppress(Exception):
            self.viewer.layers.selection.events.active.disconnect(self.refresh)

    # ------------------------------------------------------------------ target layer and frames
    def layer(self) -> Any:
        """The active layer when it is a Labels layer."""
        layer = self.viewer.layers.selection.active
        return layer if layer is not None and layer._type_string == "labels" else None

    def refresh(self, _event: object = None) -> None:
        """Update the target description and buttons (active layer, or its mask file, changed)."""
        layer = self.layer()
        if layer is None:
            self.target.setText("select a Labels layer to correct it")
        else:
            path = layer_meta(layer).get("mask_path")
            where = Path(path).name if path else "not saved yet: no mask file to save to"
            self.target.setText(f"layer: {layer.name} — {where}")
            if getattr(layer, "selected_label", 0) > 0:
                self.delete_id.setValue(int(layer.selected_label))
        self._update_buttons()

    def _update_buttons(self) -> None:
        layer = self.layer()
        for b in (self.small_btn, self.border_btn, self.relabel_btn, self.merge_btn, self.delete_btn):
            b.setEnabled(layer is not None)
        self.save_btn.setEnabled(layer is not None and bool(layer_meta(layer).get("mask_path")))
        self.undo_btn.setEnabled(self._undo is not None and self._undo[0] is layer)

    def current_frame(self, layer: Any) -> int:
        """Index along T of the frame on screen (0 for a 2D layer)."""
        if layer.ndim < 3:
            return 0
        axis = self.viewer.dims.ndim - layer.ndim
        world = self.viewer.dims.point[axis]
        index = (world - layer.translate[0]) / layer.scale[0]
        return int(np.clip(round(index), 0, layer.data.shape[0] - 1))

    # ------------------------------------------------------------------ fixes
    def apply(self, fix: Callable[..., NDArray[Any]], *args: int) -> None:
        """Run ``fix(labels, *args, frames=...)`` on the target layer, in place."""
        layer = self.layer()
        if layer is None:
            return
        data = layer.data
        if data.ndim == 3 and self.this_frame.isChecked():
            frames = [self.current_frame(layer)]
        else:
            frames = None
        before = np.asarray(data)
        try:
            new = fix(before, *args, frames=frames)
        except ValueError as exc:
            self.result.setText(str(exc))
            return
        summary = cx.describe_changes(before, new)
        if not summary.changed:
            self.result.setText("nothing to change")
            return
        sel = tuple(summary.frames) if data.ndim == 3 else ()
        old = before[list(sel)].copy() if sel else before.copy()
        self._undo = (layer, np.asarray(sel, dtype=int), old)
        if sel:
            data[list(sel)] = new[list(sel)].astype(data.dtype, copy=False)
        else:
            data[...] = new.astype(data.dtype, copy=False)
        layer.refresh()
        m = layer_meta(layer)
        if m:
            m["dirty"] = True
        self.result.setText(f"{fix.__name__.replace('_', ' ')}: {summary.describe()}")
        self._update_buttons()

    def undo(self) -> None:
        """Undo the last fix of this panel."""
        if self._undo is None:
            return
        layer, frames, old = self._undo
        if layer not in list(self.viewer.layers):
            self._undo = None
            self._update_buttons()
            return
        if frames.size:
            layer.data[list(frames)] = old
        else:
            layer.data[...] = old
        layer.refresh()
        self._undo = None
        self.result.setText("last fix undone")
        self._update_buttons()

    # ------------------------------------------------------------------ save
    def save(self) -> cx.CorrectionSummary | None:
        """Write the target layer back to its mask file; return the :class:`CorrectionSummary`."""
        layer = self.layer()
        if layer is None:
            return None
        m = layer_meta(layer)
        path = m.get("mask_path")
        if not path:
            self.result.setText("this layer has no mask file yet (its run has not finished)")
            return None
        try:
            summary = cx.save_corrections(path, np.asarray(layer.data), note=f"napari layer {layer.name!r}")
        except Exception as exc:  # noqa: BLE001 - shown to the user
            self.result.setText(f"not saved: {exc}")
            return None
        m["dirty"] = False
        self.result.setText(
            f"saved {Path(path).name}: {summary.describe()}" if summary.changed else "no changes to save"
        )
        self.saved.emit(summary)
        return summary
