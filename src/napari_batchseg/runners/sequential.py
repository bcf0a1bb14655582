"""One process: the engine as it is, with mask workers (pipeline) or the batched fast mode when asked."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from .. import engine

if TYPE_CHECKING:
    from ..engine import CancelCheck, Plan, TaskEvent
    from ..segmenters import Segmenter
    from .options import RunOptions


def run_sequential(
    plan: Plan,
    options: RunOptions,
    cancel: CancelCheck = None,
    segmenter: Segmenter | None = None,
    keep_images: bool = False,
) -> Iterator[TaskEvent]:
    """Run every task in this process (reading and writing overlap with compute via a thread).

    ``segmenter`` is loaded by :func:`~napari_batchseg.runners.execute`; it is ``None`` only when no
    task has work.
    """
    from .pipeline import frame_segmenter_for_run

    frame_segmenter = None
    if segmenter is not None:  # mask workers (pipeline), or frames one per call (N with --batch-frames N)
        frame_segmenter = frame_segmenter_for_run(segmenter, options, cancel)
    try:
        yield from engine.run(
            plan,
            segmenter=segmenter,
            cancel=cancel,
            keep_images=keep_images,
            prefetch=options.prefetch or 2,
            frame_segmenter=frame_segmenter,
        )
    finally:
        close = getattr(frame_segmenter, "close", None)
        if close is not None:
            close()  # the mask workers: no process outlives the run
