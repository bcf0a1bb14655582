"""Cellpose 3: the segmenter (:mod:`.segmenter`), model files (:mod:`.files`), batched eval (:mod:`.batch`).

Built-in model names are in :mod:`napari_batchseg.segmenters.catalog`.
"""

from __future__ import annotations

from .batch import cellpose_eval_batch
from .files import (
    MODEL_DIR_ENV,
    builtin_weights_name,
    ensure_builtin_file,
    model_dir,
    resolve_user_model,
    size_weights_name,
)
from .segmenter import CellposeSegmenter

__all__ = [
    "MODEL_DIR_ENV",
    "CellposeSegmenter",
    "builtin_weights_name",
    "cellpose_eval_batch",
    "ensure_builtin_file",
    "model_dir",
    "resolve_user_model",
    "size_weights_name",
]
