"""Track a label movie: objects frame by frame, links by the chosen method, tracks and relabelled frames.

:func:`track_stack` works on any frame reader (a lazily opened mask file, an array) and keeps only the
object table in memory; :func:`track_masks` is the array front door and also returns the relabelled
movie, where one cell keeps one value (its ``track_id``) in every frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..io.sources import PixelSize
from .base import OBJECT_COLUMNS, FrameReader, TrackingError, TrackParams
from .lineage import assign_tracks
from .objects import frame_objects
from .registry import get_tracker

__all__ = ["TRACK_COLUMNS", "TrackResult", "track_masks", "track_stack"]

#: Columns of the tracks table, in order (``time_s`` only when the time step is known).
TRACK_COLUMNS: tuple[str, ...] = (
    "track_id", "parent_track_id", "frame", "time_s", "label", "area_px", "centroid_y_px",
    "centroid_x_px", "centroid_y_um", "centroid_x_um",
)


@dataclass
class TrackResult:
    """Tracks of a movie.

    Attributes
    ----------
    tracks
        One row per object per frame: :data:`TRACK_COLUMNS` (``frame`` is the input frame: the mask's
        frame index plus ``start_frame``; ``time_s`` = ``frame`` x the time step, only when known).
    params
        The parameters used.
    versions
        Versions of the tracking libraries used.
    n_frames
        Frames in the movie.
    start_frame
        Input frame of the mask's first frame.
    labels
        The relabelled movie ``(T, Y, X)`` (:func:`track_masks`; ``None`` from :func:`track_stack`).
    """

    tracks: pd.DataFrame
    params: TrackParams
    versions: dict[str, str]
    n_frames: int
    start_frame: int = 0
    labels: NDArray[Any] | None = None
    _maps: dict[int, tuple[NDArray[Any], NDArray[Any]]] = field(default_factory=dict, repr=False)

    @property
    def n_tracks(self) -> int:
        """Number of tracks."""
        return int(self.tracks["track_id"].nunique())

    @property
    def max_track_id(self) -> int:
        """Largest track id (0 when there is none)."""
        return int(self.tracks["track_id"].max()) if len(self.tracks) else 0

    def relabel(self, index: int, labels: NDArray[Any]) -> NDArray[Any]:
        """Mask frame ``index`` with each object's label replaced by its track id (background 0)."""
        if not self._maps:
            for frame, group in self.tracks.groupby("frame"):
                self._maps[int(frame) - self.start_frame] = (
                    group["label"].to_numpy(np.int64), group["track_id"].to_numpy(np.int64))
        arr = np.asarray(labels)
        out_dtype = np.uint32 if self.max_track_id > np.iinfo(np.uint16).max else np.uint16
        if index not in self._maps:
            return np.zeros(arr.shape, dtype=out_dtype)
        src, dst = self._maps[index]
        top = int(arr.max()) if arr.size else 0
        if top <= 1 << 20:  # a lookup table indexed by label
            lut = np.zeros(top + 1, dtype=out_dtype)
            keep = src <= top
            lut[src[keep]] = dst[keep]
            lut[0] = 0
            mapped: NDArray[Any] = lut[arr]
            return mapped
        order = np.argsort(src)
        src, dst = src[order], dst[order]
        pos = np.clip(np.searchsorted(src, arr), 0, len(src) - 1)
        hit = src[pos] == arr
        return np.where(hit & (arr > 0), dst[pos], 0).astype(out_dtype)


def _validate_movie(n_frames: int, where: str) -> None:
    if n_frames < 2:
        raise TrackingError(f"{where}: {n_frames} frame(s): tracking needs a time-lapse of 2 frames or more")


def as_pixel_size(value: object) -> PixelSize:
    """A :class:`PixelSize` of ``value``; anything else than the kinds below is a :class:`TypeError`.

    ``value``: a :class:`PixelSize`, ``(y, x)`` in µm (as ``measure_labels`` takes it), one number (square
    pixels) or ``None`` (unknown).
    """
    if isinstance(value, PixelSize):
        return value
    if value is None:
        return PixelSize()
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return PixelSize(x=float(value), y=float(value))
    if isinstance(value, (tuple, list, np.ndarray)) and len(value) == 2:  # (a list was read as (y, x))
        y, x = value
        return PixelSize(x=None if x is None else float(x), y=None if y is None else float(y))
    raise TypeError(f"pixel_size must be a PixelSize, (y, x) or one number (µm), not {value!r}")


def track_stack(
    frames: FrameReader,
    n_frames: int,
    params: TrackParams | None = None,
    pixel_size: PixelSize | tuple[float | None, float | None] | float | None = None,
    start_frame: int = 0,
    images: FrameReader | None = None,
    where: str = "labels",
    progress: Callable[[int, int], None] | None = None,
) -> TrackResult:
    """Track the objects of ``n_frames`` label frames read one at a time by ``frames(i)``.

    Parameters
    ----------
    frames
        ``frames(i)`` -> the ``(Y, X)`` labels of frame ``i`` (any integer ids; 0 is background).
    n_frames
        Number of frames (2 or more).
    params
        Method, ``max_distance`` (px), ``gap_frames``, ``divisions`` (default :class:`TrackParams`).
    pixel_size
        Pixel size (µm) and time step (s), for the µm and ``time_s`` columns (NaN / absent when unknown);
        also ``(y, x)`` in µm or one number (square pixels), without a time step (:func:`as_pixel_size`).
    start_frame
        Input frame of frame 0 (``frame`` column = index + ``start_frame``).
    images
        ``images(i)`` -> the intensity frame ``i`` (trackastra needs it; laptrack does not).
    where
        Name of the input in error messages (a file path).
    progress
        ``progress(done, total)`` after each frame is measured.

    Raises
    ------
    TrackingError
        One frame only, a frame that is not 2D, a label used for two objects in one frame.
    TrackingModelError
        The method's model (trackastra weights) is missing.
    """
    params = params or TrackParams()
    _validate_movie(n_frames, where)
    tracker = get_tracker(params.method)
    tracker.check(params)
    tables = []
    for i in range(n_frames):
        tables.append(frame_objects(frames(i), i, where, input_frame=i + start_frame))
        if progress is not None:
            progress(i + 1, n_frames)
    objects = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=OBJECT_COLUMNS)
    links = tracker.link(objects, params, frames, n_frames, images)
    tracks = assign_tracks(objects, links)
    ps = as_pixel_size(pixel_size)
    tracks["frame"] = tracks["frame"] + start_frame
    if ps.t is not None:
        tracks["time_s"] = tracks["frame"] * float(ps.t)
    tracks["centroid_y_um"] = tracks["centroid_y_px"] * (ps.y if ps.y is not None else np.nan)
    tracks["centroid_x_um"] = tracks["centroid_x_px"] * (ps.x if ps.x is not None else np.nan)
    tracks = tracks[[c for c in TRACK_COLUMNS if c in tracks.columns]]
    return TrackResult(tracks, params, tracker.versions(), n_frames, start_frame)


def track_masks(
    masks: NDArray[Any],
    max_distance: float = 20.0,
    gap_frames: int = 0,
    divisions: bool = True,
    method: str = "laptrack",
    pixel_size: PixelSize | tuple[float | None, float | None] | float | None = None,
    images: NDArray[Any] | None = None,
    start_frame: int = 0,
    model: str = "general_2d",
    daughter_share: float = 0.8,
) -> TrackResult:
    """Track the objects of a ``(T, Y, X)`` label movie; the result holds the relabelled movie too.

    Parameters
    ----------
    masks
        Integer labels ``(T, Y, X)``, T >= 2 (ids need not be sequential; 0 is background).
    max_distance, gap_frames, divisions, method, model, daughter_share
        See :class:`TrackParams`.
    pixel_size, start_frame
        See :func:`track_stack`.
    images
        ``(T, Y, X)`` intensity movie (trackastra only).

    Returns
    -------
    TrackResult
        ``tracks`` (one row per object per frame) and ``labels`` (the movie relabelled by track id).

    Raises
    ------
    TrackingError
        Not ``(T, Y, X)`` (3D masks are refused), one frame, a label used for two objects in a frame.
    """
    arr = np.asarray(masks)
    if arr.ndim != 3:
        raise TrackingError(f"labels of shape {arr.shape}: tracking needs a (T, Y, X) movie "
                            "(3D (Z) masks are not tracked)")
    params = TrackParams(max_distance=max_distance, gap_frames=gap_frames, divisions=divisions,
                         method=method, model=model, daughter_share=daughter_share)
    reader_images = None if images is None else (lambda i: np.asarray(images)[i])
    result = track_stack(lambda i: arr[i], arr.shape[0], params, pixel_size, start_frame, reader_images)
    result.labels = np.stack([result.relabel(i, arr[i]) for i in range(arr.shape[0])])
    return result
