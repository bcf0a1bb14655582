"""Finished outputs read back for display: the mask, and its input prepared as the run prepared it.

:func:`load_result` reads a finished ``_vSM.ome.tif`` (in the caller's thread: a front end calls it
off its GUI thread) and its input as an on-demand :func:`prepared_array` (channel chosen and Z
projected as the mask's log says; only the first frame is read). :func:`prefetch_planes` prepares
more frames into that array's cache. No Qt here: the napari widget shows what this returns.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .events import Task
from .io.lazy import Owner, PlaneArray
from .io.masks import read_mask
from .io.reader import open_source
from .io.sources import ImageSource, PixelSize
from .params import SegmentationParams, ZRange
from .prepare import prepare_frame, resolve_channels
from .prepare_3d import volume_z
from .provenance import POSITION_PREFIX, parse_log, segmentation_run

__all__ = ["LoadedResult", "first_frame", "first_z_slice", "load_result", "logged_position",
           "logged_position_name", "prefetch_planes", "prepared_array", "quick_range"]

_FRAMES_RECORD = re.compile(r"\| frames: (\d+)-(\d+) \(")
_POSITION_RECORD = re.compile(r"\| " + re.escape(POSITION_PREFIX) + r"(\d+) of ")


def logged_position(log_text: str) -> int:
    """The position (field of view) of the input a mask comes from, by its log (0 if it says none)."""
    found = _POSITION_RECORD.findall(log_text)
    return int(found[0]) if found else 0


def logged_position_name(log_text: str) -> str | None:
    """The name of that position (a well, a scene) by the log (``None`` if it names none)."""
    with contextlib.suppress(ValueError, KeyError, TypeError):
        return segmentation_run(log_text).position_name
    return None


def first_frame(log_text: str) -> int:
    """The input frame a mask's first frame comes from (its log's ``frames: a-b`` record; 0 if none)."""
    found = _FRAMES_RECORD.findall(log_text)
    return int(found[-1][0]) if found else 0


def first_z_slice(log_text: str) -> int:
    """The input slice a volume mask's first slice comes from (its log's ``z_range``; 0 if none)."""
    with contextlib.suppress(ValueError, KeyError, TypeError):
        return ZRange.parse(parse_log(log_text).params.z_range).first_volume_slice
    return 0


def quick_range(image: NDArray[Any]) -> tuple[float, float]:
    """Display limits of an image (0.5 and 99.8 percentiles of a subsample of at most ~256x256)."""
    step = max(1, max(image.shape) // 256)
    sample = np.asarray(image)[::step, ::step]
    lo, hi = (float(v) for v in np.percentile(sample, (0.5, 99.8)))
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi


def prepared_array(
    source: ImageSource,
    position: int,
    frames: Sequence[int],
    channel: int,
    zrange: ZRange,
    projection: str,
) -> PlaneArray:
    """``(T, Y, X)`` float32 of the prepared (channel-chosen, Z-projected) frames, computed on demand."""
    info = source.info
    frames = list(frames)
    owner = Owner(source)

    def read(lead: tuple[int, ...]) -> NDArray[Any]:
        return prepare_frame(owner.source, position, frames[lead[0]], channel, zrange, projection).image

    return PlaneArray([len(frames)], (info.sizes["Y"], info.sizes["X"]), np.float32, read,
                      close=source.close)


@dataclass
class LoadedResult:
    """A finished output read from disk by :func:`load_result`."""

    labels: np.ndarray[Any, Any] | None
    image: object = None
    scale: tuple[float, ...] = (1.0, 1.0, 1.0)
    pixel_size: PixelSize = PixelSize()
    mask_path: Path | None = None
    contrast: tuple[float, float] | None = None
    note: str = ""
    #: the input frame the mask's first frame comes from (a frame range sits at this T offset)
    first_frame: int = 0
    #: the input slice a volume mask's first slice comes from (a Z range sits at this Z offset)
    first_z: int = 0


def load_result(task: Task, mask_path: Path, params: SegmentationParams | None, status: str) -> LoadedResult:
    """Read a finished output: its mask, and its prepared input as an on-demand array (first frame ready).

    The input is prepared with the parameters of the mask's own log (``params`` when it has none).
    Everything that touches the disk happens here, in the calling thread.
    """
    if not mask_path.exists():
        return LoadedResult(None, note=f"{task.label}: no result to show ({status or 'not run'})")
    mask = read_mask(mask_path)
    labels = mask.labels
    used = params
    with contextlib.suppress(Exception):
        used = parse_log(mask.log_text).params
    if mask.is_volume:
        return _volume_result(task, mask_path, labels, mask.pixel_size, mask.log_text, used)
    start = first_frame(mask.log_text)  # as the reader places it (File > Open)
    image: PlaneArray | np.ndarray[Any, Any] | None = None
    contrast = None
    note = ""
    if used is not None and task.info is not None:
        try:
            frames = task.frame_indices(used)
            if len(frames) == labels.shape[0]:
                start = frames[0]
                source = open_source(task.input, task.axes(used), dataset=used.dataset)
                # several channels (Cellpose 4): the input shown is the first one handed to the network
                resolved = resolve_channels(source.info, used.channel)
                channel = resolved if isinstance(resolved, int) else resolved[0]
                image = prepared_array(source, task.position, frames, channel, used.zrange,
                                       used.z_projection)
                _serialize_reads(image)
                contrast = quick_range(np.asarray(image[0]))  # also caches the first frame
        except Exception as exc:  # noqa: BLE001 - the mask still opens without its input
            note = f"{task.label}: input not shown ({exc})"
    if image is None:
        image = np.zeros(labels.shape, np.float32)
    ps = mask.pixel_size
    scale = (ps.t or 1.0, ps.y or 1.0, ps.x or 1.0)  # as the reader: T in s when the step is known
    return LoadedResult(labels, image, scale, ps, mask_path, contrast, note, start)


def _volume_result(task: Task, mask_path: Path, labels: NDArray[Any], ps: PixelSize, log_text: str,
                   used: SegmentationParams | None) -> LoadedResult:
    """A ``TZYX`` mask (``z_mode`` 3d/stitch) and its input's slices, an on-demand ``(T, Z, Y, X)`` array."""
    start, image, contrast, note = first_frame(log_text), None, None, ""
    if used is not None and task.info is not None:
        try:
            frames = task.frame_indices(used)
            source = open_source(task.input, task.axes(used))
            zs = volume_z(source.info, used.zrange)
            channel = resolve_channels(source.info, used.channel)
            c = channel if isinstance(channel, int) else channel[0]
            if (len(frames), len(zs)) != labels.shape[:2]:
                source.close()
                raise ValueError(f"mask is {labels.shape[:2]} (T, Z), the log's input gives "
                                 f"{(len(frames), len(zs))}")
            start = frames[0]

            def read(lead: tuple[int, ...]) -> NDArray[Any]:
                plane = source.read_plane(task.position, frames[lead[0]], c, zs[lead[1]])
                return np.asarray(plane, np.float32)

            yx = (int(labels.shape[2]), int(labels.shape[3]))
            image = PlaneArray(labels.shape[:2], yx, np.float32, read, close=source.close)
            _serialize_reads(image)
            contrast = quick_range(np.asarray(image[0, labels.shape[1] // 2]))
        except Exception as exc:  # noqa: BLE001 - the mask still opens without its input
            note = f"{task.label}: input not shown ({exc})"
    scale = (ps.t or 1.0, ps.z or 1.0, ps.y or 1.0, ps.x or 1.0)
    return LoadedResult(labels, image if image is not None else np.zeros(labels.shape, np.float32), scale,
                        ps, mask_path, contrast, note, start, first_z_slice(log_text))


def _serialize_reads(array: PlaneArray) -> None:
    """One read at a time from the array's file (a display thread and a prefetching one share it)."""
    read, lock = array._read, threading.Lock()

    def locked(lead: tuple[int, ...]) -> np.ndarray[Any, Any]:
        with lock:
            return read(lead)

    array._read = locked


def prefetch_planes(array: PlaneArray, indices: list[int]) -> None:
    """Read (prepare) the given frames of a ``(T, Y, X)`` :class:`PlaneArray` into its cache."""
    for i in indices:
        array.plane((i,))
