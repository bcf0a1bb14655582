"""What the "Train" dock asks and decides, without Qt (``_napari._train_widget`` is its view).

Its controls (:data:`TRAIN_FIELDS`, built by ``_napari._qtutil.Fields``), the
:class:`~napari_batchseg.training.run.TrainingParams` they stand for (:func:`training_params`), where the
training data come from (:func:`training_inputs`: two layers, the image's frames lined up with a result
mask's (:func:`layer_frames`), or files and folders) and the line shown
when a model is saved (:func:`saved_text`), the models a training can start from (:func:`base_models`),
the new model's path (:func:`model_output`), the loss curve's points (:func:`loss_point`), and its
buttons and progress line while a training runs or is being cancelled (:func:`train_buttons`,
:func:`progress_text`), and the note that few epochs change little (Cellpose's warm-up: :func:`epochs_note`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..segmenters.catalog import offered_models
from ..training.data import parse_frames
from ..training.run import SCRATCH, TrainingParams, TrainingProgress, TrainingResult
from .dock_jobs import SOURCE_FILES, SOURCE_LAYERS
from .fields import Field, choices
from .layer_files import is_volume_result, layer_meta
from .measure_form import intensity_frames, planes_beside_volumes

__all__ = ["CANCELLING", "PARAM_KEYS", "TRAIN_FIELDS", "LayerFrames", "TrainingInputs", "TrainButtons",
           "WARMUP_EPOCHS", "base_models", "corrected_mask_of", "epochs_note", "layer_frames", "loss_point",
           "model_output", "progress_text", "saved_text", "train_buttons", "training_inputs",
           "training_params"]

#: the status line from the click on Cancel until the training ends (it stops after the current epoch)
CANCELLING = "cancelling after this epoch…"

#: epochs of Cellpose's warm-up (``train_seg``: ``LR = np.linspace(0, learning_rate, 10)``, Cellpose 3 and 4):
#: epoch k (from 1) trains at (k - 1) / 9 of the learning rate, the first at 0
WARMUP_EPOCHS = 10
#: :func:`epochs_note`'s lines start so (one replaces another, a larger number clears it)
_WARMUP_NOTE = "Learning rate warm-up:"


def epochs_note(epochs: int, status: str, running: bool = False) -> str:
    """The status line once the user picks ``epochs`` (``status``: the line shown).

    Fewer than :data:`WARMUP_EPOCHS`: a note that Cellpose's warm-up trains its first epoch at learning
    rate 0 (a single epoch changes nothing) and never reaches the rate set; else ``status``, less a note.
    While a training is ``running``: ``status`` (its progress line).
    """
    if running:
        return status
    if epochs >= WARMUP_EPOCHS:
        return "" if status.startswith(_WARMUP_NOTE) else status
    if epochs == 1:
        return (f"{_WARMUP_NOTE} 1 epoch changes nothing: Cellpose trains its first epoch at learning rate 0 "
                f"and raises it over {WARMUP_EPOCHS} epochs; take {WARMUP_EPOCHS} or more.")
    return (f"{_WARMUP_NOTE} Cellpose trains the first epoch at learning rate 0 and raises it over "
            f"{WARMUP_EPOCHS} epochs: {epochs} epochs reach {(epochs - 1) / (WARMUP_EPOCHS - 1):.0%} of the "
            f"rate set, and change little; take {WARMUP_EPOCHS} or more.")


#: the fields that are :class:`TrainingParams` fields of the same name
PARAM_KEYS = ("epochs", "learning_rate", "weight_decay", "optimizer", "batch_size", "crop_size",
              "images_per_epoch", "validation_fraction", "seed", "min_masks", "gpu")
TRAIN_FIELDS = (
    Field("frames", "text", "Frames", value="all",
          tip="'all', 'corrected' (results: frames a correction record names) or 0,3-5: the mask's own "
              "frames, from 0 (of a result of frames 3-8, 0 is frame 3)"),
    Field("output", "text", text="path of the new model file"),
    Field("overwrite", "check", text="overwrite"),
    Field("epochs", "int", "Epochs", 1, 100000, 100,
          tip=f"Cellpose raises the learning rate from 0 over the first {WARMUP_EPOCHS} epochs (warm-up): "
              f"the first epoch changes nothing; take {WARMUP_EPOCHS} or more"),
    Field("learning_rate", "float", "Learning rate", 0.0, 1.0, 0.0, step=0.001, decimals=6, special="auto",
          none_at=0, tip="auto: 0.001 to fine-tune a model with AdamW (Cellpose's GUI), else 0.005"),
    Field("weight_decay", "float", "Weight decay", 0.0, 1.0, 1e-5, decimals=6),
    Field("optimizer", "choice", "Optimizer", value="adamw", choices=choices(("adamw", "sgd")),
          tip="AdamW (train_seg's default) or SGD with momentum 0.9 "
              "(Cellpose's GUI: SGD, learning rate 0.1, weight decay 1e-4)"),
    Field("batch_size", "int", "Batch size", 1, 512, 8),
    Field("crop_size", "int", "Crop size", 16, 4096, 224),
    Field("images_per_epoch", "int", "Images per epoch", 0, 100000, special="all frames", none_at=0),
    Field("validation_fraction", "float", "Validation fraction", 0.01, 0.99, 0.2, step=0.05),
    Field("seed", "int", "Seed", 0, 2**31 - 1),
    Field("min_masks", "int", "Min. objects/frame", 1, 100000, 5),
    Field("gpu", "check", text="use GPU when available"),
)

#: ``(source, (image data, labels data, name) or None, paths)``: what :func:`~.dock_jobs.train_job` reads
TrainingInputs = tuple[str, tuple[Any, Any, str] | None, list[str]]


def training_params(values: Mapping[str, Any], base_model: str) -> TrainingParams:
    """The parameters of the form's ``values`` (by field key; raises ``ParameterError`` for bad ones)."""
    return TrainingParams(base_model=base_model.strip(), frames=parse_frames(values["frames"] or "all"),
                          **{key: values[key] for key in PARAM_KEYS})


def training_inputs(from_layers: bool, image: Any, labels: Any, paths_text: str,
                    frames: object = "all") -> TrainingInputs:
    """Where the training data come from: the ``image`` and ``labels`` layers, or the ``;``-separated paths.

    Only the layers' data objects are taken (reading them, dask or memory maps, happens in the worker).
    ``frames="corrected"`` from layers: the Labels layer's mask file, whose log says which frames were
    corrected (its input prepared as the log says). Raises ``ValueError`` with the message to show when
    the form names no usable data.
    """
    if from_layers:
        if image is None or labels is None:
            raise ValueError("choose an image layer and a Labels layer")
        if getattr(image, "rgb", False) or getattr(image, "multiscale", False):
            raise ValueError(f"image layer {image.name!r}: use a single-channel, single-scale image")
        if frames == "corrected":  # (a walk: refused for every layer, though its mask file knows)
            return SOURCE_FILES, None, [corrected_mask_of(labels)]
        data, name = layer_frames(image, labels)
        return SOURCE_LAYERS, (data, labels.data, f"{name} + {labels.name}"), []
    paths = [p.strip() for p in paths_text.split(";") if p.strip()]
    if not paths:
        raise ValueError("give result files or folders")
    return SOURCE_FILES, None, paths


@dataclass(frozen=True)
class LayerFrames:
    """Frames ``frames`` of an image layer's ``data`` shaped as ``shape``, read in the worker.

    ``np.asarray`` reads them (a lazy layer's ``data[frames]`` reads at once: not on the GUI thread).
    """

    data: Any
    frames: slice
    shape: tuple[int, ...]

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> NDArray[Any]:
        out = np.asarray(self.data[self.frames]).reshape(self.shape)
        return out if dtype is None else out.astype(dtype)


def layer_frames(image: Any, labels: Any) -> tuple[Any, str]:
    """The image layer's data to train beside the Labels layer ``labels``, and its name in the reports.

    A result mask of some frames of a time series (its ``first_frame`` on, as its log says and the
    reader places it) beside the whole series: those frames of the image (:class:`LayerFrames`), as the
    Measure dock lines them up (a walk: a mask of frames 3-8 and its 53-frame input were refused, "image
    and mask have different shapes"); a volume result's time points alike (a 3-D one is one time point's
    volume only when its metadata says it is a volume result). Otherwise the whole data (a shape that fits
    in no way is refused by the training). A Labels layer of no recorded first frame (drawn) is not lined
    up. Raises ``ValueError`` (the message to show) for a 3-D Labels layer beside a ``(T, Z, Y, X)`` image
    not said to be a volume result: 2D frames (a review: 5 frames beside a 5-slice input were trained
    against time point 0's slices) or one time point's volume, its shape does not say which.
    """
    meta = layer_meta(labels)
    first, volume = meta.get("first_frame"), is_volume_result(meta)
    shape, image_shape = tuple(labels.data.shape), tuple(image.data.shape)
    if planes_beside_volumes(image_shape, shape, volume):
        advice = ("; train from its mask file (Files / results), whose input is prepared as its log says"
                  if meta.get("mask_path") else "")
        raise ValueError(
            f"image layer {image.name!r} is 4-D {image_shape} and Labels layer {labels.name!r} "
            f"{shape} is not a volume result: 2D frames (e.g. of projected planes) or one time point's "
            f"volume, its shape does not say which, so the image is not lined up with it{advice}")
    frames = None if first is None else intensity_frames(image_shape, shape, int(first), volume)
    if frames is None or frames == slice(None):
        return image.data, str(image.name)
    which = f"{frames.start}-{frames.stop - 1}" if frames.stop - frames.start > 1 else f"{frames.start}"
    return LayerFrames(image.data, frames, shape), f"{image.name} [frames {which}]"


def model_output(text: str) -> str:
    """The new model file's path as typed (stripped); ``ValueError`` with the message to show when empty."""
    if not text.strip():
        raise ValueError("give the path of the new model file")
    return text.strip()


def loss_point(progress: TrainingProgress) -> tuple[int, float, float] | None:
    """``(epoch, train loss, validation loss)`` of a finished epoch for the loss curve (``None``: no epoch).

    A loss not known yet is drawn at 0.
    """
    if progress.epoch is None:
        return None
    return progress.epoch, float(progress.train_loss or 0.0), float(progress.validation_loss or 0.0)


@dataclass(frozen=True)
class TrainButtons:
    """The Train dock's buttons: *Train* enabled, *Cancel* enabled, *Cancel*'s text."""

    train: bool
    cancel: bool
    cancel_text: str


def train_buttons(running: bool, cancelling: bool) -> TrainButtons:
    """*Train* while no training runs; *Cancel* while one runs and was not cancelled yet.

    Once clicked, *Cancel* stays off and reads ``Cancelling…`` until the training ends (after its epoch).
    """
    return TrainButtons(not running, running and not cancelling,
                        "Cancelling…" if running and cancelling else "Cancel")


def progress_text(message: str, cancelling: bool) -> str:
    """A training's progress line; while it is being cancelled, saying so (:data:`CANCELLING`)."""
    return f"{message}; {CANCELLING}" if cancelling else message


@dataclass
class LossCurves:
    """The train and validation loss per epoch that the Train dock plots (``_train_widget.LossPlot``).

    The lists are kept (emptied by :meth:`clear`, never replaced): the plot shows them as its own.
    """

    epochs: list[int] = field(default_factory=list)
    train: list[float] = field(default_factory=list)
    validation: list[float] = field(default_factory=list)

    def add(self, epoch: int, train: float, validation: float) -> None:
        """Add one epoch's losses."""
        self.epochs.append(epoch)
        self.train.append(train)
        self.validation.append(validation)

    def clear(self) -> None:
        """Forget all points."""
        for points in (self.epochs, self.train, self.validation):
            points.clear()

    def draw(self, axes: Any, background: str, foreground: str) -> None:
        """Draw both curves over whole epochs on matplotlib ``axes``, and their legend in these colours."""
        from matplotlib.ticker import MaxNLocator

        axes.plot(self.epochs, self.train, "o-", ms=3, label="train")
        axes.plot(self.epochs, self.validation, "s-", ms=3, label="validation")
        # whole epochs from the start (empty, matplotlib's -0.05..0.05 ticked "-0.045-0.030…" in a row)
        axes.set(xlabel="epoch", ylabel="loss", xlim=(0.5, max([2, *self.epochs]) + 0.5))
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        if not self.epochs:
            axes.set_ylim(0, 1)
        axes.legend(loc="upper right", fontsize="small", facecolor=background, labelcolor=foreground)


def corrected_mask_of(labels: Any) -> str:
    """The mask file of a Labels layer to train on its corrected frames (``ValueError`` saying why not)."""
    meta = layer_meta(labels)
    if meta.get("dirty"):
        raise ValueError(f"Labels layer {labels.name!r} has unsaved corrections: save them (Correct tab), "
                         "so that its mask file's log records them, then train on its 'corrected' frames")
    if not meta.get("mask_path"):
        raise ValueError(f"Labels layer {labels.name!r}: 'corrected' frames come from a _vSM mask file whose "
                         "log records corrections; this layer has none (open the mask file)")
    return str(meta["mask_path"])


def saved_text(result: TrainingResult) -> str:
    """The status line of a saved model: its name and validation AP@0.5 before (when known) and after."""
    before = f"base {result.before.ap:.3f} → " if result.before else ""
    where = f"{result.model_path.name} in {result.model_path.parent}"  # (a walk: a relative name went to
    said = f"saved {where}; validation AP@0.5: {before}new {result.after.ap:.3f}"  # napari's folder, unsaid)
    return f"{said}. Note: {result.worse_warning}" if result.worse_warning else said


def base_models() -> list[str]:
    """The models the Train dock offers to start from: Cellpose's built-in ones, then ``scratch``.

    (Trained models are added before ``scratch`` as they are announced.)
    """
    return [*offered_models("cellpose"), SCRATCH]
