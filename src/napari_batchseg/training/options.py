"""The parameters, progress reports and results of a training run."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .._cancel import CancelCheck
from ..params import ParameterError
from .data import SPLITS, FrameSelection

SCRATCH = "scratch"
#: the default learning rates: fine-tuning with AdamW (Cellpose's GUI), else (from scratch, SGD: train_seg's)
FINE_TUNE_RATE = 0.001
SCRATCH_RATE = 0.005
OPTIMIZERS = ("adamw", "sgd")
#: the largest seed: training seeds NumPy's global generator (np.random.seed), which takes 0 to 2**32 - 1
SEED_MAX = 2**32 - 1
PROVENANCE_FORMAT = "napari-batchseg training provenance 1"
AP_THRESHOLD = 0.5

#: progress callback: receives a :class:`TrainingProgress` per stage and per epoch
ProgressCallback = Callable[["TrainingProgress"], None]


@dataclass
class TrainingParams:
    """Every parameter of a training run.

    Parameters
    ----------
    base_model
        Cellpose built-in name (``cyto3``, ``nuclei``, ...), a model file to fine-tune, or ``"scratch"``.
    epochs
        Training epochs (``n_epochs`` of ``train_seg``).
    learning_rate, weight_decay
        Optimizer settings (``train_seg`` warms the learning rate up over 10 epochs and anneals it after
        100/300 epochs). ``learning_rate`` None: 0.001 to fine-tune a model with AdamW (what
        Cellpose's GUI recommends), else 0.005 (``train_seg``'s default: from ``"scratch"``, or SGD).
    optimizer
        ``"adamw"`` (``train_seg``'s default) or ``"sgd"`` (momentum 0.9; what Cellpose's GUI uses for
        human-in-the-loop fine-tuning, with learning rate 0.1 and weight decay 1e-4).
    batch_size
        Crops per optimizer step.
    images_per_epoch
        Training images drawn per epoch (``nimg_per_epoch``); ``None``: every training frame once.
    crop_size
        Side of the square training crops (``bsize``).
    validation_fraction
        Share of frames (or files) held out for validation.
    split
        ``"frame"`` or ``"file"``.
    seed
        Seed of the validation split and of torch/numpy at the start of training.
    min_masks
        Frames with fewer objects are skipped (and reported).
    frames
        ``"all"``, ``"corrected"`` or 0-based mask frame indices of the training inputs.
    validation_frames
        The same for held-out validation inputs (``validation`` of
        :func:`~napari_batchseg.training.run.train_model`); not used for a split of the inputs.
    axes
        Axes override of masks whose own axes are ambiguous (plain multi-page TIFFs: ``"TYX"``), with
        the rules of ``batchseg segment --axes``.
    force_labels
        Use masks without a napari-batchseg log even where they look like intensity images.
    gpu
        Train on CUDA/MPS when usable.
    diam_mean
        Object diameter the network works at, for ``"scratch"`` only (fine-tuning keeps the base
        model's); default 30 (Cellpose's ``cyto`` models; its ``nuclei`` model uses 17).
    half_precision
        Store the weights as float16 (half the file size; diameters stay float32).
    """

    base_model: str = "cyto3"
    epochs: int = 100
    learning_rate: float | None = None
    weight_decay: float = 1e-5
    optimizer: str = "adamw"
    batch_size: int = 8
    images_per_epoch: int | None = None
    crop_size: int = 224
    validation_fraction: float = 0.2
    split: str = "frame"
    seed: int = 0
    min_masks: int = 5
    frames: FrameSelection = "all"
    gpu: bool = False
    diam_mean: float | None = None
    half_precision: bool = False
    validation_frames: FrameSelection = "all"
    axes: str | None = None
    force_labels: bool = False

    def __post_init__(self) -> None:
        self.base_model = str(self.base_model).strip()
        if not self.base_model:
            raise ParameterError("base model must not be empty (a built-in name, a model file or 'scratch')")
        for name in ("epochs", "batch_size", "crop_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or int(value) < 1:
                raise ParameterError(f"{name} must be a positive integer, got {value!r}")
            setattr(self, name, int(value))
        if self.crop_size < 16:
            raise ParameterError(f"crop_size must be at least 16 pixels, got {self.crop_size}")
        if self.images_per_epoch is not None:
            if int(self.images_per_epoch) < 1:
                raise ParameterError(f"images_per_epoch must be >= 1, got {self.images_per_epoch}")
            self.images_per_epoch = int(self.images_per_epoch)
        if self.learning_rate is None:
            fine_tune = self.base_model != SCRATCH and str(self.optimizer).lower() == "adamw"
            self.learning_rate = FINE_TUNE_RATE if fine_tune else SCRATCH_RATE
        for name in ("learning_rate", "weight_decay"):
            value = float(getattr(self, name))
            if not math.isfinite(value) or value < 0 or (name == "learning_rate" and value == 0):
                raise ParameterError(f"{name} must be a positive number, got {getattr(self, name)!r}")
            setattr(self, name, value)
        self.validation_fraction = float(self.validation_fraction)
        if not 0 < self.validation_fraction < 1:
            raise ParameterError(
                f"validation_fraction must be between 0 and 1 (exclusive), got {self.validation_fraction}: "
                "a validation split is needed to measure the model before and after training"
            )
        self.optimizer = str(self.optimizer).lower()
        if self.optimizer not in OPTIMIZERS:
            raise ParameterError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.split not in SPLITS:
            raise ParameterError(f"split must be one of {', '.join(SPLITS)}, got {self.split!r}")
        try:  # (None, "abc" or NaN: a ValueError or TypeError of int(), not the reason)
            whole = not isinstance(self.seed, bool) and int(self.seed) == self.seed
        except (TypeError, ValueError, OverflowError):
            whole = False
        if not whole or not 0 <= int(self.seed) <= SEED_MAX:
            raise ParameterError(f"seed must be a whole number from 0 to {SEED_MAX} (NumPy's seeds), "
                                 f"got {self.seed!r}")
        self.seed = int(self.seed)
        self.min_masks = int(self.min_masks)
        if self.min_masks < 1:
            raise ParameterError(f"min_masks must be >= 1, got {self.min_masks}")
        if self.diam_mean is not None:
            if self.base_model != SCRATCH:
                raise ParameterError("diam_mean applies only to base model 'scratch'")
            if not float(self.diam_mean) > 0:
                raise ParameterError(f"diam_mean must be > 0, got {self.diam_mean}")
            self.diam_mean = float(self.diam_mean)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dictionary."""
        out = asdict(self)
        for key in ("frames", "validation_frames"):
            if not isinstance(out[key], str):
                out[key] = list(out[key])
        return out


@dataclass
class TrainingProgress:
    """One progress report: a stage change, or one finished epoch (``epoch`` set, 1-based)."""

    stage: str
    message: str = ""
    epoch: int | None = None
    n_epochs: int = 0
    train_loss: float | None = None
    validation_loss: float | None = None
    learning_rate: float | None = None
    seconds: float = 0.0


@dataclass
class ValidationScore:
    """Accuracy on the validation frames at IoU 0.5 (pooled over frames).

    ``ap = TP / (TP + FP + FN)`` (Cellpose's ``metrics.average_precision``), ``f1 = 2TP / (2TP + FP + FN)``.
    """

    ap: float
    f1: float
    tp: int
    fp: int
    fn: int
    per_frame_ap: list[float] = field(default_factory=list)


#: a new model scoring this much AP@0.5 under its base is said to be worse (less is noise on a few objects)
WORSE_BY = 0.01


@dataclass
class TrainingResult:
    """What a training run produced."""

    model_path: Path
    provenance_path: Path
    train_losses: list[float]
    validation_losses: list[float]
    before: ValidationScore | None
    after: ValidationScore
    provenance: dict[str, Any]

    @property
    def worse_warning(self) -> str:
        """What to do when the new model scores lower than its base on the validation frames (else "")."""
        if self.before is None or self.after.ap >= self.before.ap - WORSE_BY:
            return ""
        rate = float(self.provenance.get("parameters", {}).get("learning_rate") or 0)
        lower = " or with a lower learning rate (e.g. 0.001)" if rate > 0.001 else ""
        return (f"the new model scores lower than its base on the validation frames (AP@0.5 "
                f"{self.before.ap:.3f} -> {self.after.ap:.3f}): train for more epochs{lower}, or keep "
                "using the base model")


__all__ = [
    "AP_THRESHOLD",
    "OPTIMIZERS",
    "PROVENANCE_FORMAT",
    "SCRATCH",
    "CancelCheck",
    "ProgressCallback",
    "TrainingParams",
    "TrainingProgress",
    "TrainingResult",
    "ValidationScore",
]
