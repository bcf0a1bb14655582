"""How one task of a volume run (``z_mode`` 3d / stitch) prepares and segments its frames.

:func:`plan_volume` checks the file (a Z stack, one channel), fixes the Z slices and the anisotropy (said
in the log) and gives a :class:`VolumeRun`; the engine then reads one ``(Z, Y, X)`` volume per time point
(:meth:`VolumeRun.prepare`) and hands it to the segmenter's ``segment_volume``
(:meth:`VolumeRun.frame_segmenter`). Masks are ``TZYX``, written one volume at a time.

What ``3d`` means depends on the method (the log says it): Cellpose's ``do_3D`` with the anisotropy,
or micro-sam's slice-wise segmentation merged across Z (no anisotropy). ``stitch`` is Cellpose's.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import InputError
from .io.sources import ImageSource, SourceInfo
from .params import ParameterError, SegmentationParams
from .prepare import PreparedFrame
from .prepare_3d import (
    PreparedVolume,
    check_volume,
    is_volume_mode,
    prepare_volume,
    resolve_anisotropy,
    volume_z,
)
from .segmenters.base import SegmentOutput, VolumeSegmenter, refuse_volume

if TYPE_CHECKING:
    from .events import Task
    from .segmenters import Segmenter

__all__ = ["VolumeRun", "plan_volume"]


@dataclass(frozen=True)
class VolumeRun:
    """The volume settings of one task: mode, slices, anisotropy (and how it was chosen)."""

    mode: str
    z_used: tuple[int, ...]
    shape_zyx: tuple[int, int, int]
    channel: int
    anisotropy: float | None
    stitch_threshold: float
    note: str

    def prepare(self, source: ImageSource, position: int, t: int) -> PreparedVolume:
        """Read and prepare the volume of frame ``t`` (only its slices)."""
        return prepare_volume(source, position, t, self.channel, list(self.z_used), self.anisotropy)

    @contextlib.contextmanager
    def unbuffered(self, produce: Callable[[], Iterator[PreparedFrame]]) -> Iterator[Iterator[PreparedFrame]]:
        """The frames of ``produce`` read one at a time, when the segmenter asks (no read-ahead).

        A prefetching thread would hold the next volumes while one is segmented; for volumes the read
        is small beside the segmentation, and memory stays at one volume's working set.
        """
        frames = produce()
        try:
            yield frames
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()

    def frame_segmenter(
        self, segmenter: Segmenter | None
    ) -> _VolumeFrames:
        """The engine's frame segmenter for volumes: ``segment_volume`` on each, in this thread.

        Raises :class:`~.params.ParameterError` when there is no segmenter in this process (frames
        handed to worker processes) or it does not offer the mode.
        """
        if segmenter is None:
            raise ParameterError(
                f"z_mode {self.mode!r}: volumes are segmented one at a time in the process that reads "
                "them; use --parallel none or files"
            )
        if not isinstance(segmenter, VolumeSegmenter) or self.mode not in segmenter.volume_modes:
            offered = segmenter.volume_modes if isinstance(segmenter, VolumeSegmenter) else ()
            raise refuse_volume(segmenter.name, self.mode, offered)
        return _VolumeFrames(segmenter, self)


class _VolumeFrames:
    """Segment prepared volumes one by one with ``segment_volume``; yield ``(frame, output, seconds)``."""

    def __init__(self, segmenter: VolumeSegmenter, run: VolumeRun) -> None:
        self.segmenter = segmenter
        self.run = run

    def __call__(
        self, task: Task, frames: Iterable[PreparedFrame]
    ) -> Iterator[tuple[PreparedFrame, SegmentOutput, float]]:
        key = f"{task.input}|P{task.position}"  # recorded with cached embeddings (keyed by their pixels)
        for frame in frames:
            self.segmenter.set_context(key, f"T{frame.t}")
            t0 = time.perf_counter()
            anisotropy = frame.anisotropy if isinstance(frame, PreparedVolume) else self.run.anisotropy
            out = self.segmenter.segment_volume(frame.image, self.run.mode, anisotropy,
                                                self.run.stitch_threshold)
            if out.labels.shape != frame.image.shape:
                raise RuntimeError(
                    f"segment_volume returned labels of shape {out.labels.shape} for a volume of "
                    f"{frame.image.shape}"
                )
            yield frame, out, time.perf_counter() - t0
            del frame, out  # one volume and its labels at a time


def plan_volume(
    info: SourceInfo, params: SegmentationParams, channel: int | tuple[int, ...]
) -> VolumeRun | None:
    """The :class:`VolumeRun` of a file, or ``None`` for ``z_mode`` project.

    Raises :class:`~.errors.InputError` (one line naming the file) for a file without Z, a Z range of
    one slice, or several channels.
    """
    if not is_volume_mode(params):
        return None
    check_volume(info, params)
    if isinstance(channel, tuple):
        raise InputError(
            f"{info.path}: --z-mode {params.z_mode} segments one channel; {len(channel)} were given"
        )
    zs = volume_z(info, params.zrange)
    anisotropy, how = resolve_anisotropy(info, params)
    if params.z_mode == "3d" and params.method == "sam":
        anisotropy = None  # micro-sam segments the slices at their own size: no anisotropy to apply
        note = (f"z mode 3d (micro-sam: each slice in 2D, objects merged across Z by micro-sam's "
                f"automatic_3d_segmentation; anisotropy not used) over {len(zs)} slice(s) {zs[0]}-{zs[-1]}")
    elif params.z_mode == "3d":
        note = f"z mode 3d (Cellpose do_3D) over {len(zs)} slice(s) {zs[0]}-{zs[-1]}; {how}"
    else:
        note = (f"z mode stitch (2D per slice, stitch threshold {params.stitch_threshold:g}) over "
                f"{len(zs)} slice(s) {zs[0]}-{zs[-1]}")
    shape = (len(zs), info.sizes["Y"], info.sizes["X"])
    return VolumeRun(params.z_mode, tuple(zs), shape, channel, anisotropy, params.stitch_threshold, note)
