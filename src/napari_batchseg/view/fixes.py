"""What a correction fix changed (computed off the GUI thread), the record *Undo fix* checks, the log.

Used by ``_napari._correct.CorrectionPanel``: a fix runs on a copy of the layer's array in a worker
(:func:`compute_fix`); the panel keeps a :class:`FixRecord` of the last one, tied to what its layer showed
(the array, its shape, the output named in the layer's ``batchseg`` metadata), so that Undo never writes
into a layer that now shows another output. :class:`OperationLog` keeps what was done to each layer
since its last save, for the mask's log.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import corrections as cx

#: how brush, fill and eraser strokes are counted in the log (one line per run of strokes)
STROKES = "napari brush/fill/eraser: "


def frames_text(frames: list[int] | None) -> str:
    """The frames a fix applies to, as said in its description."""
    if frames is None:
        return "all frames"
    return "frame " + ", ".join(str(f) for f in frames)


#: what a fix computed off the GUI thread: summary, changed frames, their old and new values
FixResult = tuple[cx.CorrectionSummary, tuple[int, ...], NDArray[Any], NDArray[Any]]


def same_output(then: tuple[Any, Any], now: tuple[Any, Any]) -> bool:
    """Whether a layer still shows the output it showed (``None``: not known, e.g. detached or running)."""
    return all(a is None or b is None or a == b for a, b in zip(then, now, strict=True))


def array_ref(data: Any) -> Callable[[], Any]:
    """A reference to a layer's array that does not keep it alive (a reused stream layer drops it)."""
    try:
        return weakref.ref(data)
    except TypeError:  # not weak-referenceable: compare by id (checked together with shape and output)
        ident = id(data)
        return lambda: ident


def same_array(ref: Callable[[], Any], data: Any) -> bool:
    """Whether ``ref`` (see :func:`array_ref`) refers to ``data``."""
    target = ref()
    return target is data or (isinstance(target, int) and target == id(data))


@dataclass
class FixRecord:
    """The last fix, for *Undo fix*: what it changed, and what its layer showed when it was made."""

    layer_id: Any
    output: tuple[Any, Any]  # (task_key, mask_path) of the layer then
    data: Callable[[], Any]  # the array the fix was written into (see array_ref)
    shape: tuple[int, ...]
    frames: NDArray[Any]  # changed frames along T (empty: a 2D layer, the whole array)
    old: NDArray[Any]  # their values before the fix
    new: NDArray[Any]  # and after it (Undo only restores frames that still hold these)
    what: str


def compute_fix(fix: Callable[..., NDArray[Any]], data: NDArray[Any], args: tuple[int, ...],
                 frames: list[int] | None) -> FixResult:
    """Worker thread: apply ``fix`` to a copy of ``data``; return what changed (see :data:`FixResult`)."""
    before = np.array(data)  # a copy: frames still streaming into the layer do not change under the fix
    new = fix(before, *args, frames=frames)
    summary = cx.describe_changes(before, new)
    sel = tuple(summary.frames) if before.ndim == 3 else ()
    if sel:
        return summary, sel, before[list(sel)], new[list(sel)]
    return summary, sel, before, new


def describe_fix(fix_name: str, params: str, ndim: int, frames: list[int] | None) -> str:
    """How a fix is named in the panel, Undo's tooltip and the log: name, parameters, frames."""
    what = fix_name.replace("_", " ") + (f" ({params})" if params else "")
    return what + (f", {frames_text(frames)}" if ndim == 3 else "")


def frame_on_screen(world: float, translate: float, scale: float, n_frames: int) -> int:
    """Index along T of the frame a layer shows at the viewer's ``world`` T position (clipped)."""
    return int(np.clip(round((world - translate) / scale), 0, n_frames - 1))


class OperationLog:
    """The operations on each layer since its last save, one line each (written into the mask's log)."""

    def __init__(self) -> None:
        self.by_layer: dict[Any, list[str]] = {}

    def add(self, layer_id: Any, line: str) -> None:
        """Record one operation."""
        self.by_layer.setdefault(layer_id, []).append(line)

    def stroke(self, layer_id: Any) -> None:
        """Record a brush, fill or eraser stroke (consecutive strokes are counted on one line)."""
        ops = self.by_layer.setdefault(layer_id, [])
        if ops and ops[-1].startswith(STROKES):
            n = int(ops[-1].rsplit(": ", 1)[1].split()[0]) + 1
            ops[-1] = f"{STROKES}{n} stroke(s)"
        else:
            ops.append(f"{STROKES}1 stroke(s)")

    def note(self, layer_id: Any, layer_name: str) -> str:
        """The note saved with the mask: the layer and its operations."""
        ops = self.by_layer.get(layer_id, [])
        text = f"napari layer {layer_name!r}"
        return text + ("; operations: " + "; ".join(ops) if ops else "; operations: none recorded")

    def saved(self, layer_id: Any) -> None:
        """The layer is saved: its operations are in the log now."""
        self.by_layer.pop(layer_id, None)
