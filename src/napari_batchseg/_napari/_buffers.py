"""Moved to :mod:`napari_batchseg.view.buffers` (Qt-free); re-exported for the modules importing it here."""

from ..view.buffers import (
    STACK_LIMIT_BYTES,
    TaskView,
    buffer_shape,
    first_frame_of,
    run_first_frame,
    run_n_frames,
)

__all__ = ["STACK_LIMIT_BYTES", "TaskView", "buffer_shape", "first_frame_of", "run_first_frame",
           "run_n_frames"]
