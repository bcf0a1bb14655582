"""Segmentation methods behind one protocol; :func:`load_segmenter` builds the one a run asks for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Segmenter, SegmenterBase, SegmentOutput

if TYPE_CHECKING:
    from ..params import SegmentationParams

__all__ = ["SegmentOutput", "Segmenter", "SegmenterBase", "check_model", "load_segmenter"]


def load_segmenter(params: SegmentationParams) -> Segmenter:
    """Build and load the segmenter that ``params.method`` names (loads the model once)."""
    if params.method == "cellpose":
        from .cellpose import load_cellpose

        return load_cellpose(params)
    if params.method == "sam":
        from .microsam import MicroSamSegmenter

        return MicroSamSegmenter.from_params(params)
    raise ValueError(f"unknown method {params.method!r}")


def check_model(params: SegmentationParams) -> None:
    """Resolve the model files ``params`` names as :func:`load_segmenter` would, loading no network.

    What ``segment --dry-run`` checks: a mistyped or not yet trained ``--model`` raises the run's own
    :class:`~napari_batchseg.errors.ModelError` ("... not found ..."), as does a built-in model whose
    weights are missing and cannot be downloaded. (micro-sam models are checked when the run loads them.)
    """
    if params.method != "cellpose":
        return
    from .catalog import cellpose_major

    if cellpose_major() >= 4:
        from .cellpose.v4 import Cellpose4Segmenter

        Cellpose4Segmenter.resolve_weights(params)
    else:
        from .cellpose import CellposeSegmenter

        CellposeSegmenter.resolve_weights(params)
