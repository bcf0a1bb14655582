"""The Cellpose 4 adapter: Cellpose-SAM (``cpsam_v2``, ``cpsam``, ...) behind the Segmenter protocol.

What differs from Cellpose 3 (:mod:`.segmenter`), and how this adapter handles it:

* **Model names.** Cellpose 4 loads any name that is neither one of its ``MODEL_NAMES`` nor in the
  user's model list *as* ``cpsam_v2``, with only a warning. Here a name is a Cellpose 4 built-in
  (:data:`~..catalog.CELLPOSE4_MODELS`, looked up in ``CELLPOSE_LOCAL_MODELS_PATH``, downloaded once if
  allowed) or an existing model file; a Cellpose 3 built-in name (``cyto3``, ...) and a Cellpose 3
  weights file are refused before anything is loaded, saying how to get Cellpose 3. ``CellposeModel``
  is always handed the resolved file, so it never substitutes another model.
* **Channels.** The network takes 3 channels; ``channels=`` is ignored. The segmenter is handed the
  prepared frame: ``(Y, X)`` for one channel, ``(C, Y, X)`` with ``C <= 3`` for several (in the order
  asked for, ``--channel 0,2``), evaluated with ``channel_axis=0``; Cellpose zero-pads to 3 channels.
* **Diameter.** ``diameter=0`` ("auto") means the model's native scale: ``eval(diameter=None)``, no
  rescaling (Cellpose 4 has no size model). A diameter ``D > 0`` rescales the image by ``30 / D``.
* **Precision.** ``precision="auto"`` (default) runs bfloat16 (Cellpose 4's default) where the device
  computes it natively (a CUDA GPU that supports it, Apple MPS, a CPU with ``avx512_bf16`` /
  ``amx_bf16``) and float32 elsewhere: on a CPU without native bfloat16 it is emulated and several
  times slower (docs/cellpose4.md). ``precision="float32"`` / ``"bfloat16"`` force one (CLI
  ``--precision``); the older ``extra={"use_bfloat16": ...}`` is still read when precision is auto.
  The log says which precision ran and why.

* **Volumes** (``z_mode`` 3d / stitch, :meth:`Cellpose4Segmenter.segment_volume`): one ``eval`` call
  per ``(Z, Y, X)`` volume with ``z_axis=0`` and ``do_3D=True, anisotropy=...`` or
  ``stitch_threshold=...`` (:mod:`.volume`), where the installed ``eval`` takes them. Cellpose 4 runs
  its network on the YX, ZY and ZX slices for ``3d``; a stitch threshold of 0 is refused before the
  model is loaded (Cellpose 4 refuses a Z axis that would not be stitched).

Each frame is segmented with exactly the ``CellposeModel.eval`` call Cellpose makes for the same array
and arguments, so the labels equal running Cellpose by hand.
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...devices import DeviceChoice, pick_device
from ...errors import ModelError, describe
from ...params import ParameterError, SegmentationParams
from .._weights import OFFLINE_ENV
from ..base import SegmenterBase, SegmentOutput, refuse_volume
from ..catalog import CELLPOSE3_MODELS, CELLPOSE4_MODELS, cellpose_version
from .files import (
    MODEL_DIR_ENV,
    cellpose_models,
    ensure_builtin_file,
    model_dir,
    model_url,
    resolve_user_model,
    sha256,
)
from .files import weights_major as _weights_major
from .segmenter import CP3_INSTALL, channel_count, require_installed_major
from .volume import eval_volume, offered_modes, refuse_unstitched

__all__ = [
    "MAX_CHANNELS",
    "NATIVE_SCALE",
    "Cellpose4Segmenter",
    "choose_precision",
    "cpu_bf16_flags",
    "download_note",
]

#: CPU flags (Linux ``/proc/cpuinfo``) that mean native bfloat16 arithmetic
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_bf16_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> list[str]:
    """The native-bfloat16 flags of this CPU (empty where none, or where ``cpuinfo`` cannot be read)."""
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return []
    flags: set[str] = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
    return [f for f in BF16_CPU_FLAGS if f in flags]


def choose_precision(
    precision: str, device_type: str, cpuinfo: str | Path = "/proc/cpuinfo"
) -> tuple[str, str]:
    """``(precision, why)``: ``"float32"`` or ``"bfloat16"`` on a device type (``cpu``, ``cuda``, ``mps``).

    ``precision`` other than ``"auto"`` is kept (forced). Auto: bfloat16 where the device computes it
    natively, float32 where it would be emulated (a CPU without ``avx512_bf16``/``amx_bf16``).
    """
    if precision != "auto":
        return precision, "forced (--precision)"
    if device_type == "cuda":
        import torch

        if torch.cuda.is_bf16_supported():
            return "bfloat16", "auto: the GPU supports bfloat16"
        return "float32", "auto: the GPU has no bfloat16 support"
    if device_type == "mps":
        return "bfloat16", "auto: Apple GPU (Cellpose 4's default)"
    flags = cpu_bf16_flags(cpuinfo)
    if flags:
        return "bfloat16", f"auto: the CPU has native bfloat16 ({', '.join(flags)})"
    return "float32", "auto: the CPU has no native bfloat16 (no avx512_bf16 or amx_bf16 flag): float32"

#: Channels the Cellpose 4 network sees (more would be cut by Cellpose; fewer are zero-padded).
MAX_CHANNELS = 3
#: How the log and the help name diameter 0 under Cellpose 4.
NATIVE_SCALE = "model's native scale (diameter 0 = auto: no rescaling; Cellpose 4 has no size model)"
_SIZE_NOTE = {"cpsam": "~1.2 GB", "cpsam_v2": "~1.2 GB"}


def download_note(name: str) -> str:
    """How to pre-download a Cellpose 4 built-in model for an offline machine (its size included)."""
    folder = model_dir()
    size = _SIZE_NOTE.get(name, "large (Cellpose 4 models are ~0.4-1.2 GB)")
    return (
        f"The file is {size}. For an offline cluster, fetch it once where there is internet, e.g. "
        f"`curl -L -o {folder / name} {model_url(name)}` (or run `batchseg segment` once with internet), "
        f"and point {MODEL_DIR_ENV} at that folder on the compute nodes (with {OFFLINE_ENV}=1 nothing is "
        "downloaded there)."
    )


class Cellpose4Segmenter(SegmenterBase):
    """Segment prepared frames with one loaded Cellpose 4 model.

    Build it with :meth:`from_params` (loads the model once). :meth:`segment` gives exactly the labels
    ``CellposeModel.eval(image, channel_axis=0 if image.ndim == 3 else None, diameter=...)`` gives.

    Attributes
    ----------
    batch_size
        ``1``: frames go one by one (grouping frames is not implemented for Cellpose 4).
    eval_batch_size
        Cellpose's ``batch_size``: 256x256 tiles per network call.
    """

    name = "cellpose"

    def __init__(
        self,
        model: Any,
        *,
        model_name: str,
        kind: str,
        weights: Path,
        device: DeviceChoice,
        diameter: float | None,
        bfloat16: bool,
        precision_reason: str = "",
        n_channels: int = 1,
        cellprob_threshold: float = 0.0,
        flow_threshold: float = 0.4,
        niter: int | None = None,
        batch_size: int = 8,
        debug: bool = False,
    ) -> None:
        self.model = model
        self.model_name = model_name
        self.kind = kind
        self.weights = weights
        self.device = device
        self.diameter = diameter
        self.bfloat16 = bool(bfloat16)
        self.precision_reason = precision_reason
        self.n_channels = int(n_channels)
        self.cellprob_threshold = float(cellprob_threshold)
        self.flow_threshold = float(flow_threshold)
        self.niter = niter
        self.eval_batch_size = int(batch_size)
        self.batch_size = 1
        self.debug = bool(debug)
        #: the Z modes the installed Cellpose 4's ``eval`` offers (``do_3D``, ``stitch_threshold``)
        self.volume_modes = offered_modes(getattr(model, "eval", None))

    # ------------------------------------------------------------------ construction
    @classmethod
    def resolve_weights(cls, params: SegmentationParams) -> tuple[str, str, Path]:
        """``(name, kind, weights file)`` for ``params.model``, or the guard's error; loads nothing.

        Raises
        ------
        ModelError
            A Cellpose 3 built-in name, a missing file or built-in weights that cannot be had, a
            Cellpose 3 weights file, a ``cpdino`` model without ``dinov3``.
        ParameterError
            More than 3 channels.
        """
        version = require_installed_major(4)
        if channel_count(params) > MAX_CHANNELS:
            raise ParameterError(
                f"channel {params.channel!r}: Cellpose 4 takes up to {MAX_CHANNELS} channels"
            )
        name = str(params.model).strip()
        if name in CELLPOSE3_MODELS and not Path(name).expanduser().is_file():
            raise ModelError(
                f"Cellpose model '{name}' is a Cellpose 3 built-in model, but the installed Cellpose is "
                f"{version}, whose built-in models are {', '.join(CELLPOSE4_MODELS)} (Cellpose 4 itself "
                f"would silently run cpsam_v2 instead). Use --model {CELLPOSE4_MODELS[0]}, or install "
                f"Cellpose 3 to use '{name}': {CP3_INSTALL}"
            )
        if name in CELLPOSE4_MODELS:
            if name.startswith("cpdino") and importlib.util.find_spec("dinov3") is None:
                raise ModelError(
                    f"Cellpose model '{name}' needs the dinov3 package: "
                    "pip install git+https://github.com/facebookresearch/dinov3"
                )
            weights = ensure_builtin_file(name, name, "weights", note=download_note(name))
            kind = "builtin"
        else:
            weights = resolve_user_model(name, CELLPOSE4_MODELS)
            kind = "user"
        if _weights_major(weights) == 3:
            raise ModelError(
                f"Cellpose model '{name}' ({weights}) is a Cellpose 3 model; the installed Cellpose "
                f"{version} cannot load it. Use a Cellpose 4 model (e.g. --model {CELLPOSE4_MODELS[0]}), or "
                f"install Cellpose 3 to use it: {CP3_INSTALL}"
            )
        return name, kind, weights

    @classmethod
    def from_params(cls, params: SegmentationParams) -> Cellpose4Segmenter:
        """Resolve the model (guards first), pick the device and load the weights once.

        Raises
        ------
        ModelError
            See :meth:`resolve_weights`; or the file cannot be loaded.
        ParameterError
            More than 3 channels, a bad ``use_bfloat16`` setting, or ``z_mode`` stitch with a stitch
            threshold of 0.
        """
        name, kind, weights = cls.resolve_weights(params)
        if params.z_mode != "project":  # before the model is loaded
            refuse_unstitched(params.z_mode, params.stitch_threshold, str(cellpose_version()))
        legacy = params.extra.get("use_bfloat16")
        if legacy is not None and not isinstance(legacy, bool):
            raise ParameterError(f"use_bfloat16 must be true or false, got {legacy!r}")

        cp_models = cellpose_models()

        choice = pick_device(params.gpu)
        if params.precision == "auto" and legacy is not None:
            precision, why = ("bfloat16" if legacy else "float32"), "use_bfloat16 setting"
        else:
            precision, why = choose_precision(params.precision, choice.device.type)
        bf16 = precision == "bfloat16"
        try:
            model = cp_models.CellposeModel(
                gpu=choice.is_gpu, pretrained_model=os.fspath(weights), device=choice.device,
                use_bfloat16=bf16,
            )
        except Exception as exc:
            raise ModelError(
                f"Cellpose model '{name}' ({weights}) could not be loaded: is it a Cellpose 4 model "
                f"file? ({describe(exc)})"
            ) from exc
        if Path(model.pretrained_model).resolve() != Path(weights).resolve():  # never a stand-in
            raise ModelError(
                f"Cellpose loaded {model.pretrained_model} instead of {weights} for model '{name}'"
            )
        return cls(
            model,
            model_name=name,
            kind=kind,
            weights=weights,
            device=choice,
            diameter=params.diameter if params.diameter > 0 else None,
            bfloat16=bf16,
            precision_reason=why,
            n_channels=channel_count(params),
            cellprob_threshold=params.cellprob_threshold,
            flow_threshold=params.flow_threshold,
            niter=params.niter if params.niter > 0 else None,
            batch_size=params.batch_size,
            debug=params.debug,
        )

    # ------------------------------------------------------------------ provenance
    def diameter_rule(self) -> str:
        """How the diameter is chosen: given (rescale by 30/D) or the model's native scale."""
        return "given (image rescaled by 30/diameter)" if self.diameter is not None else NATIVE_SCALE

    def describe(self) -> dict[str, Any]:
        """Facts for the run log: Cellpose major, model, weights path and sha256, bfloat16, device."""
        import cellpose
        import torch

        info: dict[str, Any] = {
            "method": "cellpose",
            "cellpose_version": getattr(cellpose, "version", cellpose_version() or "unknown"),
            "cellpose_major": 4,
            "model": self.model_name,
            "model_kind": self.kind,
            "backbone": getattr(self.model, "backbone", "unknown"),
            "weights": os.fspath(self.weights),
            "weights_sha256": sha256(self.weights),
            "bfloat16": self.bfloat16,
            "precision": "bfloat16" if self.bfloat16 else "float32",
            "precision_reason": self.precision_reason,
            "diameter": self.diameter if self.diameter is not None else "native scale",
            "diameter_rule": self.diameter_rule(),
            "model_diam_mean": 30.0,  # a diameter D rescales the image by 30 / D, as in Cellpose 3
            "cellprob_threshold": self.cellprob_threshold,
            "flow_threshold": self.flow_threshold,
            "niter": self.niter if self.niter is not None else "auto",
            "batch_size": self.eval_batch_size,
            "channels": self.n_channels,
            "channel_axis": 0 if self.n_channels > 1 else None,
            "device": self.device.description,
            "torch_version": torch.__version__,
        }
        if self.device.warning:
            info["device_warning"] = self.device.warning
        return info

    # ------------------------------------------------------------------ segmentation
    def eval_arguments(self, image: NDArray[Any]) -> dict[str, Any]:
        """The keyword arguments :meth:`segment` hands ``CellposeModel.eval`` with ``image``."""
        return {
            "batch_size": self.eval_batch_size,
            "channel_axis": 0 if image.ndim == 3 else None,
            "diameter": self.diameter,
            "flow_threshold": self.flow_threshold,
            "cellprob_threshold": self.cellprob_threshold,
            "niter": self.niter,
        }

    def segment(self, image: NDArray[Any]) -> SegmentOutput:
        """Segment one prepared frame: ``(Y, X)``, or ``(C, Y, X)`` with ``C <= 3`` channels."""
        image = np.asarray(image)
        if image.ndim not in (2, 3) or (image.ndim == 3 and not 1 <= image.shape[0] <= MAX_CHANNELS):
            raise ValueError(
                f"Cellpose4Segmenter.segment expects a (Y, X) or (C, Y, X) image with C <= {MAX_CHANNELS}, "
                f"got {image.shape}"
            )
        t0 = time.perf_counter()
        masks, flows, _styles = self.model.eval(image, **self.eval_arguments(image))
        yx = image.shape[-2:]
        labels = np.asarray(masks)
        if labels.shape != yx:  # an empty result can come back squeezed oddly
            labels = labels.reshape(yx)
        debug: dict[str, NDArray[Any]] = {}
        if self.debug:
            debug["flows"] = np.asarray(flows[0], dtype=np.uint8)
            debug["cellprob"] = np.asarray(flows[2], dtype=np.float32)
        info = {
            "diameter": round(float(self.diameter), 3) if self.diameter is not None else "native",
            "n_objects": int(labels.max()) if labels.size else 0,
            "seconds": round(time.perf_counter() - t0, 4),
        }
        return SegmentOutput(labels=labels, debug=debug, info=info)

    def segment_volume(
        self, volume: NDArray[Any], mode: str, anisotropy: float | None, stitch_threshold: float
    ) -> SegmentOutput:
        """Segment one prepared ``(Z, Y, X)`` volume: ``do_3D`` (``mode="3d"``) or slices stitched.

        The labels equal ``CellposeModel.eval(volume, z_axis=0, channel_axis=None, do_3D=True,
        anisotropy=..., ...)`` (or ``stitch_threshold=...``) with the arguments :meth:`segment` gives a
        plane; see :mod:`.volume`.
        """
        if mode not in self.volume_modes:
            raise refuse_volume(f"Cellpose {cellpose_version()}", mode, self.volume_modes,
                                "its CellposeModel.eval lacks the arguments")
        refuse_unstitched(mode, stitch_threshold, str(cellpose_version()))
        volume = np.asarray(volume)
        if volume.ndim != 3:
            raise ValueError(f"a volume is (Z, Y, X), got shape {volume.shape}")
        kwargs = self.eval_arguments(volume[0])  # a plane's arguments: one channel, channel_axis None
        reported = round(float(self.diameter), 3) if self.diameter is not None else "native"
        return eval_volume(self.model, volume, kwargs, mode, anisotropy, stitch_threshold, self.debug,
                           reported)
