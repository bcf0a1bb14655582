"""Reading a finished output back for display, in a worker thread: its mask and its prepared input.

The input comes as an on-demand :class:`PlaneArray` (first frame ready); the streamer prefetches the next
frames with :func:`prefetch_planes` while the user moves through them.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..io.masks import read_mask
from ..io.reader import open_source
from ..io.sources import PixelSize
from ..params import SegmentationParams
from ..provenance import parse_log
from ._layerops import _quick_range
from ._lazy import PlaneArray, prepared_array
from ._reader import first_frame, yx_scale


@dataclass
class LoadedResult:
    """A finished output read from disk by :func:`load_result` (in a worker thread)."""

    labels: np.ndarray[Any, Any] | None
    image: object = None
    scale: tuple[float, ...] = (1.0, 1.0, 1.0)
    pixel_size: PixelSize = PixelSize()
    mask_path: Path | None = None
    contrast: tuple[float, float] | None = None
    note: str = ""
    #: the input frame the mask's first frame comes from (a frame range sits at this T offset)
    first_frame: int = 0


def load_result(task: Any, mask_path: Path, params: SegmentationParams | None, status: str) -> LoadedResult:
    """Read a finished output: its mask, and its prepared input as an on-demand array (first frame ready).

    Everything that touches the disk happens here, in the calling (worker) thread.
    """
    if not mask_path.exists():
        return LoadedResult(None, note=f"{task.label}: no result to show ({status or 'not run'})")
    mask = read_mask(mask_path)
    labels = mask.labels
    used = params
    with contextlib.suppress(Exception):
        used = parse_log(mask.log_text).params
    start = first_frame(mask.log_text)  # as the reader places it (File > Open)
    image: PlaneArray | np.ndarray[Any, Any] | None = None
    contrast = None
    note = ""
    if used is not None and task.info is not None:
        try:
            frames = task.frame_indices(used)
            if len(frames) == labels.shape[0]:
                start = frames[0]
                from ..prepare import resolve_channels

                source = open_source(task.input, task.axes(used))
                # several channels (Cellpose 4): the input shown is the first one handed to the network
                resolved = resolve_channels(source.info, used.channel)
                channel = resolved if isinstance(resolved, int) else resolved[0]
                image = prepared_array(source, task.position, frames, channel, used.zrange,
                                       used.z_projection)
                _serialize_reads(image)
                contrast = _quick_range(np.asarray(image[0]))  # also caches the first frame
        except Exception as exc:  # noqa: BLE001 - the mask still opens without its input
            note = f"{task.label}: input not shown ({exc})"
    if image is None:
        image = np.zeros(labels.shape, np.float32)
    scale = (1.0, *yx_scale(mask.pixel_size))
    return LoadedResult(labels, image, scale, mask.pixel_size, mask_path, contrast, note, start)


def _serialize_reads(array: PlaneArray) -> None:
    """One read at a time from the array's file (the GUI thread and a prefetching worker share it)."""
    read, lock = array._read, threading.Lock()

    def locked(lead: tuple[int, ...]) -> np.ndarray[Any, Any]:
        with lock:
            return read(lead)

    array._read = locked


def prefetch_planes(array: PlaneArray, indices: list[int]) -> None:
    """Read (prepare) the given frames of a ``(T, Y, X)`` :class:`PlaneArray` into its cache (worker)."""
    for i in indices:
        array.plane((i,))
