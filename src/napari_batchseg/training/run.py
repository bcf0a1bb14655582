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
  ``CellposeModel(pretrained_model=...)`` and measured; ``<model>.json`` (provenance) is written under
  a temporary name too, then both are renamed into place, the provenance first, the model last. A
  failure, cancel or stop before the model's rename leaves the model and provenance that were there
  before (``overwrite``), or neither; a model put in place is never removed.
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
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from .._cancel import is_cancelled as _is_cancelled
from ..errors import CancelledError, InputError, OutputError
from ..io.atomic import Stage, atomic_path, atomic_write_text, publish_all, sha256_file, staged
from ..provenance import package_versions, platform_summary
from .bars import no_progress_bars_off_a_terminal
from .base import check_output, load_base_model, provenance_path_for, score, training_diameter
from .data import (
    TrainingData,
    check_usable,
    describe_frames,
)
from .observer import _EpochObserver
from .options import (
    AP_THRESHOLD,
    PROVENANCE_FORMAT,
    SCRATCH,
    CancelCheck,
    ProgressCallback,
    TrainingParams,
    TrainingProgress,
    TrainingResult,
    ValidationScore,
)
from .sources import collect_training_data

_TRAIN_LOCK = threading.Lock()  # the loss observer patches a module attribute: one training at a time


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


def _publish_together(stage: Stage, model: Path, prov: Path) -> None:
    """Rename the staged provenance file, then the staged model, into place; the model's rename commits.

    :func:`~napari_batchseg.io.atomic.publish_all`: a signal waits until both are in place; a failure
    before the model is in place puts the earlier provenance file back (or removes the new one), so
    ``model`` and ``<model>.json`` stay a pair: the new ones, or those that were there before
    (``overwrite``). A model put in place is never removed. Called inside :func:`staged`, whose end
    removes the temporary files not renamed on an exception.
    """
    publish_all(stage, (prov, model))


def train_model(
    inputs: TrainingData | str | Path | Iterable[str | Path],
    output: str | Path,
    params: TrainingParams | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelCheck = None,
    overwrite: bool = False,
    remember: bool = True,
    validation: TrainingData | str | Path | Iterable[str | Path] | None = None,
) -> TrainingResult:
    """Train a Cellpose model and save it with its provenance (``<output>.json``).

    Parameters
    ----------
    inputs
        Files and folders (``_vSM.ome.tif`` masks, ``<name>.tif`` + ``<name>_masks.tif`` pairs; one path or
        several), or
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

    Notes
    -----
    Cellpose's own tqdm bars (flows, diameters) show only when ``sys.stderr`` is a terminal: in a log
    file, a pipe or a batch system's output they would be lines of carriage returns (``progress`` tells
    the progress).
    """
    with no_progress_bars_off_a_terminal():  # (Cellpose's tqdm bars: on a terminal only, as the CLI's)
        return _train(inputs, output, params, progress, cancel, overwrite, remember, validation)


def _train(
    inputs: TrainingData | str | Path | Iterable[str | Path],
    output: str | Path,
    params: TrainingParams | None,
    progress: ProgressCallback | None,
    cancel: CancelCheck,
    overwrite: bool,
    remember: bool,
    validation: TrainingData | str | Path | Iterable[str | Path] | None,
) -> TrainingResult:
    """:func:`train_model`'s run."""
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
        data = collect_training_data(inputs, params.frames, params.min_masks,
                                     axes=params.axes, force_labels=params.force_labels)
    if validation is None:
        train, val = data.split(params.validation_fraction, params.split, params.seed)
    else:
        if isinstance(validation, TrainingData):
            held_out = validation
        else:
            held_out = collect_training_data(validation, params.validation_frames, params.min_masks,
                                             axes=params.axes, force_labels=params.force_labels)
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
        with staged() as stage:  # a failure or stop before the renames drops both temporary files
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
                    "parameters": {**params.to_dict(),
                                   "validation": "held-out inputs" if validation is not None
                                   else f"split by {params.split}"},
                    "training_files": dict(sorted(data.files.items())),
                    "train_frames": describe_frames(train),
                    "validation_frames": describe_frames(val),
                    "skipped_frames": [
                        {"file": s.group, "frame": s.index, **({} if s.z is None else {"z": s.z}),
                         "reason": s.reason} for s in data.skipped
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
            atomic_write_text(prov_path, json.dumps(record, indent=2) + "\n")  # (staged too)
            _publish_together(stage, out, prov_path)
    except OSError as exc:
        raise OutputError(f"cannot write the model {out}: {exc.strerror or exc}") from exc
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
