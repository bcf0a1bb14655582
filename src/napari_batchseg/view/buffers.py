"""Display buffers of an output being produced: a ``(T, Y, X)`` labels + prepared-input pair per output."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BatchSegError
from ..events import Task
from ..io.sources import PixelSize, SourceInfo
from ..live.volumes import volume_shape, volume_slices
from ..params import SegmentationParams
from .layer_files import axis_scale, tyx_scale

#: above this (labels + image buffers) only the latest frame of an output is kept for display
STACK_LIMIT_BYTES = 2 * 1024**3


@dataclass
class TaskView:
    """Display buffers of one output while it is being produced."""

    key: str
    label: str
    n_frames: int
    labels: np.ndarray[Any, Any]
    image: np.ndarray[Any, Any]
    scale: tuple[float, ...]
    pixel_size: PixelSize
    latest_only: bool = False
    last_index: int | None = None
    frames_seen: int = 0
    #: the input frame the buffer's first frame comes from (the layers sit at this T offset)
    first_frame: int = 0
    #: where the input's frame 0 sits along T (a napari layer's own translate; 0 for files)
    t_offset: float = 0.0
    #: the output's mask once it is on disk (the run's last frame is in)
    mask_path: Path | None = None
    #: the run streams volumes (``z_mode`` 3d/stitch): its layers show the mask file once written
    volume: bool = False


def buffer_shape(info: SourceInfo, n_frames: int) -> tuple[tuple[int, int, int], bool]:
    """``(T, Y, X)`` display shape of an output, and whether only its latest frame is kept."""
    ny, nx = info.sizes["Y"], info.sizes["X"]
    n = max(int(n_frames), 1)
    latest_only = n > 1 and n * ny * nx * 8 > STACK_LIMIT_BYTES
    return ((1 if latest_only else n), ny, nx), latest_only


def first_frame_of(task: Task, params: SegmentationParams | None) -> int:
    """The input frame an output's first frame comes from (the run's start frame; 0 when unknown)."""
    if params is None or task.info is None:
        return 0
    try:
        frames = task.frame_indices(params)
    except BatchSegError:
        return 0
    return frames[0] if frames else 0


def run_n_frames(info: SourceInfo, params: SegmentationParams) -> int:
    """How many frames of a file with ``info`` a run with ``params`` segments (at least 1)."""
    n_t = info.sizes["T"]
    last = n_t - 1 if params.end_frame is None else min(params.end_frame, n_t - 1)
    return max(last - params.start_frame + 1, 1)


def run_first_frame(info: SourceInfo, params: SegmentationParams, plan: Any = None) -> int:
    """The input frame an output's first frame will come from (its T position; 0 when unsure)."""
    if plan is not None and plan.tasks:
        with contextlib.suppress(Exception):  # the streamer places the layers when frames arrive anyway
            return first_frame_of(plan.tasks[0], params)
        return 0
    return params.start_frame if info.sizes["T"] > params.start_frame else 0


def display_shape(info: SourceInfo, n_frames: int,
                  params: SegmentationParams | None) -> tuple[tuple[int, ...], bool]:
    """Display shape of an output (``(T, Y, X)``; ``(T, Z, Y, X)`` for volumes), and whether latest only."""
    n_z = volume_slices(info, params)
    if n_z is None:
        return buffer_shape(info, n_frames)
    return volume_shape(n_frames, n_z, (info.sizes["Y"], info.sizes["X"]), STACK_LIMIT_BYTES)


def display_scale(pixel_size: PixelSize, ndim: int) -> tuple[float, ...]:
    """Layer scale of a stream layer of ``ndim`` dimensions (T in s, Z, Y, X in µm; 1 where unknown)."""
    return axis_scale("TZYX", pixel_size) if ndim == 4 else tyx_scale(pixel_size)
