"""Segment Anything for Microscopy (micro-sam) behind the :class:`~..base.Segmenter` protocol.

The model is built once (:meth:`MicroSamSegmenter.from_params`); every plane is then segmented by

1. the image embeddings (SAM's ViT encoder, the expensive step), optionally tiled with a halo, and
   cached on disk per plane, keyed by pixel content, model and tiling (re-running a file with other
   thresholds reuses them), then
2. automatic instance segmentation with micro-sam's decoder (AIS: foreground and distance maps,
   seeded watershed) where the model has a decoder, or automatic mask generation (AMG: a grid of point
   prompts, filtering and non-maximum suppression) otherwise. ``sam_mode="auto"`` picks AIS when a
   decoder is there; ``"ais"`` / ``"amg"`` force one. ``"apg"`` (automatic prompt generation, where
   the installed micro-sam has it) derives one point prompt per object from the decoder's maps and
   keeps SAM's masks for them after non-maximum suppression.

Volumes (``z_mode`` 3d, :meth:`MicroSamSegmenter.segment_volume`): micro-sam's own 3D automatic
segmentation, each slice in 2D with the mode above, the objects merged across Z by micro-sam
(:mod:`.volume`); ``stitch`` is refused, and so is ``3d`` where the installed micro-sam lacks it.

Labels come back as ``uint32`` (0 = background, ids ``1..N``); the mask writer stores ``uint16`` where
every id fits. micro-sam is an optional extra: without it :meth:`MicroSamSegmenter.from_params` raises a
:class:`~napari_batchseg.errors.ModelError` that says how to install it. Built-in weights live in
micro-sam's cache folder (``MICROSAM_CACHEDIR``); when they are missing and cannot be downloaded (or
``BATCHSEG_OFFLINE=1``) the error names the model, the folder, the file names and their download
addresses, without waiting on the network.

Options beyond :class:`~napari_batchseg.params.SegmentationParams`' own fields are read from
``params.extra`` (see :data:`~.options.AIS_DEFAULTS`, :data:`~.options.AMG_DEFAULTS`,
:data:`~.options.APG_DEFAULTS` and :data:`~.options.RUN_DEFAULTS`).
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ...devices import pick_device
from ...errors import ModelError
from ...params import _as_pair
from ..base import SegmenterBase, SegmentOutput, refuse_volume
from ..catalog import SAM_ARCHITECTURES, SAM_MODELS, default_model, needs_mobile_sam
from ..on_disk import fail_before_import
from ._imports import import_microsam
from .cache import EmbeddingCache, embedding_cache_dir, precompute
from .options import (
    AIS_DEFAULTS,
    AMG_DEFAULTS,
    APG_DEFAULTS,
    RUN_DEFAULTS,
    default_halo,
    relabel_consecutive,
)
from .volume import NO_STITCH, VOLUME_DEFAULTS, check_volume_settings, merge_slices, missing_3d
from .weights import (
    Weights,
    load_model,
    no_decoder_error,
    no_mobile_sam_error,
    resolve_builtin,
    resolve_checkpoint,
)

if TYPE_CHECKING:
    from ...params import SegmentationParams

__all__ = ["MODES", "MicroSamSegmenter"]

#: The values of ``sam_mode``.
MODES = ("auto", "ais", "amg", "apg")
#: Settings per resolved mode (a key two modes share is set in both).
_SETTINGS = {"ais": AIS_DEFAULTS, "amg": AMG_DEFAULTS, "apg": APG_DEFAULTS}
#: micro-sam's generator class per decoder mode (``Tiled`` + name when tiling).
_DECODER_CLASSES = {"ais": "InstanceSegmentationWithDecoder", "apg": "AutomaticPromptGenerator"}


def _unknown_mode(mode: str) -> ModelError:
    return ModelError(f"sam_mode {mode!r} unknown; choose {', '.join(MODES[:-1])} or {MODES[-1]}")


def _no_apg(iseg: Any) -> ModelError | None:
    """The error for ``sam_mode='apg'`` where the installed micro-sam has no prompt generator, or ``None``."""
    if hasattr(iseg, "AutomaticPromptGenerator") and hasattr(iseg, "TiledAutomaticPromptGenerator"):
        return None
    from micro_sam import __version__ as msv

    return ModelError(
        f"sam_mode 'apg': the installed micro-sam {msv} has no automatic prompt generation "
        "(micro_sam.instance_segmentation.AutomaticPromptGenerator); upgrade micro-sam, "
        "or use --sam-mode ais or amg"
    )


class MicroSamSegmenter(SegmenterBase):
    """micro-sam AIS/AMG/APG segmenter: load once with :meth:`from_params`, then :meth:`segment` planes.

    Attributes
    ----------
    mode
        The resolved mode, ``"ais"``, ``"amg"`` or ``"apg"``.
    cache
        The :class:`EmbeddingCache`, or ``None`` when caching is off.
    stats
        Counters: ``embeddings_computed`` (encoder runs), ``cache_hits``, ``planes``.
    batch_size
        ``1``: planes are encoded one by one, so grouping frames brings nothing.
    """

    name = "sam"

    def __init__(
        self,
        *,
        util: Any,
        instance_segmentation: Any,
        predictor: Any,
        decoder: Any,
        weights: Weights,
        mode_requested: str,
        tile_shape: tuple[int, int] | None,
        halo: tuple[int, int] | None,
        device: str,
        cache: EmbeddingCache | None,
        device_description: str = "",
        device_warning: str | None = None,
        ais_settings: Mapping[str, Any] | None = None,
        amg_settings: Mapping[str, Any] | None = None,
        tile_batch_size: int = 1,
        apg_settings: Mapping[str, Any] | None = None,
        volume_settings: Mapping[str, Any] | None = None,
        volume_modes: tuple[str, ...] | None = None,
    ) -> None:
        self._util = util
        self._iseg = instance_segmentation
        self.predictor = predictor
        self.decoder = decoder
        self.weights = weights
        self.device = device
        self.device_description = device_description or device
        self.device_warning = device_warning
        self.cache = cache
        self.mode_requested = mode_requested
        self.ais_settings = {**AIS_DEFAULTS, **dict(ais_settings or {})}
        self.amg_settings = {**AMG_DEFAULTS, **dict(amg_settings or {})}
        self.apg_settings = {**APG_DEFAULTS, **dict(apg_settings or {})}
        self.tile_batch_size = max(1, int(tile_batch_size))
        #: the merge settings of ``z_mode`` 3d (:data:`~.volume.VOLUME_DEFAULTS`)
        self.volume_settings = check_volume_settings(volume_settings or {})
        self._volume_modes = None if volume_modes is None else tuple(volume_modes)
        self._file_key: str | None = None
        self._frame_key: str | None = None
        self.stats = {"embeddings_computed": 0, "cache_hits": 0, "planes": 0}
        self._generators: dict[tuple[str, bool], Any] = {}
        self.mode = ""
        self.tile_shape: tuple[int, int] | None = None
        self.halo: tuple[int, int] | None = None
        self.configure(mode=mode_requested, tile_shape=tile_shape, halo=halo)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_params(cls, params: SegmentationParams) -> MicroSamSegmenter:
        """Load the model that ``params`` names (``model``, ``checkpoint``, ``sam_mode``, tiling, ``gpu``)."""
        if params.z_mode == "stitch":  # before any import or load: one clear line
            raise refuse_volume("micro-sam", params.z_mode, ("3d",), NO_STITCH)
        if not params.checkpoint:  # missing weights that cannot be downloaded: before the long import
            fail_before_import(str(params.model).strip(), str(params.sam_mode).lower())
        util, iseg = import_microsam()
        if params.z_mode == "3d" and (missing := missing_3d()) is not None:
            raise refuse_volume("micro-sam", params.z_mode, (), missing)
        extra = dict(params.extra or {})
        volume_settings = check_volume_settings(extra)  # bad values fail before the model is loaded
        model = str(params.model).strip()
        mode = str(params.sam_mode).lower()
        if mode not in MODES:
            raise _unknown_mode(mode)
        if mode == "apg" and (no_apg := _no_apg(iseg)) is not None:
            raise no_apg
        checkpoint = params.checkpoint
        if checkpoint:
            weights = resolve_checkpoint(model, str(checkpoint))
        else:
            if model[:5] not in SAM_ARCHITECTURES:
                raise ModelError(
                    f"model {model!r} is not a micro-sam model; with method 'sam' choose one of "
                    f"{', '.join(SAM_MODELS)} (e.g. --model {default_model('sam')}), or --checkpoint PATH"
                )
            weights = resolve_builtin(util, model, want_decoder=mode != "amg")
        if needs_mobile_sam(weights.architecture) and not getattr(util, "VIT_T_SUPPORT", False):
            raise no_mobile_sam_error(model)
        if mode in ("ais", "apg") and not (weights.has_decoder or weights.decoder):
            raise no_decoder_error(weights.model, mode, None if weights.builtin else weights.checkpoint)
        choice = pick_device(bool(params.gpu))
        predictor, decoder = load_model(util, iseg, weights, choice.device, load_decoder=mode != "amg")
        if mode in ("ais", "apg") and decoder is None:
            raise no_decoder_error(weights.model, mode, None if weights.builtin else weights.checkpoint)
        cache_dir = embedding_cache_dir(extra.get("embedding_cache", RUN_DEFAULTS["embedding_cache"]))
        return cls(
            util=util,
            instance_segmentation=iseg,
            predictor=predictor,
            decoder=decoder,
            weights=weights,
            mode_requested=mode,
            tile_shape=params.tile_shape,
            halo=params.halo,
            device=str(choice.device.type),
            device_description=choice.description,
            device_warning=choice.warning,
            cache=EmbeddingCache(cache_dir) if cache_dir is not None else None,
            ais_settings={k: extra[k] for k in AIS_DEFAULTS if k in extra},
            amg_settings={k: extra[k] for k in AMG_DEFAULTS if k in extra},
            apg_settings={k: extra[k] for k in APG_DEFAULTS if k in extra},
            tile_batch_size=int(extra.get("tile_batch_size", RUN_DEFAULTS["tile_batch_size"])),
            volume_settings=volume_settings,
            volume_modes=("3d",) if params.z_mode == "3d" else None,  # checked above; else when asked
        )

    # ------------------------------------------------------------------ configuration
    def configure(
        self,
        mode: str | None = None,
        tile_shape: Any = "keep",
        halo: Any = "keep",
        **settings: Any,
    ) -> None:
        """Change mode, tiling or AIS/AMG/APG settings without reloading the model.

        Settings are AIS (:data:`AIS_DEFAULTS`), AMG (:data:`AMG_DEFAULTS`) or APG
        (:data:`APG_DEFAULTS`) keys; a key two modes share is set for both. Changing only
        thresholds keeps the embedding cache valid; changing the tiling changes the cache key.
        """
        if mode is not None:
            mode = mode.lower()
            if mode not in MODES:
                raise _unknown_mode(mode)
            resolved = mode if mode != "auto" else ("ais" if self.decoder is not None else "amg")
            if resolved in ("ais", "apg") and self.decoder is None:
                raise ModelError(f"sam_mode {resolved!r}: model {self.weights.model!r} has no decoder loaded")
            if resolved == "apg" and (no_apg := _no_apg(self._iseg)) is not None:
                raise no_apg
            self.mode = resolved
        if tile_shape != "keep":
            self.tile_shape = _as_pair("tile_shape", tile_shape)
        if halo != "keep":
            self.halo = _as_pair("halo", halo)
        if self.tile_shape is None:
            self.halo = None
        else:
            if self.halo is None:
                self.halo = default_halo(self.tile_shape)
            if min(self.tile_shape) <= 0 or min(self.halo) < 0:
                raise ModelError(f"tile_shape {self.tile_shape} / halo {self.halo} must be positive")
        stores = {"ais": self.ais_settings, "amg": self.amg_settings, "apg": self.apg_settings}
        for key, value in settings.items():
            modes = [m for m, defaults in _SETTINGS.items() if key in defaults]
            if not modes:
                raise ModelError(
                    f"unknown micro-sam setting {key!r}; "
                    + "; ".join(f"{m.upper()}: {', '.join(d)}" for m, d in _SETTINGS.items())
                )
            for m in modes:
                stores[m][key] = value
            if key in ("points_per_side", "points_per_batch"):
                self._generators = {k: v for k, v in self._generators.items() if k[0] != "amg"}

    @property
    def volume_modes(self) -> tuple[str, ...]:
        """``("3d",)`` where the installed micro-sam segments volumes, else ``()`` (see :mod:`.volume`)."""
        if self._volume_modes is None:
            self._volume_modes = ("3d",) if missing_3d() is None else ()
        return self._volume_modes

    @volume_modes.setter
    def volume_modes(self, modes: tuple[str, ...]) -> None:
        self._volume_modes = tuple(modes)

    def set_context(self, file_key: str, frame_key: str) -> None:
        """Name the file and frame of the next :meth:`segment` call (recorded with cached embeddings)."""
        self._file_key = str(file_key)
        self._frame_key = str(frame_key)

    @property
    def model_id(self) -> dict[str, Any]:
        """What identifies the encoder's output: model name, weights hash, input size, micro-sam version."""
        from micro_sam import __version__ as msv

        return {
            "model": self.weights.model,
            "architecture": self.weights.architecture,
            "weights_hash": getattr(self.predictor, "_hash", None) or str(self.weights.checkpoint),
            "image_size": self.weights.image_size,
            "micro_sam": msv,
        }

    def describe(self) -> dict[str, Any]:
        """Provenance: method, model, weights, mode, tiling, device, settings and versions."""
        import torch

        from ._torchvision_compat import shim_active

        versions: dict[str, str] = {}
        for dist in ("micro_sam", "segment-anything-py", "segment-anything", "torch", "torchvision"):
            with contextlib.suppress(Exception):
                from importlib.metadata import version

                versions[dist] = version(dist)
        versions.setdefault("torch", torch.__version__)
        return {
            "method": "sam",
            "model": self.weights.model,
            "architecture": self.weights.architecture,
            "checkpoint": None if self.weights.builtin else str(self.weights.checkpoint),
            "weights": str(self.weights.checkpoint),
            "weights_hash": getattr(self.predictor, "_hash", None),
            "decoder": (
                str(self.weights.decoder)
                if self.weights.decoder and self.decoder is not None
                else ("in checkpoint" if self.decoder is not None else None)
            ),
            "sam_mode": self.mode_requested,
            "mode": self.mode,
            "tile_shape": list(self.tile_shape) if self.tile_shape else None,
            "halo": list(self.halo) if self.halo else None,
            "image_size": self.weights.image_size,
            "device": self.device,
            "device_description": self.device_description,
            "device_warning": self.device_warning,
            "settings": dict(self._settings()),
            "embedding_cache": str(self.cache.root) if self.cache is not None else None,
            "torchvision_nms_shim": shim_active(),
            **({"volume_settings": dict(self.volume_settings)}
               if self.volume_settings != VOLUME_DEFAULTS else {}),
            "versions": versions,
        }

    # ------------------------------------------------------------------ segmentation
    def embeddings(self, image: NDArray[Any], index: int = 0) -> tuple[dict[str, Any], bool]:
        """Image embeddings of one prepared plane, from the cache when possible; ``(embeddings, hit)``."""
        img = self._prepare(image)
        return self._embeddings(img, index)

    def _embeddings(self, img: NDArray[Any], index: int) -> tuple[dict[str, Any], bool]:
        if self.cache is None:
            emb = precompute(
                self._util, self.predictor, img, None, self.tile_shape, self.halo, self.tile_batch_size
            )
            self.stats["embeddings_computed"] += 1
            return emb, False
        frame = self._frame_key if index == 0 else f"{self._frame_key}#{index}"
        key = self.cache.key(img, self.model_id, self.tile_shape, self.halo)
        meta = {"file": self._file_key, "frame": frame, **self.model_id}
        emb, hit = self.cache.get_or_compute(
            self._util, self.predictor, img, key, self.tile_shape, self.halo, self.tile_batch_size, meta
        )
        self.stats["cache_hits" if hit else "embeddings_computed"] += 1
        return emb, hit

    def _settings(self) -> dict[str, Any]:
        """The settings of the resolved mode."""
        return {"ais": self.ais_settings, "amg": self.amg_settings, "apg": self.apg_settings}[self.mode]

    def _generator(self) -> Any:
        tiled = self.tile_shape is not None
        gen = self._generators.get((self.mode, tiled))
        if gen is None:
            if self.mode in ("ais", "apg"):
                name = _DECODER_CLASSES[self.mode]
                cls = getattr(self._iseg, f"Tiled{name}" if tiled else name)
                gen = cls(self.predictor, self.decoder)
            else:
                kwargs: dict[str, Any] = {"points_per_side": int(self.amg_settings["points_per_side"])}
                if self.amg_settings.get("points_per_batch"):
                    kwargs["points_per_batch"] = int(self.amg_settings["points_per_batch"])
                elif tiled:
                    kwargs["points_per_batch"] = 16 if str(self.device) == "mps" else 64
                cls = self._iseg.TiledAutomaticMaskGenerator if tiled else self._iseg.AutomaticMaskGenerator
                gen = cls(self.predictor, **kwargs)
            self._generators[(self.mode, tiled)] = gen
        return gen

    @staticmethod
    def _prepare(image: NDArray[Any]) -> NDArray[Any]:
        img = np.asarray(image)
        if img.ndim == 3 and img.shape[0] == 1:
            img = img[0]
        if img.ndim != 2:
            raise ValueError(f"micro-sam segments 2D planes; got an array of shape {img.shape}")
        img = np.ascontiguousarray(img, dtype=np.float32)
        if not np.all(np.isfinite(img)):
            img = np.nan_to_num(img, nan=0.0, posinf=0.0, neginf=0.0)
        return img

    def _instances(self, img: NDArray[Any], emb: dict[str, Any], blockwise: bool = True) -> NDArray[Any]:
        import torch

        gen = self._generator()
        init: dict[str, Any] = {"image_embeddings": emb, "verbose": False}
        if self.tile_shape is not None:
            init.update(tile_shape=self.tile_shape, halo=self.halo, batch_size=self.tile_batch_size)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gen.initialize(img, **init)
            try:
                return self._generate(gen, blockwise)
            finally:
                with contextlib.suppress(Exception):
                    gen.clear_state()

    def _generate(self, gen: Any, blockwise: bool = True) -> NDArray[Any]:
        if self.mode == "ais":
            kwargs = {k: self.ais_settings[k] for k in AIS_DEFAULTS}
            kwargs["min_size"] = int(kwargs["min_size"])
            if self.tile_shape is not None and blockwise:
                # one thread: micro-sam's block-wise watershed splits objects differently with the number
                # of threads it runs (its default is the machine's), so a mask would depend on the machine
                kwargs.update(tile_shape=self.tile_shape, halo=self.halo, n_threads=1)
            return np.asarray(gen.generate(**kwargs))
        if self.mode == "apg":
            apg = dict(self.apg_settings)
            apg["batch_size"] = int(apg.pop("prompt_batch_size"))
            apg["min_size"] = int(apg["min_size"])
            return np.asarray(gen.generate(**apg, output_mode="instance_segmentation"))
        return np.asarray(
            gen.generate(
                pred_iou_thresh=float(self.amg_settings["pred_iou_thresh"]),
                stability_score_thresh=float(self.amg_settings["stability_score_thresh"]),
                box_nms_thresh=float(self.amg_settings["box_nms_thresh"]),
                min_mask_region_area=int(self.amg_settings["min_mask_region_area"]),
                with_background=bool(self.amg_settings["with_background"]),
                output_mode="instance_segmentation",
            )
        )

    def labels_from_maps(
        self, foreground: NDArray[Any], center_distances: NDArray[Any], boundary_distances: NDArray[Any]
    ) -> NDArray[Any]:
        """AIS post-processing alone: decoder maps to ``uint32`` labels with the current settings.

        The maps are what micro-sam's decoder predicts (foreground probability, normalised distances
        to object centres and boundaries), stitched over the whole plane when tiling. With a
        ``tile_shape`` the seeded watershed runs block-wise with the halo, as in :meth:`segment`.
        """
        if self.mode != "ais":
            raise ModelError("labels_from_maps needs sam_mode 'ais'")
        gen = self._generator()
        gen.set_state(
            {
                "foreground": np.asarray(foreground, dtype=np.float32),
                "center_distances": np.asarray(center_distances, dtype=np.float32),
                "boundary_distances": np.asarray(boundary_distances, dtype=np.float32),
            }
        )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return relabel_consecutive(self._generate(gen))[0]
        finally:
            gen.clear_state()

    def segment(self, image: NDArray[Any]) -> SegmentOutput:
        """Segment one prepared ``(Y, X)`` float32 plane; labels ``uint32``, 0 = background, ids 1..N."""
        return self._segment(image, 0)

    def segment_batch(self, images: Sequence[NDArray[Any]]) -> list[SegmentOutput]:
        """Segment several planes (one by one; same result as :meth:`segment`)."""
        return [self._segment(img, i) for i, img in enumerate(images)]

    def _segment(self, image: NDArray[Any], index: int) -> SegmentOutput:
        img = self._prepare(image)
        t0 = time.perf_counter()
        emb, hit = self._embeddings(img, index)
        t1 = time.perf_counter()
        seg = self._instances(img, emb)
        t2 = time.perf_counter()
        labels, n = relabel_consecutive(seg)
        self.stats["planes"] += 1
        info: dict[str, Any] = {
            "mode": self.mode,
            "n_objects": n,
            "embedding_s": round(t1 - t0, 4),
            "segmentation_s": round(t2 - t1, 4),
            "embedding_cache": "off" if self.cache is None else ("hit" if hit else "miss"),
        }
        if self.tile_shape is None and max(img.shape) > 2048:
            info["hint"] = (
                f"plane {img.shape} is resized to {self.weights.image_size} px for the encoder; "
                "set tile_shape for full resolution"
            )
        return SegmentOutput(labels=labels, info=info)

    def segment_volume(
        self, volume: NDArray[Any], mode: str, anisotropy: float | None, stitch_threshold: float
    ) -> SegmentOutput:
        """Segment one prepared ``(Z, Y, X)`` volume with micro-sam's 3D automatic segmentation.

        Each slice is segmented as :meth:`segment` does (its embeddings through the cache), then the
        slices are merged across Z by micro-sam (:func:`~.volume.merge_slices`): the labels equal
        ``micro_sam.multi_dimensional_segmentation.automatic_3d_segmentation`` with the same
        generator and settings, renumbered ``1..N``. ``anisotropy`` and ``stitch_threshold`` are not
        used (``mode`` ``"stitch"`` is refused). With tiling, AIS runs its seeded watershed over each
        whole slice, as micro-sam's 3D does (a plane's :meth:`segment` runs it block-wise).
        """
        if mode not in self.volume_modes:
            raise refuse_volume("micro-sam", mode, self.volume_modes, NO_STITCH if mode == "stitch" else "")
        vol = np.asarray(volume)
        if vol.ndim != 3:
            raise ValueError(f"a volume is (Z, Y, X), got shape {vol.shape}")
        t0 = time.perf_counter()
        slices, hits = [], 0
        embedding_s = 0.0
        for z in range(vol.shape[0]):
            img = self._prepare(vol[z])
            t_emb = time.perf_counter()
            emb, hit = self._embeddings(img, z)
            embedding_s += time.perf_counter() - t_emb
            hits += int(hit)
            # tiled AIS: the watershed over the whole slice, as micro-sam's 3D runs it (its 2D: block-wise)
            slices.append(self._instances(img, emb, blockwise=False))
            del emb
        merged = merge_slices(slices, self.volume_settings)
        labels, n = relabel_consecutive(merged)
        self.stats["planes"] += vol.shape[0]
        info: dict[str, Any] = {
            "mode": self.mode,
            "z_mode": mode,
            "z_slices": int(vol.shape[0]),
            "n_objects": n,
            "embedding_s": round(embedding_s, 4),
            "segmentation_s": round(time.perf_counter() - t0 - embedding_s, 4),
            "embedding_cache": "off" if self.cache is None else f"{hits}/{vol.shape[0]} slices cached",
        }
        return SegmentOutput(labels=labels, info=info)
