"""A segmenter that kills its worker process on demand, to test how runners survive a dead worker.

The factory is a module-level function of a module on ``sys.path`` (pytest puts ``tests/`` there),
so spawned worker processes, which get the parent's ``sys.path``, can import it by name.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np

from napari_batchseg.segmenters import SegmentOutput
from napari_batchseg.testing import ThresholdSegmenter


class CrashingSegmenter(ThresholdSegmenter):
    """The threshold segmenter, but its process exits abruptly on a frame whose maximum is ``crash_on``.

    With ``kill_after`` (seconds), the frame is segmented and the process exits that long after, from
    another thread, whatever the worker is doing then (writing the mask, sending its events).
    """

    def __init__(self, delay: float = 0.0, crash_on: float | None = None,
                 kill_after: float | None = None) -> None:
        super().__init__(delay)
        self.crash_on = crash_on
        self.kill_after = kill_after

    def segment(self, image: np.ndarray) -> SegmentOutput:
        if self.crash_on is not None and float(np.max(image)) == float(self.crash_on):
            if self.kill_after is None:
                os._exit(3)  # imitate a worker killed by the system
            threading.Timer(self.kill_after, os._exit, args=(3,)).start()
        return super().segment(image)


def crashing_segmenter(params: Any) -> CrashingSegmenter:
    """Factory reading ``delay`` and ``crash_on`` from ``params.extra``."""
    extra = params.extra or {}
    return CrashingSegmenter(delay=float(extra.get("delay", 0.0)), crash_on=extra.get("crash_on"),
                             kill_after=extra.get("kill_after"))
