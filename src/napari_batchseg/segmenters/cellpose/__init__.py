"""Cellpose 3 or 4, whichever is installed: one adapter each, picked by :func:`load_cellpose`.

* Cellpose 3: :class:`CellposeSegmenter` (:mod:`.segmenter`) with batched eval (:mod:`.batch`);
* Cellpose 4 (Cellpose-SAM): :class:`~.v4.Cellpose4Segmenter` (:mod:`.v4`, imported when used);
* model files, downloads and the weights' Cellpose major: :mod:`.files`.

Built-in model names are in :mod:`napari_batchseg.segmenters.catalog`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..catalog import cellpose_major
from .batch import cellpose_eval_batch
from .files import (
    MODEL_DIR_ENV,
    builtin_weights_name,
    ensure_builtin_file,
    model_dir,
    resolve_user_model,
    size_weights_name,
    weights_major,
)
from .segmenter import CellposeSegmenter

if TYPE_CHECKING:
    from ...params import SegmentationParams
    from ..base import Segmenter

__all__ = [
    "MODEL_DIR_ENV",
    "CellposeSegmenter",
    "builtin_weights_name",
    "cellpose_eval_batch",
    "ensure_builtin_file",
    "load_cellpose",
    "model_dir",
    "resolve_user_model",
    "size_weights_name",
    "weights_major",
]


def load_cellpose(params: SegmentationParams) -> Segmenter:
    """Build the Cellpose segmenter for the installed Cellpose (3 or 4) and load its model once."""
    if cellpose_major() >= 4:
        from .v4 import Cellpose4Segmenter

        return Cellpose4Segmenter.from_params(params)
    return CellposeSegmenter.from_params(params)
