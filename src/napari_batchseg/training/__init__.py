"""Train and fine-tune Cellpose models from corrected masks (human in the loop).

* :mod:`.data`: training pairs from ``_vSM`` masks (prepared as their logs say), ``<name>_masks.tif``
  pairs and arrays; frame choice, ``min_masks``, seeded validation split.
* :mod:`.run`: :func:`train_model` over ``cellpose.train.train_seg`` with per-epoch progress, cancel,
  validation AP before/after, atomic save and provenance (``<model>.json``).
* :mod:`.registry`: :func:`recent_models`, the models trained here (for the napari model list).
"""

from .data import TrainingData, TrainingFrame, corrected_frames, parse_frames
from .registry import recent_models, remember_model
from .run import (
    SCRATCH,
    TrainingParams,
    TrainingProgress,
    TrainingResult,
    ValidationScore,
    provenance_path_for,
    train_model,
)
from .sources import collect_training_data, frames_from_arrays, frames_from_pair, frames_from_vsm

__all__ = [
    "SCRATCH",
    "TrainingData",
    "TrainingFrame",
    "TrainingParams",
    "TrainingProgress",
    "TrainingResult",
    "ValidationScore",
    "collect_training_data",
    "corrected_frames",
    "frames_from_arrays",
    "frames_from_pair",
    "frames_from_vsm",
    "parse_frames",
    "provenance_path_for",
    "recent_models",
    "remember_model",
    "train_model",
]
