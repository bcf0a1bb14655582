"""One process: the engine as it is, with frame batching when the model is on a GPU."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from .. import engine
from ._worker import build_segmenter, limit_threads
from .batching import BatchedFrames

if TYPE_CHECKING:
    from ..engine import CancelCheck, Event, Plan
    from ..segmenters import Segmenter
    from . import RunOptions


def run_sequential(
    plan: Plan,
    options: RunOptions,
    cancel: CancelCheck = None,
    segmenter: Segmenter | None = None,
    keep_images: bool = False,
) -> Iterator[Event]:
    """Run every task in this process (reading and writing overlap with compute via a thread)."""
    if options.threads_per_process is not None:
        limit_threads(options.threads_per_process)
    if segmenter is None and engine.has_work(plan):  # no model load when everything is skipped
        segmenter = build_segmenter(plan.params, options.segmenter_factory)
        if options.threads_per_process is not None:
            limit_threads(options.threads_per_process)
    frame_segmenter = None
    if segmenter is not None and (options.batch_frames or 1) > 1:
        frame_segmenter = BatchedFrames(segmenter, options.batch_frames or 1)
    yield from engine.run(
        plan,
        segmenter=segmenter,
        cancel=cancel,
        keep_images=keep_images,
        prefetch=options.prefetch or 2,
        frame_segmenter=frame_segmenter,
    )
