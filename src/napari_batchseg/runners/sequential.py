"""One process: the engine as it is, with frame batching when the model is on a GPU."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from .. import engine
from .batching import BatchedFrames

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
