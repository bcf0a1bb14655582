"""*Undo fix* of the correction panel, without Qt: the fixes that can be undone, and why not.

:class:`UndoSlot` holds the fixes (:class:`~.fixes.FixRecord`), undone newest first, and, once none is
left, the reason Undo is off (the panel shows it in the button's tooltip). A layer's records are dropped
when it is painted after a fix, when it is saved, when it is closed or shows another output or a reopened
copy, and when the frames of its last fix were edited since; :func:`undo_frames` restores the frames only
while they still hold exactly what the fix wrote. :func:`write_fix` writes a computed fix into a layer's
array in place, and :func:`target_text` is the panel's line naming the layer and the file its corrections
are saved to. The panel's numbers (:data:`CORRECT_FIELDS`), which of its buttons are on
(:func:`correct_buttons`) and its other lines (:func:`fix_failed_text`, :func:`saved_text`) are here too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .fields import Field
from .fixes import FixRecord, FixResult, array_ref, same_array, same_output

__all__ = ["CORRECT_FIELDS", "LAYER_CHANGED", "NOTHING_TO_CHANGE", "NO_MASK_YET", "NO_UNDO", "UndoSlot",
           "correct_buttons", "fix_failed_text", "saved_text", "target_text", "undo_frames", "write_computed",
           "write_fix"]

NO_UNDO = "Undo the last fix (none yet)"
#: a fix that changed nothing; a fix computed for what the layer no longer shows (nothing is written)
NOTHING_TO_CHANGE = "nothing to change"
LAYER_CHANGED = "not applied: the layer changed meanwhile"
#: *Save corrections* on a layer whose run has not written its mask yet
NO_MASK_YET = "this layer has no mask file yet (its run has not finished)"
_LABEL_MAX = 2**31 - 1
#: the Correct tab's numbers: the size of *Remove small*, the labels of *Merge* and *Delete label*
CORRECT_FIELDS = (
    Field("min_size", "int", lo=1, hi=10**7, value=30, tip="Objects with fewer pixels are removed"),
    Field("keep_id", "int", lo=1, hi=_LABEL_MAX, value=1, tip="Label that stays"),
    Field("merge_id", "int", lo=1, hi=_LABEL_MAX, value=2, tip="Label merged into the other one"),
    Field("delete_id", "int", lo=1, hi=_LABEL_MAX, value=1,
          tip="Label to delete (default: the layer's selected label)"),
)


def correct_buttons(layer_id: Any, has_mask: bool, idle: bool, undo_layer_id: Any) -> tuple[bool, bool, bool]:
    """Which of the Correct tab's buttons are on: ``(the fixes, Save corrections, Undo fix)``.

    ``layer_id``: the active Labels layer's (``None``: none); ``has_mask``: it has a mask file to save
    into; ``idle``: no fix or save is running; ``undo_layer_id``: the layer the last fix can be undone on
    (``None``: none). Undo only acts on the active layer.
    """
    fixes = layer_id is not None and idle
    return fixes, fixes and has_mask, fixes and undo_layer_id == layer_id


def fix_failed_text(fix_name: str, exc: BaseException) -> str:
    """What the panel says when a fix failed (a ``ValueError`` is the fix's own words to the user)."""
    return str(exc) if isinstance(exc, ValueError) else f"{fix_name.replace('_', ' ')} failed: {exc}"


def saved_text(file_name: str, changed: bool, described: str) -> str:
    """What the panel says after *Save corrections* (``described``: the summary's description)."""
    return f"saved {file_name}: {described}" if changed else "no changes to save"


def target_text(layer_name: str | None, meta: Mapping[str, Any]) -> str:
    """The panel's line for the target layer: its name and where its corrections are saved (or why not).

    ``meta`` is the layer's ``batchseg`` metadata: ``mask_path``, or ``stale`` when its file was rewritten
    by a later run. ``layer_name`` ``None``: no Labels layer is active.
    """
    if layer_name is None:
        return "select a Labels layer to correct it"
    path, stale = meta.get("mask_path"), meta.get("stale")
    where = (Path(path).name if path else
             f"not saved to its mask: {stale}; File › Save Layers keeps these edits elsewhere"
             if stale else "not saved yet: no mask file to save to")
    return f"layer: {layer_name} — {where}"


def write_fix(data: NDArray[Any], frames: tuple[int, ...], new: NDArray[Any]) -> None:
    """Write a fix's new values into ``data`` in place: the ``frames`` along T, or all of it when none."""
    if frames:
        data[list(frames)] = new
    else:
        data[...] = new


def write_computed(key: Any, output: tuple[Any, Any], data: NDArray[Any], out: FixResult,
                   what: str) -> FixRecord:
    """Write a fix computed by :func:`.fixes.compute_fix` into ``data``; the record that undoes it."""
    _summary, sel, old, new = out
    new = new.astype(data.dtype, copy=False)
    write_fix(data, sel, new)
    return FixRecord(key, output, array_ref(data), tuple(data.shape), np.asarray(sel, dtype=int), old, new,
                     what)


def undo_frames(record: FixRecord, data: NDArray[Any]) -> bool:
    """Restore the frames of ``record`` in ``data`` if they still hold what the fix wrote; say whether."""
    index: Any = list(record.frames) if record.frames.size else Ellipsis
    if not np.array_equal(data[index], record.new):
        return False
    data[index] = record.old
    return True


#: fixes kept for *Undo fix*, newest last (older ones are forgotten first)
UNDO_DEPTH = 20
#: and at most this many bytes of their frames (before and after each fix)
UNDO_BYTES = 1 << 30


def _nbytes(record: FixRecord) -> int:
    return int(record.old.nbytes + record.new.nbytes)


class UndoSlot:
    """The fixes that can be undone, last first (:attr:`record`), else why Undo is off (:attr:`off`).

    Fixes are undone one by one, newest first. Each layer's fixes are forgotten together when one of them
    can no longer be undone (painted, saved, closed, showing another output, frames edited since): an
    older fix of that layer was made on frames the newer one then changed. Fixes of other layers stay.
    At most :data:`UNDO_DEPTH` fixes and :data:`UNDO_BYTES` bytes of frames are kept.
    """

    def __init__(self) -> None:
        self.records: list[FixRecord] = []
        #: why Undo is off (empty when there was nothing to undo)
        self.off = ""

    @property
    def record(self) -> FixRecord | None:
        """The fix *Undo fix* undoes next (``None``: none)."""
        return self.records[-1] if self.records else None

    def hold(self, record: FixRecord | None) -> None:
        """Keep ``record`` as the next fix to undo (``None``: the last one was undone)."""
        if record is None:
            if self.records:
                self.records.pop()
        else:
            self.records.append(record)
            while len(self.records) > UNDO_DEPTH or (
                    len(self.records) > 1 and sum(map(_nbytes, self.records)) > UNDO_BYTES):
                del self.records[0]
        self.off = ""

    def drop(self, why: str) -> None:
        """Forget the last fix and the other fixes of its layer; ``why`` Undo is off (if no fix is left)."""
        rec = self.record
        self._forget_layer(None if rec is None else rec.layer_id, why)

    def _forget_layer(self, layer_id: Any, why: str) -> None:
        self.records = [r for r in self.records if r.layer_id != layer_id]
        if self.record is None:
            self.off = why

    def painted(self, layer_id: Any) -> str | None:
        """Layer ``layer_id`` was painted: its fixes can no longer be undone; return what to say."""
        mine = [r for r in self.records if r.layer_id == layer_id]
        if not mine:
            return None
        # Undo restores whole frames: it would silently erase this stroke (the log would still list it)
        what = mine[-1].what
        self._forget_layer(layer_id, f"the layer was painted after the fix ({what}); undoing it would "
                                     "erase those edits")
        return f"Undo off: painted after {what}"

    def saved(self, layer_id: Any, file_name: str) -> None:
        """Layer ``layer_id`` was saved to ``file_name``: the file and its log now hold its fixes."""
        mine = [r for r in self.records if r.layer_id == layer_id]
        if mine:
            self._forget_layer(layer_id, f"the fix ({mine[-1].what}) is saved in {file_name}")

    def edited_since(self) -> str:
        """The frames of the last fix were edited since: drop it (and its layer's); return the reason."""
        assert self.record is not None
        self.drop(f"the frames of the fix ({self.record.what}) were edited since; undoing it would erase "
                  "those edits")
        return self.off

    def target(self, layers: Iterable[tuple[Any, Any, Any, tuple[Any, Any]]]) -> tuple[Any, str]:
        """The layer the last fix can be undone on, or ``(None, why not)``.

        ``layers``: ``(layer, layer id, array, shown output)`` of the viewer's layers. The layer must still
        show what it showed at the fix: the same array (same shape) and no other output; otherwise the
        fixes of that layer are dropped (they can never apply again), and the next one is tried.
        """
        entries = list(layers)
        while (rec := self.record) is not None:
            found = next((entry for entry in entries if entry[1] == rec.layer_id), None)
            if found is None:
                self.drop(f"the layer of the fix ({rec.what}) was closed")
                continue
            layer, _, data, output = found
            same = same_array(rec.data, data) and tuple(data.shape) == rec.shape
            if not same or not same_output(rec.output, output):
                self.drop(f"the layer of the fix ({rec.what}) now shows another output or a reopened copy")
                continue
            return layer, ""
        return None, self.off

    def tooltip(self, why: str, elsewhere: str | None) -> str:
        """Undo's tooltip: the fix (and ``elsewhere``, the name of its layer when not the active one)."""
        if self.record is None:
            return f"Undo is off: {why}" if why else NO_UNDO
        where = f" (on layer {elsewhere!r}: select it)" if elsewhere is not None else ""
        more = len(self.records) - 1
        after = f"; {more} earlier fix(es) can be undone after it" if more else ""
        return f"Undo: {self.record.what}{where}{after}"
