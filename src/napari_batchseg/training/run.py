"""Train or fine-tune a Cellpose 3 model with ``cellpose.train.train_seg``, with per-epoch progress.

The training loop is Cellpose's own :func:`cellpose.train.train_seg` (AdamW, its learning-rate warm-up and
annealing, its augmentation and loss). Around it this module adds what a user needs:

* **per-epoch progress**: ``train_seg`` reports nothing until it returns, so two observers are attached
  for the run: Cellpose's loss function is wrapped to record the values it computes for each training
  batch (the same numbers ``train_seg`` sums into its ``train_losses``), and a torch optimizer step hook
  marks the end of each epoch (``train_seg`` makes ``ceil(images per epoch / batch size)`` steps per
  epoch). At each epoch end the validation loss is computed exactly as ``train_seg`` computes its own
  test loss (same normalisation, seed 42, augmentation and loss; ``train_seg`` does so only at epochs 0,
  5, 10, 20, ...; the values agree there, which the tests check), the progress callback is called, and a
  cancel request is honoured.
* **cancel between epochs**: nothing is written; ``train_seg``'s own saves go to a temporary folder.
* **validation AP@0.5** of the base model and of the new model on the same validation frames, at the
  same diameter (the mean diameter of the training masks, which the new model stores as its own).
* **atomic output**: the model file is written under a temporary name, reloaded from there with plain
  ``CellposeModel(pretrained_model=...)`` and measured, then renamed; ``<model>.json`` (provenance) is
  written after it. A failure or cancel leaves neither.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as _dt
import json
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CancelledError, InputError, ModelError, OutputError
from ..io.atomic import atomic_path, atomic_write_text
from ..params import ParameterError, SegmentationParams
from ..provenance import package_versions, platform_summary
from .data import (
    SPLITS,
    FrameSelection,
    TrainingData,
    TrainingFrame,
    check_usable,
    collect_training_data,
    describe_frames,
    sha256_file,
)

SCRATCH = "scratch"
OPTIMIZERS = ("adamw", "sgd")
PROVENANCE_FORMAT = "napari-batchseg training provenance 1"
AP_THRESHOLD = 0.5

#: progress callback: receives a :class:`TrainingProgress` per stage and per epoch
ProgressCallback = Callable[["TrainingProgress"], None]
CancelCheck = Callable[[], bool] | threading.Event | None

_TRAIN_LOCK = threading.Lock()  # the loss observer patches a module attribute: one training at a time


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
        100/300 epochs).
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
        ``"all"``, ``"corrected"`` or 0-based mask frame indices.
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
    learning_rate: float = 0.005
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
        if not isinstance(out["frames"], str):
            out["frames"] = list(out["frames"])
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


# --------------------------------------------------------------------------- helpers
def provenance_path_for(model_path: str | Path) -> Path:
    """``<model file>.json``: the provenance file beside a trained model."""
    p = Path(model_path)
    return p.with_name(p.name + ".json")


def _is_cancelled(cancel: CancelCheck) -> bool:
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())


def check_output(output: str | Path, overwrite: bool = False) -> Path:
    """Check that a model can be written at ``output`` (writes nothing).

    Raises
    ------
    OutputError
        ``output`` is a folder, exists (without ``overwrite``), or its folder (or the nearest existing
        folder above it) is not writable.
    """
    out = Path(output).expanduser().absolute()
    if out.is_dir():
        raise OutputError(f"output {out} is a folder; give the path of the model file to write")
    if out.exists() and not overwrite:
        raise OutputError(f"output {out} exists; choose another name or allow overwriting")
    folder = out.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise OutputError(f"output folder {out.parent}: {folder} is not a folder")
    try:  # a probe file, removed at once: permission bits alone mislead (root, read-only mounts)
        fd, probe = tempfile.mkstemp(prefix=".batchseg-write-test-", dir=folder)
    except OSError as exc:
        raise OutputError(
            f"output folder {folder} is not writable ({exc.strerror or exc}); cannot save the model "
            f"{out.name} there"
        ) from exc
    os.close(fd)
    os.unlink(probe)
    return out


@dataclass
class _Base:
    model: Any
    kind: str
    name: str
    weights: Path | None
    sha256: str | None
    device: Any


def load_base_model(name: str, gpu: bool, diam_mean: float | None = None) -> _Base:
    """Load the model to fine-tune (guarded: a missing path is an error, never a silent download).

    Raises
    ------
    ModelError
        The model does not exist, cannot be downloaded, or cannot be loaded as a Cellpose 3 model.
    """
    from ..devices import pick_device
    from ..segmenters.catalog import cellpose_major

    if cellpose_major() != 3:
        raise ModelError(
            f"training needs Cellpose 3 (cellpose.train.train_seg of 3.1); the installed Cellpose is major "
            f"version {cellpose_major()}"
        )
    if name == SCRATCH:
        from cellpose import models as cp_models

        choice = pick_device(gpu)
        model = cp_models.CellposeModel(
            gpu=choice.is_gpu, pretrained_model=False, diam_mean=diam_mean or 30.0, nchan=2,
            device=choice.device,
        )
        return _Base(model, SCRATCH, SCRATCH, None, None, choice)
    from ..segmenters.cellpose import CellposeSegmenter

    # diameter > 0: no size model needed; the segmenter's model resolution and loading are reused
    seg = CellposeSegmenter.from_params(SegmentationParams(model=name, diameter=30.0, gpu=gpu))
    return _Base(seg.model, seg.kind, name, Path(seg.weights), sha256_file(seg.weights), seg.device)


def training_diameter(frames: Iterable[TrainingFrame]) -> float:
    """Mean of the per-frame median object diameters (each at least 5 px), as ``train_seg`` computes it."""
    from cellpose import utils

    diams = np.array([utils.diameters(f.labels)[0] for f in frames], dtype=np.float64)
    diams[diams < 5] = 5.0
    return float(diams.mean())


def score(model: Any, frames: list[TrainingFrame], diameter: float, batch_size: int = 8) -> ValidationScore:
    """Segment ``frames`` with ``model`` (``channels=[0, 0]``, default thresholds) and score at IoU 0.5."""
    from cellpose import metrics

    preds = [
        np.asarray(model.eval(f.image, channels=[0, 0], diameter=diameter, batch_size=batch_size)[0])
        for f in frames
    ]
    truth = [f.labels.astype(np.int32) for f in frames]
    ap, tp, fp, fn = metrics.average_precision(truth, [p.astype(np.int32) for p in preds],
                                               threshold=[AP_THRESHOLD])
    tps, fps, fns = int(tp[:, 0].sum()), int(fp[:, 0].sum()), int(fn[:, 0].sum())
    denom = tps + fps + fns
    return ValidationScore(
        ap=round(tps / denom, 4) if denom else 1.0,
        f1=round(2 * tps / (2 * tps + fps + fns), 4) if denom else 1.0,
        tp=tps, fp=fps, fn=fns,
        per_frame_ap=[round(float(v), 4) for v in ap[:, 0]],
    )


# --------------------------------------------------------------------------- epoch observer
class _EpochObserver:
    """Per-epoch losses, validation loss, progress and cancel around one ``train_seg`` call."""

    def __init__(
        self,
        net: Any,
        val_frames: list[TrainingFrame],
        n_epochs: int,
        steps_per_epoch: int,
        images_per_epoch: int,
        batch_size: int,
        crop_size: int,
        progress: ProgressCallback | None,
        cancel: CancelCheck,
    ) -> None:
        from cellpose import dynamics, models, utils
        from cellpose import train as cp_train

        self.net = net
        self.n_epochs = n_epochs
        self.steps_per_epoch = steps_per_epoch
        self.images_per_epoch = images_per_epoch
        self.batch_size = batch_size
        self.crop_size = crop_size
        self.progress = progress
        self.cancel = cancel
        self.params_ids = {id(p) for p in net.parameters()}
        self.steps = 0
        self.batch_sum = 0.0
        self.train_losses: list[float] = []
        self.validation_losses: list[float] = []
        self.learning_rates: list[float] = []
        self.epoch_seconds: list[float] = []
        self.validation_seconds: list[float] = []
        self._t_epoch = time.perf_counter()
        # validation data exactly as train_seg prepares test data: flows, diameters, normalisation
        labels = [f.labels.copy() for f in val_frames]
        self.val_flows = dynamics.labels_to_flows(labels, device=net.device)
        diams = np.array([utils.diameters(fl[0])[0] for fl in self.val_flows])
        diams[diams < 5] = 5.0
        self.val_diams = diams
        norm = {**models.normalize_default, "normalize": True}
        self.val_data = cp_train._reshape_norm(
            [f.image for f in val_frames], channels=[0, 0], channel_axis=None, rgb=False,
            normalize_params=norm,
        )
        self._loss_fn = cp_train._loss_fn_seg

    # the wrapped loss: the value train_seg itself computes, recorded for training batches
    def loss(self, lbl: Any, y: Any, device: Any) -> Any:
        import torch

        value = self._loss_fn(lbl, y, device)
        if torch.is_grad_enabled():
            self.batch_sum += float(value.item()) * len(lbl)
        return value

    def validation_loss(self) -> float:
        """``train_seg``'s test loss (seed 42, same augmentation and loss) for the current weights."""
        import torch
        from cellpose import train as cp_train
        from cellpose import transforms

        state = np.random.get_state()
        was_training = self.net.training
        try:
            np.random.seed(42)
            n = len(self.val_data)
            rperm = np.random.permutation(np.arange(0, n))
            total = 0.0
            for start in range(0, n, self.batch_size):
                inds = rperm[start:start + self.batch_size]
                with torch.no_grad():
                    self.net.eval()
                    imgs, lbls = cp_train._get_batch(inds, data=self.val_data, labels=self.val_flows)
                    rsc = self.val_diams[inds] / self.net.diam_mean.item()
                    imgi, lbl = transforms.random_rotate_and_resize(
                        imgs, Y=lbls, rescale=rsc, scale_range=0.5, xy=(self.crop_size, self.crop_size)
                    )[:2]
                    y = self.net(torch.from_numpy(imgi).to(self.net.device))[0]
                    total += float(self._loss_fn(lbl, y, self.net.device).item()) * len(imgi)
            return total / n
        finally:
            self.net.train(was_training)
            np.random.set_state(state)

    def step_hook(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        if not any(id(p) in self.params_ids for g in optimizer.param_groups for p in g["params"]):
            return
        self.steps += 1
        if self.steps % self.steps_per_epoch:
            return
        epoch = self.steps // self.steps_per_epoch
        train_loss = self.batch_sum / self.images_per_epoch
        self.batch_sum = 0.0
        t_val = time.perf_counter()
        val_loss = self.validation_loss()
        self.validation_seconds.append(time.perf_counter() - t_val)
        lr = float(optimizer.param_groups[0]["lr"])
        now = time.perf_counter()
        self.epoch_seconds.append(now - self._t_epoch)
        self._t_epoch = now
        self.train_losses.append(train_loss)
        self.validation_losses.append(val_loss)
        self.learning_rates.append(lr)
        if self.progress is not None:
            self.progress(TrainingProgress(
                "training", f"epoch {epoch}/{self.n_epochs}: train loss {train_loss:.4f}, "
                f"validation loss {val_loss:.4f}", epoch, self.n_epochs, train_loss, val_loss, lr,
                self.epoch_seconds[-1],
            ))
        if _is_cancelled(self.cancel):
            raise CancelledError(f"training cancelled after epoch {epoch} of {self.n_epochs}; nothing saved")
        self._t_epoch = time.perf_counter()

    @contextlib.contextmanager
    def attached(self) -> Iterator[_EpochObserver]:
        """Wrap Cellpose's loss and hook the optimizer for the duration of one ``train_seg`` call."""
        from cellpose import train as cp_train
        from torch.optim.optimizer import register_optimizer_step_post_hook

        handle = register_optimizer_step_post_hook(self.step_hook)
        cp_train._loss_fn_seg = self.loss
        try:
            yield self
        finally:
            cp_train._loss_fn_seg = self._loss_fn
            handle.remove()


# --------------------------------------------------------------------------- the run
def _report(progress: ProgressCallback | None, stage: str, message: str) -> None:
    if progress is not None:
        progress(TrainingProgress(stage, message))


def _save_state(net: Any, path: Path, half: bool) -> None:
    import torch

    state = net.state_dict()
    if half:  # the diameters stay float32 so they read back exactly
        state = {
            k: (v.half() if v.is_floating_point() and not k.startswith("diam_") else v)
            for k, v in state.items()
        }
    state = {k: v.detach().cpu() for k, v in state.items()}
    torch.save(state, path)


def train_model(
    inputs: TrainingData | Iterable[str | Path],
    output: str | Path,
    params: TrainingParams | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelCheck = None,
    overwrite: bool = False,
    remember: bool = True,
    validation: TrainingData | Iterable[str | Path] | None = None,
) -> TrainingResult:
    """Train a Cellpose model and save it with its provenance (``<output>.json``).

    Parameters
    ----------
    inputs
        Files and folders (``_vSM.ome.tif`` masks, ``<name>.tif`` + ``<name>_masks.tif`` pairs), or
        :class:`~napari_batchseg.training.data.TrainingData` already collected (e.g. from napari layers).
    output
        Model file to write (a plain Cellpose model: ``CellposeModel(pretrained_model=output)``).
    params
        :class:`TrainingParams` (defaults: fine-tune ``cyto3`` for 100 epochs).
    progress
        Called with a :class:`TrainingProgress` at each stage and after each epoch.
    cancel
        A :class:`threading.Event` or callable; checked after each epoch (and between stages).
    overwrite
        Replace an existing ``output``.
    remember
        Add the model to :func:`~napari_batchseg.training.registry.recent_models` (the napari model list).
    validation
        Held-out validation data (files, folders or collected frames) used instead of a split of
        ``inputs``; ``validation_fraction`` and ``split`` are then not used.

    Returns
    -------
    TrainingResult
        Paths, per-epoch losses, validation scores before and after, and the provenance record.

    Raises
    ------
    InputError
        No masks, every frame below ``min_masks``, image and mask of different shapes, an empty
        validation split.
    ModelError
        The base model does not exist or cannot be loaded.
    OutputError
        ``output`` cannot be written.
    CancelledError
        ``cancel`` was set; nothing was written.
    """
    params = params or TrainingParams()
    started = _dt.datetime.now().astimezone()
    t_start = time.perf_counter()
    out = check_output(output, overwrite)
    prov_path = provenance_path_for(out)
    if isinstance(inputs, TrainingData):
        data = inputs
        check_usable(data, params.min_masks)
    else:
        _report(progress, "data", "collecting training frames")
        data = collect_training_data(list(inputs), params.frames, params.min_masks)
    if validation is None:
        train, val = data.split(params.validation_fraction, params.split, params.seed)
    else:
        if isinstance(validation, TrainingData):
            held_out = validation
        else:
            held_out = collect_training_data(list(validation), params.frames, params.min_masks)
        if not held_out.frames:
            raise InputError("empty validation set: the validation inputs hold no usable frame")
        shared = set(held_out.files) & set(data.files)
        if shared:
            raise InputError(
                "the validation inputs are also training inputs: " + ", ".join(sorted(shared)[:3])
            )
        train, val = data.frames, held_out.frames
        data = TrainingData(data.frames + held_out.frames, data.skipped + held_out.skipped,
                            {**data.files, **held_out.files})
    if _is_cancelled(cancel):
        raise CancelledError("training cancelled before it started; nothing saved")

    _report(progress, "model", f"loading base model {params.base_model}")
    base = load_base_model(params.base_model, params.gpu, params.diam_mean)
    import torch
    from cellpose import train as cp_train

    diameter = training_diameter(train)
    # Cellpose's CPU inference turns the network's layers into MKLDNN layers in place, which cannot be
    # trained: train a copy made before any evaluation, with MKLDNN off (as Cellpose's own trainers do)
    net = copy.deepcopy(base.model.net)
    net.mkldnn = False
    timings: dict[str, float] = {}
    before: ValidationScore | None = None
    if base.kind != SCRATCH:
        _report(progress, "evaluate", f"validation AP@0.5 of the base model on {len(val)} frame(s)")
        t0 = time.perf_counter()
        before = score(base.model, val, diameter)
        timings["evaluate_base"] = time.perf_counter() - t0
    if _is_cancelled(cancel):
        raise CancelledError("training cancelled before it started; nothing saved")

    images_per_epoch = params.images_per_epoch or len(train)
    steps_per_epoch = math.ceil(images_per_epoch / params.batch_size)
    _report(progress, "flows", f"computing flows of {len(train)} training and {len(val)} validation frame(s)")
    observer = _EpochObserver(
        net, val, params.epochs, steps_per_epoch, images_per_epoch, params.batch_size, params.crop_size,
        progress, cancel,
    )
    torch.manual_seed(params.seed)
    np.random.seed(params.seed)
    _report(progress, "training", f"training {params.epochs} epoch(s) on {len(train)} frame(s)")
    t0 = time.perf_counter()
    with _TRAIN_LOCK, tempfile.TemporaryDirectory(prefix="batchseg-train-") as tmp, observer.attached():
        _, cp_train_losses, cp_test_losses = cp_train.train_seg(
            net,
            train_data=[f.image for f in train],
            train_labels=[f.labels.copy() for f in train],
            test_data=[f.image for f in val],
            test_labels=[fl.copy() for fl in observer.val_flows],
            channels=[0, 0],
            normalize=True,
            batch_size=params.batch_size,
            learning_rate=params.learning_rate,
            weight_decay=params.weight_decay,
            SGD=params.optimizer == "sgd",
            n_epochs=params.epochs,
            nimg_per_epoch=images_per_epoch,
            bsize=params.crop_size,
            min_train_masks=0,  # frames below min_masks were skipped (and reported) already
            save_path=tmp,
            save_every=10**9,
            model_name="model",
        )
    timings["training"] = time.perf_counter() - t0
    if len(observer.train_losses) != params.epochs:  # pragma: no cover - would mean train_seg changed
        raise RuntimeError(
            f"observed {len(observer.train_losses)} epochs, expected {params.epochs}: "
            "this Cellpose version's train_seg does not work as expected"
        )
    if _is_cancelled(cancel):
        raise CancelledError("training cancelled; nothing saved")

    from cellpose import models as cp_models

    _report(progress, "evaluate", f"validation AP@0.5 of the new model on {len(val)} frame(s)")
    diam_labels = float(net.diam_labels.item())
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(out) as tmp_model:
            _save_state(net, tmp_model, params.half_precision)
            t0 = time.perf_counter()
            reloaded = cp_models.CellposeModel(
                gpu=base.device.is_gpu, pretrained_model=os.fspath(tmp_model), device=base.device.device
            )
            after = score(reloaded, val, diameter)
            timings["evaluate_new"] = time.perf_counter() - t0
            model_sha = sha256_file(tmp_model)
            model_bytes = tmp_model.stat().st_size
            if _is_cancelled(cancel):
                raise CancelledError("training cancelled; nothing saved")
            timings["total"] = time.perf_counter() - t_start
            record = {
                "format": PROVENANCE_FORMAT,
                "created": started.isoformat(timespec="seconds"),
                "finished": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                "model": {
                    "path": str(out),
                    "sha256": model_sha,
                    "bytes": model_bytes,
                    "precision": "float16" if params.half_precision else "float32",
                    "diam_mean": float(net.diam_mean.item()),
                    "diam_labels": diam_labels,
                    "loads_with": f"cellpose.models.CellposeModel(pretrained_model={str(out)!r})",
                },
                "base_model": {
                    "name": base.name,
                    "kind": base.kind,
                    "weights": str(base.weights) if base.weights else None,
                    "sha256": base.sha256,
                },
                "parameters": {**params.to_dict(), "validation": "held-out inputs" if validation is not None
                               else f"split by {params.split}"},
                "training_files": dict(sorted(data.files.items())),
                "train_frames": describe_frames(train),
                "validation_frames": describe_frames(val),
                "skipped_frames": [
                    {"file": s.group, "frame": s.index, "reason": s.reason} for s in data.skipped
                ],
                "train_seg": {
                    "function": "cellpose.train.train_seg",
                    "channels": [0, 0],
                    "normalize": True,
                    "nimg_per_epoch": images_per_epoch,
                    "steps_per_epoch": steps_per_epoch,
                    "bsize": params.crop_size,
                    "min_train_masks": 0,
                    "optimizer": "SGD (momentum 0.9)" if params.optimizer == "sgd" else "AdamW",
                },
                "losses": {
                    "epoch": list(range(1, params.epochs + 1)),
                    "train": [round(v, 6) for v in observer.train_losses],
                    "validation": [round(v, 6) for v in observer.validation_losses],
                    "learning_rate": observer.learning_rates,
                    "seconds": [round(v, 3) for v in observer.epoch_seconds],
                    "validation_seconds": [round(v, 3) for v in observer.validation_seconds],
                    "train_seg_returned_train": [round(float(v), 6) for v in cp_train_losses],
                    "train_seg_returned_test": [round(float(v), 6) for v in cp_test_losses],
                },
                "validation": {
                    "threshold_iou": AP_THRESHOLD,
                    "diameter": round(diameter, 4),
                    "diameter_rule": "mean diameter of the training masks (the new model's diam_labels)",
                    "eval": {"channels": [0, 0], "flow_threshold": 0.4, "cellprob_threshold": 0.0},
                    "before": asdict(before) if before else None,
                    "after": asdict(after),
                },
                "device": base.device.description,
                "device_warning": base.device.warning,
                "platform": platform_summary(),
                "versions": package_versions(),
                "seconds": {k: round(v, 2) for k, v in timings.items()},
            }
    except OSError as exc:
        raise OutputError(f"cannot write the model {out}: {exc.strerror or exc}") from exc
    try:
        atomic_write_text(prov_path, json.dumps(record, indent=2) + "\n")
    except BaseException:
        with contextlib.suppress(OSError):
            out.unlink()
        raise
    if remember:
        from .registry import remember_model

        with contextlib.suppress(OSError):
            remember_model(out)
    _report(progress, "done", f"saved {out}")
    return TrainingResult(
        out, prov_path, observer.train_losses, observer.validation_losses, before, after, record
    )


__all__ = [
    "SCRATCH",
    "TrainingParams",
    "TrainingProgress",
    "TrainingResult",
    "ValidationScore",
    "check_output",
    "load_base_model",
    "provenance_path_for",
    "score",
    "train_model",
    "training_diameter",
]
