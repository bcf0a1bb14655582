"""Manual correction: common fixes on the selected Labels layer, undo, and saving back to its mask.

Fixes are computed on a copy in a thread (the layer read-only meanwhile) and written back in place (a layer
still receiving frames keeps receiving them).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from napari.layers import Labels
from numpy.typing import NDArray
from qtpy.QtCore import Signal
from qtpy.QtWidgets import QLabel, QWidget

from .. import corrections as cx
from ..view import fix_undo as fu
from ..view import fixes as fx
from ..view.dock_layers import LayerWatch, layer_id, shown_output
from ..view.layer_files import layer_meta
from ..view.layer_ops import mark_edited, mark_saved
from ._dock import button
from ._jobs import Background, JobSlot, close_all, disconnect
from ._qtutil import Fields, grid, hbox, muted, radio_pair, vbox
from ._repaint import holds_repaint, layer_work


class CorrectionPanel(QWidget):
    """Fixes for the active Labels layer and *Save corrections* back to its ``_vSM.ome.tif``."""

    saved = Signal(object)  # CorrectionSummary

    def __init__(self, viewer: Any, parent: QWidget | None = None) -> None:  # napari.Viewer (untyped)
        super().__init__(parent)
        self.viewer = viewer
        self._undo = fu.UndoSlot()  # the last fix while it can be undone, else why Undo is off
        self.log = fx.OperationLog()  # operations since the last save, per layer id (logged on save)
        # a stream layer retargeted in place (new name, data, metadata): the target line and Undo follow it
        self._watched = LayerWatch(selected_label=self._follow_selected_label, paint=self._painted,
                                   name=self.refresh, data=self.refresh, metadata=self.refresh)
        self.background = Background(self)
        self.slot = JobSlot(self.background, self._update_buttons)  # "fix" or "save" while one runs
        self.target = muted(QLabel(""))
        self.this_frame, self.all_frames = radio_pair(self, "current frame", "all frames")
        self.fields = Fields(*fu.CORRECT_FIELDS)
        self.min_size, self.keep_id, self.merge_id, self.delete_id = (self.fields[f.key]
                                                                      for f in fu.CORRECT_FIELDS)
        fix, size, keep, merge, label = (self.apply, self.min_size.value, self.keep_id.value,
                                         self.merge_id.value, self.delete_id.value)
        self.small_btn = button("Remove small", lambda: fix(cx.remove_small, size(),
                                                            params=f"min_size={size()}"))
        self.border_btn = button("Remove touching border", lambda: fix(cx.remove_touching_border))
        self.relabel_btn = button("Relabel sequentially", lambda: fix(cx.relabel_sequential))
        self.merge_btn = button("Merge", lambda: fix(cx.merge_labels, keep(), merge(),
                                                     params=f"label {merge()} into {keep()}"))
        self.delete_btn = button("Delete label", lambda: fix(cx.delete_label, label(),
                                                             params=f"label {label()}"))
        self.undo_btn = button("Undo fix", self.undo)
        self.save_btn = button("Save corrections", self.save_in_background, tip=(
            "Write the edited mask back to its _vSM.ome.tif (atomic) and log the edits"))
        self.result = muted(QLabel(""))
        # merge Y into X, as the fix's record says it (a walk: "into X merge Y" read backwards)
        merge_row = hbox(QLabel("merge"), self.merge_id, QLabel("into"), self.keep_id)
        fixes = QWidget()
        grid((QLabel("smaller than (px)"), 0, 0, 1), (self.min_size, 0, 1, 1), (self.small_btn, 0, 2, 1),
             (self.border_btn, 1, 0, 3), (self.relabel_btn, 2, 0, 3), (merge_row, 3, 0, 2),
             (self.merge_btn, 3, 2, 1), (self.delete_id, 4, 1, 1), (QLabel("label"), 4, 0, 1),
             (self.delete_btn, 4, 2, 1), into=fixes)
        vbox(self.target, hbox(self.this_frame, self.all_frames, 1), fixes,
             hbox(self.undo_btn, self.save_btn, 1), self.result, into=self)
        viewer.layers.selection.events.active.connect(self.refresh)
        self.refresh()

    @property
    def busy(self) -> bool:
        """Whether a fix is being computed."""
        return self.slot.kind == "fix"

    @property
    def saving(self) -> bool:
        """Whether *Save corrections* is writing."""
        return self.slot.kind == "save"

    def close_down(self) -> None:
        """Deliver nothing more, stop following the viewer (a save in progress still finishes its write)."""
        close_all(self.background.close, self._watched.close)  # (their Qt side may be gone already)
        disconnect([self.viewer.layers.selection.events.active], self.refresh)

    def layer(self) -> Any:
        """The active layer when it is a Labels layer."""
        layer = self.viewer.layers.selection.active
        return layer if isinstance(layer, Labels) else None

    def refresh(self, _event: object = None) -> None:
        """Update the target description and buttons (active layer, or its mask file, changed)."""
        layer = self.layer()
        self._watched.watch(layer)
        self.target.setText(fu.target_text(None if layer is None else layer.name, layer_meta(layer)))
        if layer is not None:
            self._follow_selected_label()
        self._update_buttons()

    def _follow_selected_label(self, _event: object = None) -> None:
        layer = self._watched.layer
        if layer is not None and int(layer.selected_label) > 0:
            self.delete_id.setValue(int(layer.selected_label))

    def _painted(self, _event: object = None) -> None:
        layer = self._watched.layer
        if layer is None:
            return
        self.log.stroke(layer_id(layer))
        mark_edited(layer)
        if said := self._undo.painted(layer_id(layer)):
            self.result.setText(said)
            self._update_buttons()

    def _undo_target(self) -> tuple[Any, str]:
        layers = self.viewer.layers
        return self._undo.target((lay, layer_id(lay), lay.data, shown_output(lay)) for lay in layers)

    def _update_buttons(self) -> None:
        layer, (target, why) = self.layer(), self._undo_target()
        key, target_key = (None if lay is None else layer_id(lay) for lay in (layer, target))
        fixes, save, undo = fu.correct_buttons(key, bool(layer_meta(layer).get("mask_path")),
                                               not self.slot.kind, target_key)
        for b in (self.small_btn, self.border_btn, self.relabel_btn, self.merge_btn, self.delete_btn):
            b.setEnabled(fixes)
        self.save_btn.setEnabled(save)
        self.undo_btn.setEnabled(undo)
        elsewhere = None if target is None or target_key == key else target.name
        self.undo_btn.setToolTip(self._undo.tooltip(why, elsewhere))

    def current_frame(self, layer: Any) -> int:
        """Index along T of the frame on screen (0 for a 2D layer)."""
        if layer.ndim < 3:
            return 0
        world = self.viewer.dims.point[self.viewer.dims.ndim - layer.ndim]
        return fx.frame_on_screen(world, layer.translate[0], layer.scale[0], layer.data.shape[0])

    def apply(self, fix: Callable[..., NDArray[Any]], *args: int, params: str = "") -> bool:
        """Run ``fix(labels, *args, frames=...)`` on a copy of the target layer in a thread; False if not."""
        layer = self.layer()
        if layer is None or self.slot.kind:
            return False
        data = layer.data
        frames = [self.current_frame(layer)] if data.ndim == 3 and self.this_frame.isChecked() else None
        what, output = fx.describe_fix(fix.__name__, params, data.ndim, frames), shown_output(layer)
        # read-only meanwhile: no brush stroke may land on frames the fix is rewriting
        self._in_background("fix", layer, f"{what}…", fx.compute_fix, fix, data, args, frames,
                            on_item=lambda out: self._applied(layer, data, output, what, out),
                            on_error=lambda exc: self.result.setText(fu.fix_failed_text(fix.__name__, exc)))
        return True

    @holds_repaint
    def _applied(self, layer: Any, data: NDArray[Any], output: tuple[Any, Any], what: str,
                 out: fx.FixResult) -> None:
        summary = out[0]
        if not summary.changed:
            self.result.setText(fu.NOTHING_TO_CHANGE)
            return
        # the layer now shows another output (another array, or its buffer reused in place): nothing written
        if layer.data is not data or not fx.same_output(output, shown_output(layer)):
            self.result.setText(fu.LAYER_CHANGED)
            return
        self._undo.hold(fu.write_computed(layer_id(layer), shown_output(layer), data, out, what))
        layer.refresh()
        self.log.add(layer_id(layer), f"{what}: {summary.describe()}")
        mark_edited(layer)
        self.result.setText(f"{what}: {summary.describe()}")

    def undo(self) -> bool:
        """Undo the last fix where its frames still hold what it wrote; else say why (return False)."""
        rec = self._undo.record
        if rec is None or self.slot.kind:
            return False
        layer, why = self._undo_target()
        if layer is None or not fu.undo_frames(rec, layer.data):
            self.result.setText(f"not undone: {why if layer is None else self._undo.edited_since()}")
            self._update_buttons()
            return False
        with layer_work(self):
            layer.refresh()
        self._undo.hold(None)
        self.log.add(rec.layer_id, f"undo ({rec.what})")
        self.result.setText(f"undone: {rec.what}")
        self._update_buttons()
        return True

    def _save_target(self) -> tuple[Any, str]:
        layer = self.layer()
        path = str(layer_meta(layer).get("mask_path") or "")
        if layer is not None and not path:
            self.result.setText(fu.NO_MASK_YET)
        return (layer, path) if path else (None, "")

    def save_in_background(self) -> bool:
        """*Save corrections*: write in a thread (the layer is read-only meanwhile); ``saved`` when done."""
        layer, path = self._save_target()
        if layer is None or self.slot.kind:
            return False
        # read-only meanwhile: the array is written as it is
        self._in_background("save", layer, f"saving {Path(path).name}…", cx.save_corrections, path,
                            layer.data, self.log.note(layer_id(layer), layer.name),
                            on_item=lambda summary: self._saved(layer, path, summary),
                            on_error=lambda exc: self.result.setText(f"not saved: {exc}"))
        return True

    def _in_background(self, job: str, layer: Any, text: str, fn: Callable[..., Any], *args: Any,
                       on_item: Callable[[Any], object], on_error: Callable[[BaseException], None]) -> None:
        was_editable = layer.editable
        layer.editable = False
        self.result.setText(text)

        def finish() -> None:
            with contextlib.suppress(Exception):
                layer.editable = was_editable

        self.slot.start(job, fn, *args, on_item=on_item, on_error=on_error, on_done=finish)

    @holds_repaint
    def _saved(self, layer: Any, path: str, summary: cx.CorrectionSummary) -> None:
        self.log.saved(layer_id(layer))
        # the file now holds the fix: the layer, no longer "edited", may be reused for another output
        self._undo.saved(layer_id(layer), Path(path).name)
        mark_saved(layer)
        self.result.setText(fu.saved_text(Path(path).name, summary.changed, summary.describe()))
        self._update_buttons()
        self.saved.emit(summary)
