"""*Undo fix* of the correction panel, without Qt: the last fix while it can be undone, and why not.

:class:`UndoSlot` holds the last :class:`~.fixes.FixRecord` and, once it is dropped, the reason Undo is
off (the panel shows it in the button's tooltip). A record is dropped when its layer is painted after the
fix, when the fix is saved, when its layer is closed or shows another output or a reopened copy, and when
its frames were edited since; :func:`undo_frames` restores the frames only while they still hold exactly
what the fix wrote. :func:`write_fix` writes a computed fix into a layer's array in place, and
:func:`target_text` is the panel's line naming the layer and the file its corrections are saved to.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .fixes import FixRecord, same_array, same_output

__all__ = ["NO_UNDO", "UndoSlot", "target_text", "undo_frames", "write_fix"]

NO_UNDO = "Undo the last fix (none yet)"


def target_text(layer_name: str, meta: Mapping[str, Any]) -> str:
    """The panel's line for the target layer: its name and where its corrections are saved (or why not).

    ``meta`` is the layer's ``batchseg`` metadata: ``mask_path``, or ``stale`` when its file was rewritten
    by a later run.
    """
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


def undo_frames(record: FixRecord, data: NDArray[Any]) -> bool:
    """Restore the frames of ``record`` in ``data`` if they still hold what the fix wrote; say whether."""
    index: Any = list(record.frames) if record.frames.size else Ellipsis
    if not np.array_equal(data[index], record.new):
        return False
    data[index] = record.old
    return True


class UndoSlot:
    """The last fix while it can be undone (:attr:`record`), else why Undo is off (:attr:`off`)."""

    def __init__(self) -> None:
        self.record: FixRecord | None = None
        #: why Undo is off (empty when there was nothing to undo)
        self.off = ""

    def hold(self, record: FixRecord | None) -> None:
        """Keep ``record`` as the fix to undo (``None``: the fix was undone, nothing to undo)."""
        self.record, self.off = record, ""

    def drop(self, why: str) -> None:
        """Forget the last fix; ``why`` Undo is off."""
        self.record, self.off = None, why

    def painted(self, layer_id: Any) -> str | None:
        """Layer ``layer_id`` was painted: the fix on it can no longer be undone; return what to say."""
        rec = self.record
        if rec is None or rec.layer_id != layer_id:
            return None
        # Undo restores whole frames: it would silently erase this stroke (the log would still list it)
        self.drop(f"the layer was painted after the fix ({rec.what}); undoing it would erase those edits")
        return f"Undo off: painted after {rec.what}"

    def saved(self, layer_id: Any, file_name: str) -> None:
        """Layer ``layer_id`` was saved to ``file_name``: the file and its log now hold the fix."""
        rec = self.record
        if rec is not None and rec.layer_id == layer_id:
            self.drop(f"the fix ({rec.what}) is saved in {file_name}")

    def edited_since(self) -> str:
        """The frames of the fix were edited since: drop it; return the reason."""
        assert self.record is not None
        self.drop(f"the frames of the fix ({self.record.what}) were edited since; undoing it would erase "
                  "those edits")
        return self.off

    def target(self, layers: Iterable[tuple[Any, Any, Any, tuple[Any, Any]]]) -> tuple[Any, str]:
        """The layer the last fix can be undone on, or ``(None, why not)``.

        ``layers``: ``(layer, layer id, array, shown output)`` of the viewer's layers. The layer must still
        show what it showed at the fix: the same array (same shape) and no other output; otherwise the
        record is dropped (it can never apply again).
        """
        rec = self.record
        if rec is None:
            return None, self.off
        found = next((entry for entry in layers if entry[1] == rec.layer_id), None)
        if found is None:
            self.drop(f"the layer of the fix ({rec.what}) was closed")
            return None, self.off
        layer, _, data, output = found
        same = same_array(rec.data, data) and tuple(data.shape) == rec.shape
        if not same or not same_output(rec.output, output):
            self.drop(f"the layer of the fix ({rec.what}) now shows another output or a reopened copy")
            return None, self.off
        return layer, ""

    def tooltip(self, why: str, elsewhere: str | None) -> str:
        """Undo's tooltip: the fix (and ``elsewhere``, the name of its layer when not the active one)."""
        if self.record is None:
            return f"Undo is off: {why}" if why else NO_UNDO
        where = f" (on layer {elsewhere!r}: select it)" if elsewhere is not None else ""
        return f"Undo: {self.record.what}{where}"
