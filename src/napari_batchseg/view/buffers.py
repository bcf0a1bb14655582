"""Display buffers of an output being produced: a ``(T, Y, X)`` labels + prepared-input pair per output.

Their shapes, the frames stored into them, reused buffers, and the stream layers placed along T
(layer-like objects: no napari import).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BatchSegError
from ..events import FrameDone, Task
from ..io.sources import PixelSize, SourceInfo
from ..live.volumes import volume_shape, volume_slices
from ..params import SegmentationParams
from ..results import quick_range
from .layer_files import axis_scale, layer_meta, tyx_scale
from .stream_layers import reusable_pair

AXES = ("T", "Y", "X")
#: the axes of a volume output's layers (``z_mode`` 3d/stitch)
VOLUME_AXES = ("T", "Z", "Y", "X")
#: display buffers hold labels as uint16: napari draws uint8/uint16 labels directly, while uint32 ones
#: go through a colour-index mapping that costs ~20 ms per 700 x 1100 frame on the GUI thread. A frame
#: with ids above 65535 switches its buffer to uint32 (the values shown are always the values saved).
LABELS_DTYPE = np.uint16
#: above this (labels + image buffers) only the latest frame of an output is kept for display
STACK_LIMIT_BYTES = 2 * 1024**3


@dataclass
class TaskView:
    """Display buffers of one output while it is being produced."""

    key: str
    label: str
    n_frames: int
    labels: np.ndarray[Any, Any]
    #: (a result reopened from its file: an on-demand array of its prepared input)
    image: Any
    scale: tuple[float, ...]
    pixel_size: PixelSize
    latest_only: bool = False
    last_index: int | None = None
    frames_seen: int = 0
    #: the input frame the buffer's first frame comes from (the layers sit at this T offset)
    first_frame: int = 0
    #: where the input's frame 0 sits along T (a napari layer's own translate; 0 for files)
    t_offset: float = 0.0
    #: the input slice the buffers' first Z slice comes from (a volume run's Z range; the layers sit there)
    first_z: int = 0
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


def first_slice_of(params: SegmentationParams | None, ndim: int) -> int:
    """The input slice the first Z slice of an output of ``ndim`` display axes comes from (0: no Z axis)."""
    return params.zrange.first_volume_slice if ndim == len(VOLUME_AXES) and params is not None else 0


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


def placeholder_geometry(first: SourceInfo | None, params: SegmentationParams | None,
                         plan: Any = None) -> tuple[tuple[int, ...], tuple[float, ...], int, int]:
    """``(shape, scale, first_frame, first_z)`` of the placeholder layers made for a run before it starts.

    Shaped and placed for the output of ``first`` (the first file listed) with ``params`` (defaults when
    ``None``) and ``plan`` (if known), so that the first output reuses them; one pixel when no file is.
    """
    if first is None:
        return (1, 1, 1), (1.0, 1.0, 1.0), 0, 0
    params = params or SegmentationParams()
    shape = display_shape(first, run_n_frames(first, params), params)[0]
    return (shape, display_scale(first.pixel_size, len(shape)), run_first_frame(first, params, plan),
            first_slice_of(params, len(shape)))


# ---------------------------------------------------------------- the buffers' contents and placement
def is_buffer(data: object, shape: tuple[int, ...], dtype: Any) -> bool:
    """Whether ``data`` is a NumPy buffer of ``shape`` and ``dtype`` (one to reuse in place)."""
    return isinstance(data, np.ndarray) and data.shape == tuple(shape) and data.dtype == dtype


def layer_axes(ndim: int) -> tuple[str, ...]:
    """The axes of a stream layer of ``ndim`` dimensions: ``T Y X``, or ``T Z Y X`` for volumes."""
    return VOLUME_AXES if ndim == len(VOLUME_AXES) else AXES


def frame_translate(view: TaskView) -> tuple[float, ...]:
    """``translate`` of the ``T Y X`` (``T Z Y X``) layers of ``view``: over its input's frames and slices.

    At its first frame and slice (``first_frame``, ``first_z``: as the reader places a mask file), plus
    ``t_offset`` along T (where the input's frame 0 sits: a napari layer's own ``translate``).
    """
    scale = view.scale
    z = (float(view.first_z) * float(scale[1]),) if len(scale) == len(VOLUME_AXES) else ()
    return (float(view.first_frame) * float(scale[0]) + float(view.t_offset), *z, 0.0, 0.0)


def same_buffers(layers: Any, key: str, viewed: str | None, shape: tuple[int, ...],
                 labels_dtype: Any = LABELS_DTYPE) -> tuple[Any, Any] | None:
    """Data of the layers to show ``key`` in if buffers of ``shape`` (reused in place), else ``None``.

    The layers are those of :func:`~.stream_layers.reusable_pair` among ``layers``.
    """
    labels, image = reusable_pair(layers, key, viewed)
    if (labels is not None and image is not None and is_buffer(labels.data, shape, labels_dtype)
            and is_buffer(image.data, shape, np.float32)):
        return labels.data, image.data
    return None


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


def latest_contrast(view: TaskView | None) -> tuple[float, float] | None:
    """Display limits of the newest frame stored in ``view`` (``None``: no view, or no frame stored yet).

    The image layer's contrast when it shows ``view``'s output a turn after its labels (an output that
    waited for its turn: its frames arrived meanwhile).
    """
    if view is not None and view.frames_seen and view.last_index is not None:
        return quick_range(view.image[view.last_index])
    return None


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
    """Move an output's ``layers`` (both: they stay aligned) to T = ``first_frame`` (Z: ``view.first_z``)."""
    view.first_frame = first_frame
    translate = frame_translate(view)
    for layer in layers:
        if layer is not None and tuple(layer.translate) != translate:
            layer.translate = translate
            layer_meta(layer)["first_frame"] = first_frame
