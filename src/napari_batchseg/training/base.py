"""The model a training starts from, where its output goes, and how a model is scored (AP@0.5)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError, OutputError
from ..io.atomic import sha256_file
from ..params import SegmentationParams
from .data import TrainingFrame
from .options import AP_THRESHOLD, SCRATCH, ValidationScore


def provenance_path_for(model_path: str | Path) -> Path:
    """``<model file>.json``: the provenance file beside a trained model."""
    p = Path(model_path)
    return p.with_name(p.name + ".json")


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
        raise OutputError(
            f"output {out} exists; choose another name or pass --overwrite (API: overwrite=True) to "
            "replace it"
        )
    folder = out.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise OutputError(f"output folder {out.parent}: {folder} is not a folder")
    try:  # a probe file, removed at once: permission bits alone mislead (root, read-only mounts)
        fd, probe = tempfile.mkstemp(prefix=".batchseg-write-test-", dir=folder)
    except OSError as exc:
        missing = "" if folder == out.parent else f" (to make the missing {out.parent} in)"
        raise OutputError(
            f"cannot save the model {out}: folder {folder} is not writable{missing} "
            f"({exc.strerror or exc})"
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


__all__ = ["check_output", "load_base_model", "provenance_path_for", "score", "training_diameter"]
