"""A streamed output's display buffers: frames stored into them, reused buffers, layers placed along T.

Functions of :class:`._stream.LayerStreamer` on one output's :class:`._buffers.TaskView` and its
layers (found by the streamer); nothing here decides what is shown when (:mod:`napari_batchseg.live`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..events import FrameDone
from ..view.buffers import TaskView
from ._layerops import LABELS_DTYPE, frame_translate, layer_meta

__all__ = ["clear", "new_buffers", "place", "store_frame", "take_over"]


def store_frame(view: TaskView, event: FrameDone, labels_layer: Any) -> None:
    """Store the 2D frame of ``event`` in ``view``'s buffers (a volume it was not made for: noted).

    A frame with ids above 65535 makes the buffer (and ``labels_layer``, the output's layer if any)
    ``uint32`` first.
    """
    slot = 0 if view.latest_only else event.index
    if event.labels is not None and event.labels.ndim == 3:
        view.volume = True  # a volume the buffers were not made for: shown from its mask once written
    elif event.labels is not None and event.labels.shape == view.labels.shape[-2:]:
        if view.labels.dtype == LABELS_DTYPE and event.labels.size and int(event.labels.max()) > 65535:
            view.labels = view.labels.astype(np.uint32)
            if labels_layer is not None:
                labels_layer.data = view.labels
        view.labels[slot] = event.labels
    if event.image is not None and event.image.shape == view.image.shape[-2:]:
        view.image[slot] = event.image


def new_buffers(shape: tuple[int, ...], reused: tuple[Any, Any] | None) -> tuple[Any, Any]:
    """``(labels, image)`` buffers of ``shape``: ``reused`` ones cleared, else new ones.

    (``np.zeros`` maps zeroed memory lazily: a volume run's buffers are always new, clearing a movie of
    volumes would be heavy work on the GUI thread.)
    """
    if reused is None:
        return np.zeros(shape, LABELS_DTYPE), np.zeros(shape, np.float32)
    labels, image = reused
    clear(labels)
    clear(image)
    return labels, image


def clear(buffer: Any) -> None:
    """Zero ``buffer`` frame by frame (along its first axis), writing only the frames that hold something.

    A buffer nothing was stored in (the placeholders' for the first file) costs a read: ``fill(0)`` on
    it would map and zero every page, 60-90 ms on the GUI thread for a 6-frame 700 x 1100 pair (18-25 ms
    measured alone, against 1.2-2.7 ms). A fully written pair (the same file run again) costs 4.1 ms
    instead of 1.8 ms.
    """
    for frame in buffer:
        if frame.any():
            frame.fill(0)


def take_over(view: TaskView, buffers: tuple[Any, Any]) -> None:
    """An output that waited for its turn moves into the shown layers' same-shape ``buffers``."""
    seen = 0 if view.last_index is None else view.last_index + 1  # frames arrive in order
    for old, new in zip(buffers, (view.labels, view.image), strict=True):
        old[:seen] = new[:seen]
        old[seen:] = 0
    view.labels, view.image = buffers


def place(view: TaskView, layers: tuple[Any, ...], first_frame: int) -> None:
    """Move an output's ``layers`` (both: they stay aligned) to T = ``first_frame``."""
    view.first_frame = first_frame
    translate = frame_translate(first_frame, view.t_offset, view.scale[0], len(view.scale))
    for layer in layers:
        if layer is not None and tuple(layer.translate) != translate:
            layer.translate = translate
            layer_meta(layer)["first_frame"] = first_frame
