"""A fast stand-in segmenter for widget tests that are about the GUI, not about Cellpose."""

from __future__ import annotations

import time

import numpy as np
from scipy import ndimage as ndi

from napari_batchseg.segmenters.base import SegmentOutput


class ThresholdSegmenter:
    """Labels connected regions brighter than the frame's mean; optional delay per frame."""

    name = "threshold"

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls = 0

    def describe(self) -> dict:
        return {"method": "threshold (test stand-in)", "device": "cpu"}

    def segment(self, image: np.ndarray) -> SegmentOutput:
        self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        labels, _ = ndi.label(image > image.mean())
        return SegmentOutput(labels.astype(np.uint32))

    def segment_batch(self, images):
        return [self.segment(i) for i in images]


def factory(delay: float = 0.0):
    def make(_params):
        return ThresholdSegmenter(delay)

    return make
