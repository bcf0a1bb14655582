"""Segment Anything for Microscopy (micro-sam) behind the :class:`~.base.Segmenter` protocol.

The model is built once (:meth:`MicroSamSegmenter.from_params`); every plane is then segmented by

1. the image embeddings (SAM's ViT encoder, the expensive step), optionally tiled with a halo, and
   cached on disk per plane, keyed by pixel content, model and tiling (re-running a file with other
   thresholds reuses them), then
2. automatic instance segmentation with micro-sam's decoder (AIS: foreground and distance maps,
   seeded watershed) where the model has a decoder, or automatic mask generation (AMG: a grid of point
   prompts, filtering and non-maximum suppression) otherwise. ``sam_mode="auto"`` picks AIS when a
   decoder is there; ``"ais"`` / ``"amg"`` force one.

Labels come back as ``uint32`` (0 = background, ids ``1..N``); the mask writer stores ``uint16`` where
every id fits. micro-sam is an optional extra: without it :meth:`MicroSamSegmenter.from_params` raises a
:class:`~napari_batchseg.errors.ModelError` that says how to install it. Built-in weights live in
micro-sam's cache folder (``MICROSAM_CACHEDIR``); when they are missing and cannot be downloaded (or
``BATCHSEG_OFFLINE=1``) the error names the model, the folder, the file names and their download
addresses, without waiting on the network.

Options beyond :class:`~napari_batchseg.params.SegmentationParams`' own fields are read from
``params.extra`` (see :data:`AIS_DEFAULTS`, :data:`AMG_DEFAULTS` and :data:`RUN_DEFAULTS`).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import time
import uuid
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ModelError
from .base import SegmentOutput

if TYPE_CHECKING:
    from ..params import SegmentationParams

__all__ = [
    "AIS_DEFAULTS",
    "AMG_DEFAULTS",
    "ARCHITECTURES",
    "DEFAULT_MODEL",
    "KNOWN_MODELS",
    "RUN_DEFAULTS",
    "EmbeddingCache",
    "MicroSamSegmenter",
    "embedding_cache_dir",
    "microsam_available",
]

#: Encoder architectures micro-sam can build (``vit_t`` needs the ``mobile_sam`` package).
ARCHITECTURES: tuple[str, ...] = ("vit_h", "vit_l", "vit_b", "vit_t")
#: The model names this plugin documents; any other name in micro-sam's registry also works.
KNOWN_MODELS: tuple[str, ...] = (
    "vit_h",
    "vit_l",
    "vit_b",
    "vit_t",
    "vit_l_lm",
    "vit_b_lm",
    "vit_t_lm",
    "vit_l_em_organelles",
    "vit_b_em_organelles",
    "vit_t_em_organelles",
)
DEFAULT_MODEL = "vit_b_lm"

#: AIS settings (``InstanceSegmentationWithDecoder.generate``), overridable through ``params.extra``.
AIS_DEFAULTS: dict[str, float] = {
    "center_distance_threshold": 0.5,
    "boundary_distance_threshold": 0.5,
    "foreground_threshold": 0.5,
    "foreground_smoothing": 1.0,
    "distance_smoothing": 1.6,
    "min_size": 0,
}
#: AMG settings (``AutomaticMaskGenerator`` and its ``generate``), overridable through ``params.extra``.
AMG_DEFAULTS: dict[str, Any] = {
    "points_per_side": 32,
    "points_per_batch": None,
    "pred_iou_thresh": 0.88,
    "stability_score_thresh": 0.95,
    "box_nms_thresh": 0.7,
    "min_mask_region_area": 0,
    "with_background": True,
}
#: Other options read from ``params.extra``: ``embedding_cache`` (folder, or ``False`` to switch the
#: cache off) and ``tile_batch_size`` (tiles per encoder call when tiling).
RUN_DEFAULTS: dict[str, Any] = {"embedding_cache": None, "tile_batch_size": 1}

INSTALL_HINT = (
    "install the optional extra with `pip install 'napari-batchseg[sam]'`; next to a CPU-only torch "
    "use the commands in docs/microsam.md (section 'Install'), which keep torch as it is"
)
_OFF = ("0", "off", "false", "no", "none", "")
_CACHE_FORMAT = 1


# ---------------------------------------------------------------------------------------------- imports
def microsam_available() -> bool:
    """Whether the ``micro_sam`` package is installed (without importing it)."""
    try:
        return importlib.util.find_spec("micro_sam") is not None
    except (ImportError, ValueError):
        return False


def _import_microsam() -> tuple[Any, Any]:
    """Import ``micro_sam.util`` and ``micro_sam.instance_segmentation`` or raise a clear ModelError."""
    if sys.modules.get("micro_sam", False) is None or not microsam_available():
        raise ModelError(f"method 'sam' needs the micro-sam package, which is not installed: {INSTALL_HINT}")
    from ._torchvision_compat import ensure_torchvision

    try:
        ensure_torchvision()
    except ImportError as exc:
        raise ModelError(
            f"method 'sam' needs torchvision, which is not installed ({exc}): {INSTALL_HINT}"
        ) from exc
    except RuntimeError as exc:
        raise ModelError(f"method 'sam': torchvision cannot be imported: {exc}") from exc
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from micro_sam import instance_segmentation, util
    except ImportError as exc:
        missing = getattr(exc, "name", None) or str(exc)
        raise ModelError(
            f"method 'sam': micro-sam is installed but cannot be imported (missing: {missing}): "
            f"{INSTALL_HINT}"
        ) from exc
    return util, instance_segmentation


# ---------------------------------------------------------------------------------------------- devices
def _pick_device(gpu: bool) -> tuple[Any, str, str | None]:
    """``(torch.device, description, warning)``: CUDA, then MPS when ``gpu``, else the CPU."""
    import torch

    try:
        from ..devices import pick_device
    except ImportError:  # pragma: no cover - the project's picker is part of the package
        pick_device = None
    if pick_device is not None:
        choice = pick_device(gpu)
        return choice.device, choice.description, choice.warning
    if gpu and torch.cuda.is_available():
        return torch.device("cuda:0"), "CUDA", None
    return torch.device("cpu"), "CPU", ("GPU requested but none is usable" if gpu else None)


# ---------------------------------------------------------------------------------------------- cache
def embedding_cache_dir(setting: Any = None) -> Path | None:
    """The embedding cache folder, or ``None`` when caching is off.

    ``setting`` (``params.extra["embedding_cache"]``) wins: a folder, or ``False``/``"off"`` to switch
    the cache off. Otherwise ``$BATCHSEG_EMBEDDING_CACHE`` (a folder, or ``0``/``off``), else
    ``<user cache dir>/napari-batchseg/sam-embeddings``.
    """
    if setting is False or (isinstance(setting, str) and setting.strip().lower() in _OFF):
        return None
    if setting not in (None, True):
        return Path(os.path.expanduser(str(setting)))
    env = os.environ.get("BATCHSEG_EMBEDDING_CACHE")
    if env is not None:
        if env.strip().lower() in _OFF:
            return None
        return Path(os.path.expanduser(env))
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("napari-batchseg", appauthor=False)) / "sam-embeddings"


def _image_digest(image: np.ndarray) -> str:
    arr = np.ascontiguousarray(image)
    h = hashlib.blake2b(digest_size=20)
    h.update(f"{arr.dtype.str}{arr.shape}".encode())
    h.update(memoryview(arr).cast("B"))
    return h.hexdigest()


class EmbeddingCache:
    """Image embeddings on disk, one zarr folder per plane (model, pixels, tiling).

    The key hashes the model identity (name, weights hash, input size, micro-sam version), the plane's
    pixels and the tiling: an entry can never be used for other pixels or another model, and a plane is
    found again whichever file, frame or batch it comes from. The file and frame it was computed for
    are recorded in the entry's metadata (``napari_batchseg`` attribute). Entries are written to a
    temporary folder and renamed into place (atomic), so parallel workers and interrupted runs leave
    no half-written entry behind. When the folder grows past ``max_bytes`` the least recently used
    entries are deleted.
    """

    def __init__(self, root: Path, max_bytes: int | None = None) -> None:
        self.root = Path(root)
        if max_bytes is None:
            gb = float(os.environ.get("BATCHSEG_EMBEDDING_CACHE_MAX_GB", "20") or 0)
            max_bytes = int(gb * 1e9) if gb > 0 else None
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self._writes = 0

    def key(
        self,
        image: np.ndarray,
        model_id: Mapping[str, Any],
        tile_shape: tuple[int, int] | None,
        halo: tuple[int, int] | None,
    ) -> str:
        """The cache key (hex) for one plane: model identity, pixels and tiling."""
        payload = {
            "format": _CACHE_FORMAT,
            "model": dict(model_id),
            "pixels": _image_digest(image),
            "tile_shape": list(tile_shape) if tile_shape else None,
            "halo": list(halo) if halo else None,
        }
        text = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.blake2b(text.encode(), digest_size=20).hexdigest()

    def path(self, key: str) -> Path:
        """The entry folder for ``key``."""
        return self.root / key[:2] / f"{key}.zarr"

    def contains(self, key: str) -> bool:
        """Whether a complete entry exists for ``key``."""
        return _complete_entry(self.path(key))

    def get_or_compute(
        self,
        util: Any,
        predictor: Any,
        image: np.ndarray,
        key: str,
        tile_shape: tuple[int, int] | None,
        halo: tuple[int, int] | None,
        batch_size: int = 1,
        meta: Mapping[str, Any] | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Load the embeddings for ``key``, computing and storing them first if needed."""
        final = self.path(key)
        if _complete_entry(final):
            try:
                emb = _precompute(util, predictor, image, final, tile_shape, halo, batch_size)
            except Exception as exc:  # a damaged entry: drop it and compute afresh
                warnings.warn(
                    f"embedding cache entry {final} is unreadable ({exc}); recomputing", stacklevel=2
                )
                shutil.rmtree(final, ignore_errors=True)
            else:
                self.hits += 1
                with contextlib.suppress(OSError):
                    os.utime(final)
                return emb, True
        if final.exists():  # incomplete (interrupted writer of an old version): replace it
            shutil.rmtree(final, ignore_errors=True)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f".{key}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp.zarr"
        try:
            emb = _precompute(util, predictor, image, tmp, tile_shape, halo, batch_size)
            _write_meta(tmp, meta)
            try:
                os.rename(tmp, final)
            except OSError:  # another worker stored the same entry first
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.misses += 1
        self._writes += 1
        if self.max_bytes is not None and (self._writes == 1 or self._writes % 25 == 0):
            self.prune(keep=final)
        if tile_shape is not None:
            # Tiled embeddings are read lazily from the store: reopen it at its final place.
            emb = _precompute(util, predictor, image, final, tile_shape, halo, batch_size)
        return emb, False

    def prune(self, keep: Path | None = None) -> int:
        """Delete least recently used entries (never ``keep``) until the folder is under ``max_bytes``.

        Returns the number of entries deleted.
        """
        if self.max_bytes is None or not self.root.is_dir():
            return 0
        entries = []
        for entry in self.root.glob("*/*.zarr"):
            if entry.name.startswith(".") or entry == keep:
                continue
            size = sum(f.stat().st_size for f in entry.rglob("*") if f.is_file())
            entries.append((entry.stat().st_mtime, size, entry))
        total = sum(e[1] for e in entries)
        if keep is not None and keep.is_dir():
            total += sum(f.stat().st_size for f in keep.rglob("*") if f.is_file())
        removed = 0
        for _, size, entry in sorted(entries):
            if total <= self.max_bytes:
                break
            shutil.rmtree(entry, ignore_errors=True)
            total -= size
            removed += 1
        return removed


def _complete_entry(path: Path) -> bool:
    """An entry is complete once micro-sam wrote its signature (``input_size`` attribute)."""
    meta = path / "zarr.json"
    if meta.is_file():
        with contextlib.suppress(OSError, ValueError):
            return "input_size" in json.loads(meta.read_text()).get("attributes", {})
        return False
    attrs = path / ".zattrs"  # zarr v2 layout
    if attrs.is_file():
        with contextlib.suppress(OSError, ValueError):
            return "input_size" in json.loads(attrs.read_text())
    return False


def _write_meta(path: Path, meta: Mapping[str, Any] | None) -> None:
    if not meta:
        return
    import zarr

    with contextlib.suppress(Exception):
        group = zarr.open_group(str(path), mode="a")
        group.attrs["napari_batchseg"] = json.loads(json.dumps(dict(meta), default=str))


def _precompute(
    util: Any,
    predictor: Any,
    image: np.ndarray,
    save_path: Path | None,
    tile_shape: tuple[int, int] | None,
    halo: tuple[int, int] | None,
    batch_size: int,
) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return util.precompute_image_embeddings(
            predictor,
            image,
            save_path=None if save_path is None else str(save_path),
            ndim=2,
            tile_shape=tile_shape,
            halo=halo,
            verbose=False,
            batch_size=batch_size,
        )


# ---------------------------------------------------------------------------------------------- weights
@dataclass
class _Weights:
    model: str
    architecture: str
    checkpoint: Path
    decoder: Path | None
    builtin: bool
    image_size: int = 1024
    has_decoder: bool = False


def _offline() -> bool:
    return os.environ.get("BATCHSEG_OFFLINE", "").strip().lower() not in _OFF


def _missing_weights_error(
    model: str, folder: Path, missing: list[str], registry: Any, why: str
) -> ModelError:
    lines = []
    for name in missing:
        try:
            url = registry.get_url(name)
        except Exception:  # pragma: no cover - registry without a URL
            url = "(see micro-sam's documentation)"
        lines.append(f"  {folder / name}  <-  {url}")
    return ModelError(
        f"micro-sam model {model!r}: weights not found in the micro-sam cache folder {folder} ({why}).\n"
        f"To use it offline, download on a machine with internet access and save as (file name exactly "
        f"as shown, no extension):\n" + "\n".join(lines) + "\n"
        f"The cache folder is MICROSAM_CACHEDIR/models (default: micro-sam's folder under the user cache "
        f"directory); set MICROSAM_CACHEDIR to use another one. Or pass a local file: "
        f"--checkpoint PATH --model {model[:5]}."
    )


def _resolve_builtin(util: Any, model: str, want_decoder: bool) -> _Weights:
    registry = util.models()
    names = [n for n in registry.registry if not n.endswith("_decoder")]
    if model not in names:
        raise ModelError(
            f"micro-sam model {model!r} unknown; choose one of {', '.join(names)}, or give a local "
            "checkpoint with --checkpoint PATH and its architecture with --model "
            "(vit_b, vit_l, vit_h, vit_t)"
        )
    folder = Path(registry.abspath)
    decoder_name = f"{model}_decoder"
    files = [model]
    if want_decoder and decoder_name in registry.registry:
        files.append(decoder_name)
    missing = [n for n in files if not (folder / n).is_file()]
    if missing:
        if _offline():
            raise _missing_weights_error(model, folder, missing, registry, "BATCHSEG_OFFLINE is set")
        _download(registry, model, folder, missing)
    return _Weights(
        model=model,
        architecture=model[:5],
        checkpoint=folder / model,
        decoder=(folder / decoder_name) if decoder_name in files else None,
        builtin=True,
        image_size=_checkpoint_info(folder / model)[0],
    )


def _download(registry: Any, model: str, folder: Path, names: list[str]) -> None:
    """Fetch ``names`` with micro-sam's pooch registry; time-outs instead of a hang when offline."""
    import pooch

    timeout = float(os.environ.get("BATCHSEG_DOWNLOAD_TIMEOUT", "30"))
    downloader = pooch.HTTPDownloader(progressbar=sys.stderr.isatty(), timeout=timeout)
    for name in names:
        try:
            registry.fetch(name, downloader=downloader)
        except Exception as exc:
            raise _missing_weights_error(
                model, folder, names, registry, f"download failed: {type(exc).__name__}: {exc}"
            ) from exc


def _checkpoint_info(path: Path) -> tuple[int, bool]:
    """``(input size, has a decoder)`` of a checkpoint; 1024 for every released SAM model."""
    import torch

    state = None
    for kwargs in ({"mmap": True}, {}):  # mmap: no full read of a multi-GB file just to peek
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                state = torch.load(str(path), map_location="cpu", weights_only=False, **kwargs)
            break
        except Exception:
            state = None
    if not isinstance(state, Mapping):
        return 1024, False
    has_decoder = "decoder_state" in state
    model_state = state.get("model_state", state)
    for key in ("image_encoder.pos_embed", "sam.image_encoder.pos_embed"):
        pos = model_state.get(key) if isinstance(model_state, Mapping) else None
        if pos is not None and getattr(pos, "ndim", 0) == 4:
            return int(pos.shape[1]) * 16, has_decoder
    return 1024, has_decoder


def _resolve_checkpoint(model: str, checkpoint: str) -> _Weights:
    path = Path(os.path.expanduser(checkpoint))
    if not path.is_file():
        raise ModelError(f"micro-sam checkpoint {str(path)!r} not found (--checkpoint)")
    arch = model[:5]
    if arch not in ARCHITECTURES:
        raise ModelError(
            f"--checkpoint {path} needs its architecture as --model (one of {', '.join(ARCHITECTURES)}), "
            f"got {model!r}"
        )
    image_size, has_decoder = _checkpoint_info(path)
    return _Weights(
        model=model,
        architecture=arch,
        checkpoint=path,
        decoder=None,
        builtin=False,
        image_size=image_size,
        has_decoder=has_decoder,
    )


def default_halo(tile_shape: tuple[int, int]) -> tuple[int, int]:
    """Halo used when tiling without one: a quarter of the tile, between 16 and 256 pixels."""
    return (min(256, max(16, tile_shape[0] // 4)), min(256, max(16, tile_shape[1] // 4)))


def _as_pair(value: Any) -> tuple[int, int] | None:
    if value is None:
        return None
    if isinstance(value, int | np.integer):
        return (int(value), int(value))
    a, b = value
    return (int(a), int(b))


# ---------------------------------------------------------------------------------------------- segmenter
class MicroSamSegmenter:
    """micro-sam AIS/AMG segmenter: load once with :meth:`from_params`, then :meth:`segment` planes.

    Attributes
    ----------
    mode
        The resolved mode, ``"ais"`` or ``"amg"``.
    cache
        The :class:`EmbeddingCache`, or ``None`` when caching is off.
    stats
        Counters: ``embeddings_computed`` (encoder runs), ``cache_hits``, ``planes``.
    """

    name = "sam"

    def __init__(
        self,
        *,
        util: Any,
        instance_segmentation: Any,
        predictor: Any,
        decoder: Any,
        weights: _Weights,
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
        self.tile_batch_size = max(1, int(tile_batch_size))
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
        util, iseg = _import_microsam()
        extra = dict(getattr(params, "extra", None) or {})
        model = str(params.model).strip()
        mode = str(getattr(params, "sam_mode", "auto") or "auto").lower()
        if mode not in ("auto", "ais", "amg"):
            raise ModelError(f"sam_mode {mode!r} unknown; choose auto, ais or amg")
        checkpoint = getattr(params, "checkpoint", None)
        if checkpoint:
            weights = _resolve_checkpoint(model, str(checkpoint))
        else:
            if model[:5] not in ARCHITECTURES:
                raise ModelError(
                    f"model {model!r} is not a micro-sam model; with method 'sam' choose one of "
                    f"{', '.join(KNOWN_MODELS)} (e.g. --model {DEFAULT_MODEL}), or --checkpoint PATH"
                )
            weights = _resolve_builtin(util, model, want_decoder=mode != "amg")
        if weights.architecture == "vit_t" and not getattr(util, "VIT_T_SUPPORT", False):
            raise ModelError(
                f"micro-sam model {model!r} (vit_t) needs the mobile_sam package, which is not installed "
                "(it is not on PyPI: pip install git+https://github.com/ChaoningZhang/MobileSAM.git)"
            )
        if mode == "ais" and not (weights.has_decoder or weights.decoder):
            raise cls._no_decoder_error(weights)
        device, device_description, device_warning = _pick_device(bool(getattr(params, "gpu", False)))
        predictor, decoder = cls._load(util, iseg, weights, device, load_decoder=mode != "amg")
        if mode == "ais" and decoder is None:
            raise cls._no_decoder_error(weights)
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
            device=str(device.type),
            device_description=device_description,
            device_warning=device_warning,
            cache=EmbeddingCache(cache_dir) if cache_dir is not None else None,
            ais_settings={k: extra[k] for k in AIS_DEFAULTS if k in extra},
            amg_settings={k: extra[k] for k in AMG_DEFAULTS if k in extra},
            tile_batch_size=int(extra.get("tile_batch_size", RUN_DEFAULTS["tile_batch_size"])),
        )

    @staticmethod
    def _no_decoder_error(weights: _Weights) -> ModelError:
        where = f" (checkpoint {weights.checkpoint})" if not weights.builtin else ""
        return ModelError(
            f"sam_mode 'ais' needs a model with an instance-segmentation decoder, and "
            f"{weights.model!r}{where} has none; use --sam-mode amg or auto, or a model with a decoder "
            "(vit_b_lm, vit_l_lm, vit_b_em_organelles, vit_l_em_organelles)"
        )

    @staticmethod
    def _load(util: Any, iseg: Any, weights: _Weights, device: Any, load_decoder: bool) -> tuple[Any, Any]:
        kwargs: dict[str, Any] = {}
        if weights.image_size != 1024:
            kwargs["image_size"] = weights.image_size
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                predictor, state = util.get_sam_model(
                    model_type=weights.model if weights.builtin else weights.architecture,
                    device=device,
                    checkpoint_path=str(weights.checkpoint),
                    decoder_path=str(weights.decoder) if (weights.decoder and load_decoder) else None,
                    return_state=True,
                    **kwargs,
                )
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(
                f"micro-sam model {weights.model!r} cannot be loaded from {weights.checkpoint}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if not weights.builtin:
            predictor.model_name = weights.model
        decoder = None
        if load_decoder and isinstance(state, Mapping) and "decoder_state" in state:
            try:
                decoder = iseg.get_decoder(predictor.model.image_encoder, state["decoder_state"], device)
            except Exception as exc:
                raise ModelError(
                    f"micro-sam model {weights.model!r}: the decoder in "
                    f"{weights.decoder or weights.checkpoint} cannot be loaded: {type(exc).__name__}: {exc}"
                ) from exc
            decoder.eval()
        return predictor, decoder

    # ------------------------------------------------------------------ configuration
    def configure(
        self,
        mode: str | None = None,
        tile_shape: Any = "keep",
        halo: Any = "keep",
        **settings: Any,
    ) -> None:
        """Change mode, tiling or AIS/AMG settings without reloading the model.

        Settings are AIS (:data:`AIS_DEFAULTS`) or AMG (:data:`AMG_DEFAULTS`) keys. Changing only
        thresholds keeps the embedding cache valid; changing the tiling changes the cache key.
        """
        if mode is not None:
            mode = mode.lower()
            if mode == "auto":
                resolved = "ais" if self.decoder is not None else "amg"
            elif mode in ("ais", "amg"):
                resolved = mode
            else:
                raise ModelError(f"sam_mode {mode!r} unknown; choose auto, ais or amg")
            if resolved == "ais" and self.decoder is None:
                raise ModelError(f"sam_mode 'ais': model {self.weights.model!r} has no decoder loaded")
            self.mode = resolved
        if tile_shape != "keep":
            self.tile_shape = _as_pair(tile_shape)
        if halo != "keep":
            self.halo = _as_pair(halo)
        if self.tile_shape is None:
            self.halo = None
        else:
            if self.halo is None:
                self.halo = default_halo(self.tile_shape)
            if min(self.tile_shape) <= 0 or min(self.halo) < 0:
                raise ModelError(f"tile_shape {self.tile_shape} / halo {self.halo} must be positive")
        for key, value in settings.items():
            if key in AIS_DEFAULTS:
                self.ais_settings[key] = value
            elif key in AMG_DEFAULTS:
                self.amg_settings[key] = value
                if key in ("points_per_side", "points_per_batch"):
                    self._generators = {k: v for k, v in self._generators.items() if k[0] != "amg"}
            else:
                raise ModelError(
                    f"unknown micro-sam setting {key!r}; AIS: {', '.join(AIS_DEFAULTS)}; "
                    f"AMG: {', '.join(AMG_DEFAULTS)}"
                )

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
            "settings": dict(self.ais_settings if self.mode == "ais" else self.amg_settings),
            "embedding_cache": str(self.cache.root) if self.cache is not None else None,
            "torchvision_nms_shim": shim_active(),
            "versions": versions,
        }

    # ------------------------------------------------------------------ segmentation
    def embeddings(self, image: np.ndarray, index: int = 0) -> tuple[dict[str, Any], bool]:
        """Image embeddings of one prepared plane, from the cache when possible; ``(embeddings, hit)``."""
        img = self._prepare(image)
        return self._embeddings(img, index)

    def _embeddings(self, img: np.ndarray, index: int) -> tuple[dict[str, Any], bool]:
        if self.cache is None:
            emb = _precompute(
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

    def _generator(self) -> Any:
        tiled = self.tile_shape is not None
        gen = self._generators.get((self.mode, tiled))
        if gen is None:
            if self.mode == "ais":
                cls = (
                    self._iseg.TiledInstanceSegmentationWithDecoder
                    if tiled
                    else self._iseg.InstanceSegmentationWithDecoder
                )
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
    def _prepare(image: np.ndarray) -> np.ndarray:
        img = np.asarray(image)
        if img.ndim == 3 and img.shape[0] == 1:
            img = img[0]
        if img.ndim != 2:
            raise ValueError(f"micro-sam segments 2D planes; got an array of shape {img.shape}")
        img = np.ascontiguousarray(img, dtype=np.float32)
        if not np.all(np.isfinite(img)):
            img = np.nan_to_num(img, nan=0.0, posinf=0.0, neginf=0.0)
        return img

    def _instances(self, img: np.ndarray, emb: dict[str, Any]) -> np.ndarray:
        import torch

        gen = self._generator()
        init: dict[str, Any] = {"image_embeddings": emb, "verbose": False}
        if self.tile_shape is not None:
            init.update(tile_shape=self.tile_shape, halo=self.halo, batch_size=self.tile_batch_size)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gen.initialize(img, **init)
            try:
                return self._generate(gen)
            finally:
                with contextlib.suppress(Exception):
                    gen.clear_state()

    def _generate(self, gen: Any) -> np.ndarray:
        if self.mode == "ais":
            kwargs = {k: self.ais_settings[k] for k in AIS_DEFAULTS}
            kwargs["min_size"] = int(kwargs["min_size"])
            if self.tile_shape is not None:
                kwargs.update(tile_shape=self.tile_shape, halo=self.halo)
            return np.asarray(gen.generate(**kwargs))
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
        self, foreground: np.ndarray, center_distances: np.ndarray, boundary_distances: np.ndarray
    ) -> np.ndarray:
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

    def segment(self, image: np.ndarray) -> SegmentOutput:
        """Segment one prepared ``(Y, X)`` float32 plane; labels ``uint32``, 0 = background, ids 1..N."""
        return self._segment(image, 0)

    def segment_batch(self, images: list[np.ndarray]) -> list[SegmentOutput]:
        """Segment several planes (one by one; same result as :meth:`segment`)."""
        return [self._segment(img, i) for i, img in enumerate(images)]

    def _segment(self, image: np.ndarray, index: int) -> SegmentOutput:
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


def relabel_consecutive(seg: np.ndarray) -> tuple[np.ndarray, int]:
    """Labels as ``uint32`` with ids ``1..N`` in order of first appearance by value, 0 kept as background."""
    seg = np.asarray(seg)
    if seg.dtype.kind not in "ui":
        seg = seg.astype(np.int64)
    ids = np.unique(seg)
    ids = ids[ids != 0]
    n = int(ids.size)
    if n > np.iinfo(np.uint32).max:  # pragma: no cover - not reachable for a 2D plane in practice
        raise ModelError(f"{n} objects do not fit in uint32 labels")
    if n == 0:
        return np.zeros(seg.shape, dtype=np.uint32), 0
    if ids[-1] == n and ids[0] == 1:
        return seg.astype(np.uint32, copy=False), n
    lut_index = np.searchsorted(ids, seg)
    out = np.where(seg == 0, 0, lut_index + 1).astype(np.uint32)
    return out, n
