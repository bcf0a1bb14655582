"""A cheap, deterministic stand-in segmenter for tests and runner-overhead benchmarks.

:func:`threshold_segmenter` (a module-level factory, so worker processes and Dask workers can build it)
smooths the plane, thresholds it at mean + 0.5 std and labels connected components. Options come from
``params.extra``: ``delay`` (seconds of sleep per frame, to imitate model compute) and ``crash_on``
(a worker process exits abruptly on a frame whose maximum equals this value, to test crash handling).
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from ..segmenters.base import SegmentOutput


class ThresholdSegmenter:
    """Gaussian smoothing, global threshold, connected components; optionally slowed down."""

    name = "threshold"

    def __init__(self, delay: float = 0.0, crash_on: float | None = None) -> None:
        self.delay = float(delay)
        self.crash_on = crash_on
        self.pid = os.getpid()

    def describe(self) -> dict[str, Any]:
        """Facts for the run log."""
        return {"method": "threshold", "delay": self.delay}

    def segment(self, image: np.ndarray) -> SegmentOutput:
        """Label the bright blobs of one plane."""
        img = np.asarray(image, dtype=np.float32)
        if self.crash_on is not None and float(img.max()) == float(self.crash_on):
            os._exit(3)  # imitate a worker killed by the system
        if self.delay:
            time.sleep(self.delay)
        smooth = ndi.gaussian_filter(img, 1.5)
        mask = smooth > smooth.mean() + 0.5 * smooth.std()
        labels, n = ndi.label(mask)
        return SegmentOutput(labels.astype(np.uint32), info={"objects": int(n)})

    def segment_batch(self, images: list[np.ndarray]) -> list[SegmentOutput]:
        """One by one (no shared compute to batch)."""
        return [self.segment(im) for im in images]


def threshold_segmenter(params: Any) -> ThresholdSegmenter:
    """Factory for :class:`ThresholdSegmenter` reading ``delay``/``crash_on`` from ``params.extra``."""
    extra = getattr(params, "extra", {}) or {}
    return ThresholdSegmenter(delay=extra.get("delay", 0.0), crash_on=extra.get("crash_on"))


def cellpose_batched_segmenter(params: Any) -> Any:
    """The run's Cellpose segmenter, made to batch with :func:`~.batching.cellpose_segment_batch`.

    Its ``segment_batch`` then makes one ``eval`` call per group of frames, whatever its own does.
    """
    import functools

    from ..segmenters import load_segmenter
    from .batching import cellpose_segment_batch

    seg = load_segmenter(params)
    seg.segment_batch = functools.partial(cellpose_segment_batch, seg)  # type: ignore[method-assign]
    return seg
