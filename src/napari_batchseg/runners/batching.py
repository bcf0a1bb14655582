"""Hand a segmenter several frames at once (the batched fast mode, ``--batch-frames N``).

On a CPU the masks are the same as one frame at a time (tested). On a GPU they can differ in a few
pixels: the network's outputs change in the last float bits with the batch shape (measured on an H200,
docs/performance.md "GPU"). So one frame per call is the default on every device
(:func:`~.options.frames_per_call`), more is a fast mode asked for by name, and the run log records
the frames per call (``frames_per_call``) and, when batched, ``fast_mode``.

:class:`BatchedFrames` is an engine :data:`~..engine.FrameSegmenter`: it groups consecutive prepared
frames of equal shape (up to ``batch_frames``) and hands each group to the segmenter's
:meth:`~..segmenters.Segmenter.segment_batch`. Frames keep their order; a group never mixes shapes.
How a group is segmented (one network call for Cellpose) is the segmenter's business; a segmenter
whose :attr:`~..segmenters.Segmenter.batch_size` is 1 (no benefit from grouping) gets its frames one
by one. Before each call the segmenter is told which file and frame(s) it is about
(:meth:`~..segmenters.Segmenter.set_context`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ..engine import file_key

if TYPE_CHECKING:
    from ..engine import Task
    from ..prepare import PreparedFrame
    from ..segmenters import Segmenter, SegmentOutput

__all__ = ["BatchedFrames", "frames_described"]

#: what the run log says when frames are batched (masks may then differ on a GPU)
FAST_MODE = "batched: several frames per network call; on a GPU masks may differ from frame-by-frame eval"


def frames_described(batch_frames: int) -> dict[str, Any]:
    """The log's record of frames per network call: ``frames_per_call``, and ``fast_mode`` when > 1."""
    out: dict[str, Any] = {"frames_per_call": batch_frames}
    if batch_frames > 1:
        out["fast_mode"] = FAST_MODE
    return out


class BatchedFrames:
    """A frame segmenter that calls ``segmenter.segment_batch`` on groups of equal-shape frames.

    Parameters
    ----------
    segmenter
        A loaded segmenter. One whose ``batch_size`` is 1 gets its frames one by one.
    batch_frames
        Largest group (frames); ``1`` segments frame by frame.
    """

    def __init__(self, segmenter: Segmenter, batch_frames: int) -> None:
        self.segmenter = segmenter
        self.batch_frames = max(1, int(batch_frames)) if segmenter.batch_size > 1 else 1

    def describe(self) -> dict[str, Any]:
        """The segmenter's own description and the frames per call (for the run log)."""
        return {**self.segmenter.describe(), **frames_described(self.batch_frames)}

    def __call__(
        self, task: Task, frames: Iterable[PreparedFrame]
    ) -> Iterator[tuple[PreparedFrame, SegmentOutput, float]]:
        """Segment ``frames`` of ``task`` in groups; yield ``(frame, output, seconds)`` in order."""
        key = file_key(task)
        group: list[PreparedFrame] = []
        for frame in frames:
            if group and frame.image.shape != group[0].image.shape:
                yield from self._run(key, group)
                group = []
            group.append(frame)
            if len(group) >= self.batch_frames:  # full: segment now, before asking for the next frame
                yield from self._run(key, group)  # (a cancel between frames then stops at once)
                group = []
        if group:
            yield from self._run(key, group)

    def _run(
        self, key: str, group: list[PreparedFrame]
    ) -> Iterator[tuple[PreparedFrame, SegmentOutput, float]]:
        if len(group) == 1:
            frame = group[0]
            self.segmenter.set_context(key, f"T{frame.t}")
            t0 = time.perf_counter()
            out = self.segmenter.segment(frame.image)
            yield frame, out, time.perf_counter() - t0
            return
        self.segmenter.set_context(key, f"T{group[0].t}-T{group[-1].t}")
        t0 = time.perf_counter()
        outs = self.segmenter.segment_batch([f.image for f in group])
        each = (time.perf_counter() - t0) / len(group)
        if len(outs) != len(group):
            raise RuntimeError(f"segment_batch returned {len(outs)} results for {len(group)} frames")
        for frame, out in zip(group, outs, strict=True):
            yield frame, out, each
