"""A cheap, deterministic stand-in segmenter for tests and runner-overhead benchmarks.

Worker processes and Dask workers build their segmenter from a factory they import by module path, so
the factory has to live in an importable module: this one. It needs no model and no network.

:func:`threshold_segmenter` builds a :class:`ThresholdSegmenter`: it smooths the plane, thresholds it
at mean + 0.5 std and labels connected components (a real, if crude, segmentation). ``params.extra``
may hold ``delay`` (seconds of sleep per frame, to imitate model compute)::

    from napari_batchseg.runners import RunOptions
    from napari_batchseg.testing import threshold_segmenter

    options = RunOptions(parallel="files", processes=2, segmenter_factory=threshold_segmenter)
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage as ndi

from .segmenters.base import SegmenterBase, SegmentOutput

__all__ = ["ThresholdSegmenter", "threshold_segmenter"]


class ThresholdSegmenter(SegmenterBase):
    """Gaussian smoothing, global threshold, connected components; optionally slowed down.

    Parameters
    ----------
    delay
        Seconds to sleep per frame.
    """

    name = "threshold"
    batch_size = 1

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = float(delay)

    def describe(self) -> dict[str, Any]:
        """Facts for the run log."""
        return {"method": "threshold", "delay": self.delay}

    def segment(self, image: NDArray[Any]) -> SegmentOutput:
        """Label the bright blobs of one plane."""
        img = np.asarray(image, dtype=np.float32)
        if self.delay:
            time.sleep(self.delay)
        smooth = ndi.gaussian_filter(img, 1.5)
        mask = smooth > smooth.mean() + 0.5 * smooth.std()
        labels, n = ndi.label(mask)
        return SegmentOutput(labels.astype(np.uint32), info={"objects": int(n)})


def threshold_segmenter(params: Any) -> ThresholdSegmenter:
    """Factory for :class:`ThresholdSegmenter` reading ``delay`` from ``params.extra``."""
    extra = params.extra or {}
    return ThresholdSegmenter(delay=float(extra.get("delay", 0.0)))
