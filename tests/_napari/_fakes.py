"""A fast stand-in segmenter for widget tests that are about the GUI, not about Cellpose."""

from __future__ import annotations

import threading
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


class HeldSegmenter(ThresholdSegmenter):
    """Waits before its frame number ``hold_at`` (0-based, over the run) until :attr:`release` is set.

    A test then sees the run in that state for sure, not only when it polls at the right moment (a
    run of short frames could end between two polls on a loaded machine). Waits 60 s at most.
    """

    def __init__(self, delay: float = 0.0, hold_at: int = 2) -> None:
        super().__init__(delay)
        self.hold_at = hold_at
        self.release = threading.Event()

    def segment(self, image: np.ndarray) -> SegmentOutput:
        if self.calls == self.hold_at:
            self.release.wait(60)
        return super().segment(image)


def held_factory(delay: float, hold_at: int, made: list):
    """A factory of :class:`HeldSegmenter`, appending each one to ``made`` (to release it)."""

    def make(_params):
        made.append(HeldSegmenter(delay, hold_at))
        return made[-1]

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
