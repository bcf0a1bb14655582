"""Cellpose 3 behind the :class:`~napari_batchseg.segmenters.base.Segmenter` protocol.

The model is resolved and loaded once, in :meth:`CellposeSegmenter.from_params`:

* a **built-in** name (``cyto3``, ``nuclei``, ...) is looked up in Cellpose's model folder
  (``$CELLPOSE_LOCAL_MODELS_PATH``, default ``~/.cellpose/models``). A missing file is downloaded with
  Cellpose's own downloader under a socket timeout; when that fails (no internet) or
  ``BATCHSEG_OFFLINE=1`` is set, :class:`~napari_batchseg.errors.ModelError` says which file to put
  where.
* **anything else** is a path to a user-trained model file. A path that does not exist fails at once:
  Cellpose itself would silently fall back to downloading ``cyto3``.

Each frame is segmented with exactly the call ``CellposeModel.eval`` makes for the same image and
parameters (``channels=[0, 0]``: the segmenter is handed one prepared grayscale plane), so the labels
are identical to running Cellpose by hand.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import socket
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..devices import DeviceChoice, pick_device
from ..errors import ModelError
from ..params import ParameterError, SegmentationParams
from .base import SegmentOutput

#: Cellpose 3 built-in models this package offers by name.
BUILTIN_MODELS: tuple[str, ...] = (
    "cyto",
    "cyto2",
    "cyto3",
    "nuclei",
    "tissuenet_cp3",
    "livecell_cp3",
    "yeast_PhC_cp3",
    "yeast_BF_cp3",
    "bact_phase_cp3",
    "bact_fluor_cp3",
    "deepbacs_cp3",
    "cyto2_cp3",
)
#: Built-in models that have a size model, so ``diameter=0`` can be estimated.
SIZE_MODELS: tuple[str, ...] = ("cyto", "cyto2", "cyto3", "nuclei")

OFFLINE_ENV = "BATCHSEG_OFFLINE"
TIMEOUT_ENV = "BATCHSEG_DOWNLOAD_TIMEOUT"
MODEL_DIR_ENV = "CELLPOSE_LOCAL_MODELS_PATH"
DEFAULT_DOWNLOAD_TIMEOUT = 20.0
_FALLBACK_MODEL_URL = "https://www.cellpose.org/models"


# --------------------------------------------------------------------------- model files
def model_dir() -> Path:
    """Cellpose's model folder as the environment says *now*.

    Cellpose reads ``CELLPOSE_LOCAL_MODELS_PATH`` once, when it is imported; this reads it at each call
    so a setting made later (tests, a GUI) is honoured, and the same folder is handed to Cellpose.
    """
    env = os.environ.get(MODEL_DIR_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cellpose" / "models"


def builtin_weights_name(model: str) -> str:
    """File name of a built-in model's weights (as Cellpose's ``model_path`` names it)."""
    return f"{model}torch_0" if model in ("cyto", "cyto2", "nuclei") else model


def size_weights_name(model: str) -> str:
    """File name of a built-in model's size-model weights (as Cellpose's ``size_model_path``)."""
    return "size_cyto3.npy" if model == "cyto3" else f"size_{model}torch_0.npy"


def model_url(file_name: str) -> str:
    """Download address Cellpose uses for a built-in weights file."""
    try:
        from cellpose import models as cp_models

        base = getattr(cp_models, "_MODEL_URL", _FALLBACK_MODEL_URL)
    except Exception:  # pragma: no cover - cellpose missing is reported elsewhere
        base = _FALLBACK_MODEL_URL
    return f"{base}/{file_name}"


def _offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _download_timeout() -> float:
    try:
        return max(1.0, float(os.environ.get(TIMEOUT_ENV, DEFAULT_DOWNLOAD_TIMEOUT)))
    except ValueError:
        return DEFAULT_DOWNLOAD_TIMEOUT


@contextlib.contextmanager
def _socket_timeout(seconds: float):
    """Give sockets opened without a timeout (Cellpose's ``urlopen``) a default one, then restore."""
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


def _download(url: str, destination: Path) -> None:
    """Cellpose's own downloader (temp file, then move), bounded by a socket timeout."""
    from cellpose import utils as cp_utils

    with _socket_timeout(_download_timeout()):
        cp_utils.download_url_to_file(url, os.fspath(destination), progress=False)


def _folder_origin(folder: Path) -> str:
    if os.environ.get(MODEL_DIR_ENV):
        return f"{folder} (from {MODEL_DIR_ENV})"
    return f"{folder} (Cellpose's default; set {MODEL_DIR_ENV} to use another folder)"


def ensure_builtin_file(model: str, file_name: str, purpose: str) -> Path:
    """Return the local path of a built-in weights file, downloading it once if allowed.

    Raises
    ------
    ModelError
        The file is missing and cannot be downloaded (offline, or ``BATCHSEG_OFFLINE=1``); the
        message names the model, the folder, the file expected and how to provide it by hand.
    """
    folder = model_dir()
    path = folder / file_name
    if path.is_file():
        return path
    url = model_url(file_name)
    how = (
        f"To use it offline, download {url} on a computer with internet access and save it as "
        f"'{file_name}' in {folder}, or set {MODEL_DIR_ENV} to a folder that holds it."
    )
    head = (
        f"Cellpose built-in model '{model}': {purpose} file '{file_name}' not found in "
        f"{_folder_origin(folder)}"
    )
    if _offline():
        raise ModelError(f"{head}; {OFFLINE_ENV} is set, so no download was tried. {how}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _download(url, path)
    except Exception as exc:  # no network, proxy, timeout, disk full, ...
        with contextlib.suppress(OSError):
            if path.exists() and path.stat().st_size == 0:
                path.unlink()
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise ModelError(f"{head} and downloading it failed ({reason}). {how}") from exc
    if not path.is_file():
        raise ModelError(f"{head} and the download did not produce it. {how}")
    return path


def resolve_user_model(model: str) -> Path:
    """Resolve a user model given as a path (or as a file name inside Cellpose's model folder).

    Raises
    ------
    ModelError
        The path does not exist, or is a folder (the message lists the files in it).
    """
    path = Path(model).expanduser()
    if path.is_dir():
        files = sorted(p.name for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        listing = ", ".join(files[:10]) + (", ..." if len(files) > 10 else "") if files else "none"
        raise ModelError(
            f"Cellpose model '{model}' is a folder; pick the model file inside it "
            f"(files there: {listing})"
        )
    if path.is_file():
        return path.resolve()
    in_model_dir = model_dir() / model
    plain_name = not any(sep in model for sep in ("/", "\\")) and model not in (".", "..")
    if plain_name and in_model_dir.is_file():  # a model added with Cellpose's GUI
        return in_model_dir.resolve()
    where = f"{path.resolve()}"
    if plain_name:
        where += f" or {in_model_dir}"
    raise ModelError(
        f"Cellpose model '{model}' not found: it is not a built-in model "
        f"({', '.join(BUILTIN_MODELS)}) and no file exists at {where}"
    )


@contextlib.contextmanager
def _cellpose_model_dir(folder: Path):
    """Point Cellpose's import-time ``MODEL_DIR`` at ``folder`` while a built-in model is built."""
    from cellpose import models as cp_models

    old = cp_models.MODEL_DIR
    cp_models.MODEL_DIR = Path(folder)
    try:
        yield
    finally:
        cp_models.MODEL_DIR = old


# --------------------------------------------------------------------------- segmenter
class CellposeSegmenter:
    """Segment prepared 2D planes with one loaded Cellpose 3 model.

    Build it with :meth:`from_params`; the model is loaded there, once. :meth:`segment` gives exactly
    the labels ``CellposeModel.eval(image, channels=[0, 0], ...)`` gives for the same parameters.
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
        size_model: Any = None,
        size_weights: Path | None = None,
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
        self.size_model = size_model
        self.size_weights = size_weights
        self.cellprob_threshold = float(cellprob_threshold)
        self.flow_threshold = float(flow_threshold)
        self.niter = niter
        self.batch_size = int(batch_size)
        self.debug = bool(debug)
        self.training_diameter = float(np.asarray(model.diam_labels).item())
        self.diam_mean = float(np.asarray(model.diam_mean).item())

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_params(cls, params: SegmentationParams) -> CellposeSegmenter:
        """Resolve the model, check the diameter rule, pick the device and load the weights once.

        Raises
        ------
        ModelError
            The model cannot be found, downloaded or loaded.
        ParameterError
            ``diameter=0`` for a built-in model that has no size model.
        """
        name = str(params.model).strip()
        builtin = name in BUILTIN_MODELS
        if builtin and params.diameter == 0 and name not in SIZE_MODELS:
            raise ParameterError(
                f"diameter=0 (estimate) is not available for Cellpose model '{name}': only "
                f"{', '.join(SIZE_MODELS)} have a size model. Give the typical object diameter in "
                "pixels (e.g. diameter=30)"
            )
        # resolve files before importing torch/cellpose models, so bad paths fail fast
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
            weights = resolve_user_model(name)
            size_weights = None

        from cellpose import models as cp_models

        choice = pick_device(params.gpu)
        try:
            if builtin:
                with _cellpose_model_dir(weights.parent):
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
                f"file? ({type(exc).__name__}: {exc})"
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
                    f"({type(exc).__name__}: {exc})"
                ) from exc

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
            "torch_version": torch.__version__,
        }
        info["weights_sha256"] = _sha256(self.weights)
        if self.size_weights is not None:
            info["size_weights"] = os.fspath(self.size_weights)
        if self.device.warning:
            info["device_warning"] = self.device.warning
        return info

    # ------------------------------------------------------------------ segmentation
    def _diameter_for(self, image: np.ndarray) -> tuple[float | None, float]:
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

    def segment(self, image: np.ndarray) -> SegmentOutput:
        """Segment one prepared ``(Y, X)`` float32 plane."""
        image = np.asarray(image)
        if image.ndim != 2:
            raise ValueError(f"CellposeSegmenter.segment expects a 2D (Y, X) image, got {image.shape}")
        t0 = time.perf_counter()
        diameter, reported = self._diameter_for(image)
        masks, flows, _styles = self.model.eval(
            image,
            batch_size=self.batch_size,
            channels=[0, 0],
            diameter=diameter,
            flow_threshold=self.flow_threshold,
            cellprob_threshold=self.cellprob_threshold,
            niter=self.niter,
        )
        labels = np.asarray(masks)
        if labels.shape != image.shape:  # an empty result can come back squeezed oddly
            labels = labels.reshape(image.shape)
        debug: dict[str, np.ndarray] = {}
        if self.debug:
            debug["flows"] = np.asarray(flows[0], dtype=np.uint8)
            debug["cellprob"] = np.asarray(flows[2], dtype=np.float32)
        info = {
            "diameter": round(float(reported), 3),
            "n_objects": int(labels.max()) if labels.size else 0,
            "seconds": round(time.perf_counter() - t0, 4),
        }
        return SegmentOutput(labels=labels, debug=debug, info=info)

    def segment_batch(self, images: list[np.ndarray]) -> list[SegmentOutput]:
        """Segment several planes, one ``eval`` call per group of equal shape.

        Same masks as :meth:`segment` on each (see
        :func:`napari_batchseg.runners.batching.cellpose_segment_batch`).
        """
        from ..runners.batching import cellpose_segment_batch

        return cellpose_segment_batch(self, images)


@functools.lru_cache(maxsize=16)
def _sha256(path: os.PathLike | str) -> str:
    """SHA-256 of a weights file (the log then says exactly which weights made a mask)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
