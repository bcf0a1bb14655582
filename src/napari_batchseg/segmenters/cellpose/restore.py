"""Cellpose 3 image restoration (denoise, deblur, upsample) as a step before segmentation.

:class:`Restorer` loads one ``cellpose.denoise.DenoiseModel`` and restores each prepared plane with
exactly the call Cellpose's own ``CellposeDenoiseModel.eval`` makes (``DenoiseModel.eval`` with the
same diameter and normalisation); the segmenter then segments the restored plane.

Where the weights come from:

* a **built-in** restore name (:data:`RESTORE_MODELS`: ``denoise_cyto3``, ``deblur_cyto3``,
  ``upsample_cyto3``, ``oneclick_cyto3``, the ``nuclei`` and ``cyto2`` variants, ...) is looked up in
  Cellpose's model folder (``$CELLPOSE_LOCAL_MODELS_PATH``) under its own name, downloaded once when
  allowed (:func:`~.files.ensure_builtin_file`); offline, the error says which file to put where;
* anything else is a user restore model file (a Cellpose 3 ``CPnet`` with one output), read with
  ``torch.load(weights_only=True)`` (:func:`..safe_load.load_weights`): no code runs from it.

Cellpose 4 removed ``cellpose.denoise``: :class:`~napari_batchseg.params.SegmentationParams` refuses
``restore`` there before any work.

Upsampling models (``upsample_*``) enlarge the plane by ``diam_mean / diameter`` before restoring it,
as Cellpose does; the restored plane is then resized back to the input's size (bilinear, Cellpose's
``transforms.resize_image``), so masks keep the input's pixel grid.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...devices import DeviceChoice
from ...errors import ModelError, describe
from ..safe_load import load_weights
from .files import ensure_builtin_file, model_dir, resolve_user_model, sha256

__all__ = ["RESTORE_MODELS", "Restorer", "restore_weights"]


def _restore_names() -> tuple[str, ...]:
    """``cellpose.denoise.MODEL_NAMES`` of Cellpose 3.1, built the same way (without importing torch)."""
    names: list[str] = []
    for ctype in ("cyto3", "cyto2", "nuclei"):
        for ntype in ("denoise", "deblur", "upsample", "oneclick"):
            names.append(f"{ntype}_{ctype}")
            if ctype != "cyto3":
                names.extend(f"{ntype}_{ltype}_{ctype}" for ltype in ("per", "seg", "rec"))
        if ctype != "cyto3":
            names.append(f"aniso_{ctype}")
    return tuple(names)


#: Cellpose 3's built-in restore models (``cellpose.denoise.MODEL_NAMES``)
RESTORE_MODELS: tuple[str, ...] = _restore_names()


def restore_weights(name: str) -> tuple[Path, str]:
    """The weights file of restore model ``name`` and its kind (``"builtin"`` or ``"user"``).

    Raises
    ------
    ModelError
        A built-in file is missing and cannot be downloaded; a user file does not exist, needs code
        from its pickle, or is not a one-output Cellpose 3 network (a segmentation model has three).
    """
    if name in RESTORE_MODELS:
        return ensure_builtin_file(name, name, "restore weights"), "builtin"
    path = resolve_user_model(name, RESTORE_MODELS)
    what = f"Cellpose restore model file (--restore {name})"
    state = load_weights(path, what)
    weight = state.get("output.2.weight") if isinstance(state, dict) else None
    if weight is None:
        raise ModelError(f"{what} {path} is not a Cellpose 3 network (no 'output.2.weight')")
    if int(weight.shape[0]) != 1:
        raise ModelError(
            f"{what} {path} has {int(weight.shape[0])} outputs: a segmentation model, not a restore "
            "model (one output); give it as --model, or a restore model as --restore"
        )
    return path, "user"


class Restorer:
    """One loaded Cellpose 3 restore network; :meth:`restore` restores a prepared plane.

    Parameters
    ----------
    model
        A ``cellpose.denoise.DenoiseModel``.
    name
        The restore model as given (built-in name or file).
    kind
        ``"builtin"`` or ``"user"``.
    weights
        The weights file loaded.
    diameter
        Object diameter handed to ``DenoiseModel.eval`` (``None``: no rescaling), as Cellpose's
        ``CellposeDenoiseModel.eval`` hands it its own.
    """

    def __init__(
        self, model: Any, *, name: str, kind: str, weights: Path, diameter: float | None
    ) -> None:
        self.model = model
        self.name = name
        self.kind = kind
        self.weights = weights
        self.diameter = diameter

    @classmethod
    def load(cls, name: str, device: DeviceChoice, diameter: float | None) -> Restorer:
        """Resolve and load restore model ``name`` on ``device`` (see the module notes).

        Raises
        ------
        ModelError
            The weights cannot be found or loaded (the message says why and what to do).
        """
        weights, kind = restore_weights(name)
        from cellpose import denoise

        # a built-in is loaded from the file found above: Cellpose's own lookup would download it
        diam_mean = 17.0 if "nuclei" in (name if kind == "builtin" else weights.name) else 30.0
        try:
            model = denoise.DenoiseModel(
                gpu=device.is_gpu, pretrained_model=os.fspath(weights), device=device.device,
                diam_mean=diam_mean,
            )
        except Exception as exc:
            where = f" ({model_dir()})" if kind == "builtin" else ""
            raise ModelError(
                f"Cellpose restore model '{name}' ({weights}{where}) could not be loaded "
                f"({describe(exc)})"
            ) from exc
        return cls(model, name=name, kind=kind, weights=weights, diameter=diameter)

    def restore(self, image: NDArray[Any]) -> NDArray[np.float32]:
        """The restored ``(Y, X)`` float32 plane of a prepared ``(Y, X)`` plane (same size)."""
        plane = np.asarray(image, dtype=np.float32)
        if plane.ndim != 2:
            raise ValueError(f"Restorer.restore expects a 2D (Y, X) image, got {plane.shape}")
        # as CellposeDenoiseModel.eval: Cellpose's default normalisation (a copy: Cellpose mutates it)
        from cellpose.models import normalize_default

        normalize = {**normalize_default, "normalize": True, "invert": False}
        out = self.model.eval(plane, channels=[0, 0], diameter=self.diameter, normalize=normalize)
        restored = np.asarray(out, dtype=np.float32)
        restored = restored[..., 0] if restored.ndim == 3 else restored
        if restored.shape != plane.shape:  # an upsampling model: back to the input's pixel grid
            from cellpose import transforms

            restored = np.asarray(
                transforms.resize_image(restored, plane.shape[0], plane.shape[1], no_channels=True),
                dtype=np.float32,
            )
        return restored

    def describe(self) -> dict[str, Any]:
        """Facts for the run log: the restore model, its file and the file's SHA-256."""
        return {
            "restore_model": self.name,
            "restore_kind": self.kind,
            "restore_weights": os.fspath(self.weights),
            "restore_weights_sha256": sha256(self.weights),
            "restore_diam_mean": float(self.model.diam_mean),
        }
