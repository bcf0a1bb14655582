"""What a correction fix changed (computed off the GUI thread) and the record *Undo fix* checks.

Used by :class:`._correct.CorrectionPanel`: a fix runs on a copy of the layer's array in a worker
(:func:`compute_fix`); the panel keeps a :class:`FixRecord` of the last one, tied to what its layer showed
(the array, its shape, the output named in the layer's ``batchseg`` metadata), so that Undo never writes
into a layer that now shows another output.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import corrections as cx
from ._layerops import layer_meta


def frames_text(frames: list[int] | None) -> str:
    if frames is None:
        return "all frames"
    return "frame " + ", ".join(str(f) for f in frames)


#: what a fix computed off the GUI thread: summary, changed frames, their old and new values
FixResult = tuple[cx.CorrectionSummary, tuple[int, ...], NDArray[Any], NDArray[Any]]


def shown_output(layer: Any) -> tuple[Any, Any]:
    """``(task_key, mask_path)`` of the output a layer shows, from its ``batchseg`` metadata."""
    meta = layer_meta(layer)
    return meta.get("task_key"), meta.get("mask_path")


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
