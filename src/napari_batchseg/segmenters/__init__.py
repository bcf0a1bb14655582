"""Segmentation methods behind one protocol; :func:`load_segmenter` builds the one a run asks for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Segmenter, SegmenterBase, SegmentOutput

if TYPE_CHECKING:
    from ..params import SegmentationParams

__all__ = ["SegmentOutput", "Segmenter", "SegmenterBase", "load_segmenter"]


def load_segmenter(params: SegmentationParams) -> Segmenter:
    """Build and load the segmenter that ``params.method`` names (loads the model once)."""
    if params.method == "cellpose":
        from .cellpose import load_cellpose

        return load_cellpose(params)
    if params.method == "sam":
        from .microsam import MicroSamSegmenter

        return MicroSamSegmenter.from_params(params)
    raise ValueError(f"unknown method {params.method!r}")
