"""The Cellpose 3 adapter: Cellpose 3 behind the :class:`~..base.Segmenter` protocol.

Cellpose 4 has its own adapter (:mod:`.v4`); :func:`~napari_batchseg.segmenters.cellpose.load_cellpose`
picks the one for the installed Cellpose.

The model is resolved (:mod:`.files`) and loaded once, in :meth:`CellposeSegmenter.from_params`. Each
frame is segmented with exactly the call ``CellposeModel.eval`` makes for the same image and parameters
(``channels=[0, 0]``: the segmenter is handed one prepared grayscale plane), so the labels are identical
to running Cellpose by hand; :meth:`CellposeSegmenter.segment_batch` evaluates groups of frames in one
call (:mod:`.batch`) with the same labels.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...devices import DeviceChoice, pick_device
from ...errors import ModelError, describe
from ...params import ParameterError, SegmentationParams
from ..base import SegmenterBase, SegmentOutput
from ..catalog import CELLPOSE3_MODELS, CELLPOSE4_MODELS, CELLPOSE_SIZE_MODELS, cellpose_version
from .batch import cellpose_eval_batch
from .files import (
    builtin_weights_name,
    cellpose_model_dir,
    cellpose_models,
    ensure_builtin_file,
    resolve_user_model,
    sha256,
    size_weights_name,
    weights_major,
)
from .restore import Restorer
from .volume import VOLUME_MODES, eval_volume

__all__ = ["CP3_INSTALL", "CP4_INSTALL", "CellposeSegmenter", "channel_count"]

#: How to get the other Cellpose (one is installed at a time); README, "Cellpose 3 or Cellpose 4".
CP4_INSTALL = 'pip install "napari-batchseg[cp4]" (or scripts/setup_cp4.sh, a separate environment)'
CP3_INSTALL = 'pip install "napari-batchseg[cp3]" (or scripts/setup.sh)'


def channel_count(params: SegmentationParams) -> int:
    """How many channels ``params.channel`` asks for (a list or ``"0,2"`` asks for several)."""
    channel: object = params.channel
    if isinstance(channel, (list, tuple)):
        return len(channel)
    if isinstance(channel, str) and "," in channel:
        return len([c for c in channel.split(",") if c.strip()])
    return 1


def require_installed_major(major: int) -> str:
    """The installed Cellpose's version, or :class:`ModelError` when its major is not ``major``.

    Each adapter (Cellpose 3 here, Cellpose 4 in :mod:`.v4`) checks it before anything else.
    """
    version = cellpose_version() or "not installed"
    if not version.startswith(f"{major}."):
        raise ModelError(
            f"this is the Cellpose {major} adapter but the installed Cellpose is {version}; "
            "napari_batchseg.segmenters.load_segmenter picks the adapter of the installed Cellpose"
        )
    return version


class CellposeSegmenter(SegmenterBase):
    """Segment prepared 2D planes with one loaded Cellpose 3 model.

    Build it with :meth:`from_params`; the model is loaded there, once. :meth:`segment` gives exactly
    the labels ``CellposeModel.eval(image, channels=[0, 0], ...)`` gives for the same parameters;
    :meth:`segment_batch` gives the same labels with one ``eval`` call per group of frames.

    Attributes
    ----------
    batch_size
        Cellpose's ``batch_size`` (224x224 tiles per network call), also the number of frames worth
        grouping in one :meth:`segment_batch` call on a GPU.
    """

    name = "cellpose"
    volume_modes = VOLUME_MODES

    def __init__(
        self,
        model: Any,
        *,
        model_name: str,
        kind: str,
        weights: Path,
        device: DeviceChoice,
        diameter: float | None,
        size_model: Any = None,
        size_weights: Path | None = None,
        cellprob_threshold: float = 0.0,
        flow_threshold: float = 0.4,
        niter: int | None = None,
        batch_size: int = 8,
        debug: bool = False,
        restorer: Restorer | None = None,
        keep_flows: bool = False,
        min_size: int = 15,
    ) -> None:
        self.model = model
        self.model_name = model_name
        self.kind = kind
        self.weights = weights
        self.device = device
        self.diameter = diameter
        self.size_model = size_model
        self.size_weights = size_weights
        self.cellprob_threshold = float(cellprob_threshold)
        self.flow_threshold = float(flow_threshold)
        self.niter = niter
        self.batch_size = int(batch_size)
        self.debug = bool(debug)
        self.restorer = restorer
        self.keep_flows = bool(keep_flows)
        self.min_size = int(min_size)
        self.training_diameter = float(np.asarray(model.diam_labels).item())
        self.diam_mean = float(np.asarray(model.diam_mean).item())

    # ------------------------------------------------------------------ construction
    @classmethod
    def resolve_weights(cls, params: SegmentationParams) -> tuple[str, bool, Path, Path | None]:
        """``(name, built-in?, weights file, size-model file)`` for ``params.model``, or the guard's error.

        Loads nothing (no torch, no network object): what ``--dry-run`` checks and :meth:`from_params`
        does first, so bad paths fail fast. A missing built-in file is downloaded when allowed
        (:func:`~.files.ensure_builtin_file`), as the run would; in a dry run it is only noted.

        Raises
        ------
        ModelError
            The model cannot be found or downloaded; it is a Cellpose 4 model; or Cellpose 4 is installed.
        ParameterError
            ``diameter=0`` for a built-in model that has no size model; several channels.
        """
        version = require_installed_major(3)
        name = str(params.model).strip()
        builtin = name in CELLPOSE3_MODELS
        if channel_count(params) > 1:
            raise ParameterError(
                f"channel {params.channel!r}: Cellpose {version} segments one channel here; several "
                f"channels (up to 3) need Cellpose 4: {CP4_INSTALL}"
            )
        if builtin and params.diameter == 0 and name not in CELLPOSE_SIZE_MODELS:
            raise ParameterError(
                f"diameter=0 (estimate) is not available for Cellpose model '{name}': only "
                f"{', '.join(CELLPOSE_SIZE_MODELS)} have a size model. Give the typical object diameter in "
                "pixels (e.g. diameter=30)"
            )
        if builtin:
            weights = ensure_builtin_file(name, builtin_weights_name(name), "weights")
            size_weights = (
                ensure_builtin_file(
                    name, size_weights_name(name), "size-model (needed for diameter=0)"
                )
                if params.diameter == 0
                else None
            )
        else:
            v4_name = name in CELLPOSE4_MODELS
            hint = (
                f"'{name}' is a Cellpose 4 built-in model and the installed Cellpose is {version}; "
                f"to use it install Cellpose 4: {CP4_INSTALL}"
            ) if v4_name else ""
            weights = resolve_user_model(name, CELLPOSE3_MODELS, hint)
            size_weights = None
            if weights_major(weights) == 4:
                raise ModelError(
                    f"Cellpose model '{name}' ({weights}) is a Cellpose 4 (Cellpose-SAM) model; the "
                    f"installed Cellpose {version} cannot load it. Install Cellpose 4: {CP4_INSTALL}"
                )
        return name, builtin, weights, size_weights

    @classmethod
    def from_params(cls, params: SegmentationParams) -> CellposeSegmenter:
        """Resolve the model, check the diameter rule, pick the device and load the weights once.

        Raises
        ------
        ModelError
            The model cannot be found, downloaded or loaded; it is a Cellpose 4 model; or Cellpose 4
            is the Cellpose installed (its adapter is :class:`~.v4.Cellpose4Segmenter`).
        ParameterError
            ``diameter=0`` for a built-in model that has no size model; several channels.
        """
        name, builtin, weights, size_weights = cls.resolve_weights(params)

        cp_models = cellpose_models()

        choice = pick_device(params.gpu)
        try:
            if builtin:
                with cellpose_model_dir(weights.parent):
                    model = cp_models.CellposeModel(
                        gpu=choice.is_gpu, model_type=name, device=choice.device, nchan=2
                    )
            else:
                model = cp_models.CellposeModel(
                    gpu=choice.is_gpu, pretrained_model=os.fspath(weights), device=choice.device
                )
        except Exception as exc:
            raise ModelError(
                f"Cellpose model '{name}' ({weights}) could not be loaded: is it a Cellpose 3 model "
                f"file? ({describe(exc)})"
            ) from exc

        size_model = None
        if size_weights is not None:
            try:
                size_model = cp_models.SizeModel(
                    cp_model=model, device=choice.device, pretrained_size=os.fspath(size_weights)
                )
            except Exception as exc:
                raise ModelError(
                    f"Cellpose size model for '{name}' ({size_weights}) could not be loaded "
                    f"({describe(exc)})"
                ) from exc

        diameter = params.diameter if params.diameter > 0 else None
        restorer = Restorer.load(params.restore, choice, diameter) if params.restore else None
        return cls(
            model,
            model_name=name,
            kind="builtin" if builtin else "user",
            weights=weights,
            device=choice,
            diameter=params.diameter if params.diameter > 0 else None,
            size_model=size_model,
            size_weights=size_weights,
            cellprob_threshold=params.cellprob_threshold,
            flow_threshold=params.flow_threshold,
            niter=params.niter if params.niter > 0 else None,
            batch_size=params.batch_size,
            debug=params.debug,
            restorer=restorer,
            keep_flows=params.keep_flows,
            min_size=params.min_size,
        )

    # ------------------------------------------------------------------ provenance
    def diameter_rule(self) -> str:
        """How the diameter is chosen: given, estimated per frame, or the training diameter."""
        if self.diameter is not None:
            return "given"
        if self.size_model is not None:
            return "estimated per frame (Cellpose size model)"
        return "model training diameter"

    def describe(self) -> dict[str, Any]:
        """Facts for the run log: model, weights, diameter rule, device, package versions."""
        import cellpose
        import torch

        if self.diameter is not None:
            used: float | str = self.diameter
        elif self.size_model is not None:
            used = "estimated per frame"
        else:
            used = round(self.training_diameter, 3)
        info: dict[str, Any] = {
            "method": "cellpose",
            "model": self.model_name,
            "model_kind": self.kind,
            "weights": os.fspath(self.weights),
            "diameter": used,
            "diameter_rule": self.diameter_rule(),
            "training_diameter": round(self.training_diameter, 3),
            "model_diam_mean": round(self.diam_mean, 3),
            "cellprob_threshold": self.cellprob_threshold,
            "flow_threshold": self.flow_threshold,
            "niter": self.niter if self.niter is not None else "auto",
            "batch_size": self.batch_size,
            "channels": [0, 0],
            "device": self.device.description,
            "cellpose_version": getattr(cellpose, "version", "unknown"),
            "cellpose_major": 3,
            "bfloat16": False,
            "torch_version": torch.__version__,
        }
        info["weights_sha256"] = sha256(self.weights)
        if self.size_weights is not None:
            info["size_weights"] = os.fspath(self.size_weights)
        if self.device.warning:
            info["device_warning"] = self.device.warning
        info["min_size"] = self.min_size
        if self.keep_flows:
            info["keep_flows"] = True
        if self.restorer is not None:
            info.update(self.restorer.describe())
        return info

    # ------------------------------------------------------------------ segmentation
    def _diameter_for(self, image: NDArray[Any]) -> tuple[float | None, float]:
        """``(value handed to eval, diameter reported)`` for one image."""
        if self.diameter is not None:
            return self.diameter, self.diameter
        if self.size_model is not None:  # exactly what cellpose.models.Cellpose.eval does
            diam, _ = self.size_model.eval(
                image,
                channels=[0, 0],
                channel_axis=None,
                batch_size=self.batch_size,
                normalize=True,
                invert=False,
            )
            return diam, float(np.asarray(diam).item())
        return None, self.training_diameter  # eval rescales by diam_mean / diam_labels

    def _niter_used(self, diameter: Any) -> int:
        """The dynamics iterations ``eval`` runs for ``diameter`` (as ``follow_flows`` casts them)."""
        if self.niter is not None:
            return int(self.niter)
        model = self.model
        if diameter is not None and diameter > 0:
            rescale = model.diam_mean / diameter
        else:
            rescale = model.diam_mean / model.diam_labels
        return int(np.uint32(1 / rescale * 200))

    def _kept(self, debug: dict[str, NDArray[Any]], info: dict[str, Any], dp: Any, cellprob: Any,
              diameter: Any) -> None:
        """With ``keep_flows``: the flows, cell probability and iterations ``batchseg rethreshold`` needs."""
        if self.keep_flows:  # dP (2, Y, X) as one (2Y, X) plane: the Y flow above the X flow
            flows = np.asarray(dp, dtype=np.float32)
            debug["dP"] = flows.reshape(flows.shape[0] * flows.shape[1], flows.shape[2])
            debug["cellprob"] = np.asarray(cellprob, dtype=np.float32)
            info["niter"] = self._niter_used(diameter)

    def segment(self, image: NDArray[Any]) -> SegmentOutput:
        """Segment one prepared ``(Y, X)`` float32 plane."""
        image = np.asarray(image)
        if image.ndim != 2:
            raise ValueError(f"CellposeSegmenter.segment expects a 2D (Y, X) image, got {image.shape}")
        t0 = time.perf_counter()
        debug: dict[str, NDArray[Any]] = {}
        if self.restorer is not None:
            image = self.restorer.restore(image)
            if self.debug:
                debug["restored"] = image
        diameter, reported = self._diameter_for(image)
        masks, flows, _styles = self.model.eval(
            image,
            batch_size=self.batch_size,
            channels=[0, 0],
            diameter=diameter,
            flow_threshold=self.flow_threshold,
            cellprob_threshold=self.cellprob_threshold,
            niter=self.niter,
            min_size=self.min_size,
        )
        labels = np.asarray(masks)
        if labels.shape != image.shape:  # an empty result can come back squeezed oddly
            labels = labels.reshape(image.shape)
        if self.debug:
            debug["flows"] = np.asarray(flows[0], dtype=np.uint8)
            debug["cellprob"] = np.asarray(flows[2], dtype=np.float32)
        info = {
            "diameter": round(float(reported), 3),
            "n_objects": int(labels.max()) if labels.size else 0,
            "seconds": round(time.perf_counter() - t0, 4),
        }
        self._kept(debug, info, flows[1], flows[2], diameter)
        return SegmentOutput(labels=labels, debug=debug, info=info)

    def segment_volume(
        self, volume: NDArray[Any], mode: str, anisotropy: float | None, stitch_threshold: float
    ) -> SegmentOutput:
        """Segment one ``(Z, Y, X)`` volume: ``do_3D`` (``mode="3d"``) or slices stitched (:mod:`.volume`).

        The labels equal ``CellposeModel.eval(volume, channels=[0, 0], z_axis=0, do_3D=True,
        anisotropy=..., ...)`` (or ``stitch_threshold=...``). The size model's diameter estimate,
        restoration and kept flows are for 2D planes and refused here.
        """
        refused = [what for what, on in (("diameter=0 (estimate)", self.diameter is None and
                                          self.size_model is not None),
                                         ("restore", self.restorer is not None),
                                         ("keep_flows", self.keep_flows)) if on]
        if refused:
            raise ParameterError(f"{', '.join(refused)}: for 2D planes only, not z_mode {mode!r}")
        kwargs = {
            "batch_size": self.batch_size, "channels": [0, 0], "diameter": self.diameter,
            "flow_threshold": self.flow_threshold, "cellprob_threshold": self.cellprob_threshold,
            "niter": self.niter, "min_size": self.min_size,
        }
        reported = round(float(self.diameter if self.diameter is not None else self.training_diameter), 3)
        return eval_volume(self.model, volume, kwargs, mode, anisotropy, stitch_threshold, self.debug,
                           reported)

    def segment_batch(self, images: Sequence[NDArray[Any]]) -> list[SegmentOutput]:
        """Segment several planes, one ``eval`` call per group of equal shape and diameter.

        Frames are grouped by shape and by the diameter used (given, the training diameter, or
        estimated per frame by the size model, exactly as :meth:`segment` does); each group of two or
        more goes through :func:`~.batch.cellpose_eval_batch`, lone frames through :meth:`segment`.
        Results come back in the input order, with the same labels, debug arrays and info as
        :meth:`segment` gives (plus ``info["batched"]``: the size of the group).
        """
        arrays = [np.asarray(im) for im in images]
        if len(arrays) <= 1 or any(a.ndim != 2 for a in arrays) or self.restorer is not None:
            return [self.segment(a) for a in arrays]
        t0 = time.perf_counter()
        chosen = [self._diameter_for(a) for a in arrays]
        groups: dict[tuple[tuple[int, ...], float | None], list[int]] = {}
        for i, (a, (diameter, _reported)) in enumerate(zip(arrays, chosen, strict=True)):
            key = (a.shape, None if diameter is None else float(np.asarray(diameter).item()))
            groups.setdefault(key, []).append(i)
        outs: list[SegmentOutput | None] = [None] * len(arrays)
        for (_shape, diameter), members in groups.items():
            if len(members) == 1:
                outs[members[0]] = self.segment(arrays[members[0]])
                continue
            masks, flows = cellpose_eval_batch(
                self.model, [arrays[i] for i in members],
                batch_size=self.batch_size, diameter=diameter,
                flow_threshold=self.flow_threshold, cellprob_threshold=self.cellprob_threshold,
                niter=self.niter, min_size=self.min_size,
            )
            seconds = (time.perf_counter() - t0) / len(arrays)
            for j, i in enumerate(members):
                labels = np.asarray(masks[j])
                debug: dict[str, NDArray[Any]] = {}
                if self.debug:
                    debug["flows"] = np.asarray(flows[j][0], dtype=np.uint8)
                    debug["cellprob"] = np.asarray(flows[j][2], dtype=np.float32)
                info = {
                    "diameter": round(float(chosen[i][1]), 3),
                    "n_objects": int(labels.max()) if labels.size else 0,
                    "seconds": round(seconds, 4),
                    "batched": len(members),
                }
                self._kept(debug, info, flows[j][1], flows[j][2], diameter)
                outs[i] = SegmentOutput(labels=labels, debug=debug, info=info)
        return [o for o in outs if o is not None]
