"""The one small protocol every segmentation method implements.

A :class:`Segmenter` is built once per worker (the model is loaded once) and then called frame by frame
with a prepared 2D float32 image. It returns a :class:`SegmentOutput` holding integer labels
(0 = background, one id per object) and optional debug arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass
class SegmentOutput:
    """Result of segmenting one 2D plane.

    Attributes
    ----------
    labels
        ``(Y, X)`` integer label image, 0 = background.
    debug
        Optional named arrays worth saving for inspection (e.g. ``"flows"``, ``"cellprob"``).
    info
        Small per-frame facts for the log (e.g. the diameter used).
    """

    labels: np.ndarray
    debug: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Segmenter(Protocol):
    """Load once, then segment planes."""

    name: str

    def describe(self) -> dict[str, Any]:
        """Facts for provenance: method, model, resolved weights path, device, package versions."""
        ...

    def segment(self, image: np.ndarray) -> SegmentOutput:
        """Segment one prepared ``(Y, X)`` float32 plane."""
        ...

    def segment_batch(self, images: list[np.ndarray]) -> list[SegmentOutput]:
        """Segment several planes (may use one network call; same result as one by one)."""
        ...
