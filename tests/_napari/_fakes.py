"""A fast stand-in segmenter for widget tests that are about the GUI, not about Cellpose."""

from __future__ import annotations

import time

import numpy as np
from scipy import ndimage as ndi

from napari_batchseg.segmenters.base import SegmenterBase, SegmentOutput


class ThresholdSegmenter(SegmenterBase):
    """Labels connected regions brighter than the frame's mean; optional delay per frame."""

    name = "threshold"
    batch_size = 1

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

    def set_context(self, file_key: str, frame_key: str) -> None:
        """No per-image cache: nothing to name."""


def factory(delay: float = 0.0):
    def make(_params):
        return ThresholdSegmenter(delay)

    return make


class TorchLoopSegmenter(ThresholdSegmenter):
    """A frame takes ``seconds`` of small torch operations (like a network's tiles), then thresholds."""

    name = "torch-loop"

    def __init__(self, seconds: float = 5.0) -> None:
        super().__init__(0.0)
        self.seconds = seconds
        self.started = 0.0
        self.stopped_at: float | None = None

    def segment(self, image: np.ndarray) -> SegmentOutput:
        import torch

        self.started = time.perf_counter()
        x = torch.ones(64, 64)
        try:
            while time.perf_counter() - self.started < self.seconds:
                x = torch.mm(x, torch.eye(64))
                time.sleep(0.001)
        except BaseException:
            self.stopped_at = time.perf_counter()
            raise
        return super().segment(image)


def torch_factory(seconds: float, made: list):
    def make(_params):
        seg = TorchLoopSegmenter(seconds)
        made.append(seg)
        return seg

    return make
