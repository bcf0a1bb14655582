"""Where a micro-sam model's weights come from: micro-sam's cache folder (downloaded once) or a checkpoint.

Built-in models live in ``MICROSAM_CACHEDIR/models``; a missing file is fetched with micro-sam's own
registry under the package's offline and time-out rules (:mod:`.._weights`). When that is not allowed
or fails, the :class:`~napari_batchseg.errors.ModelError` names the model, the folder, each missing
file and its download address.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import sys
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import ModelError, describe
from .._weights import (
    OFFLINE_ENV,
    download_timeout,
    failed_download,
    installed_source,
    note_download,
    offline,
)
from ..catalog import SAM_ARCHITECTURES
from ..safe_load import UnsafeModelFile, load_weights

if TYPE_CHECKING:
    from ...params import SegmentationParams

__all__ = [
    "Weights",
    "check_weights",
    "checkpoint_info",
    "load_model",
    "missing_weights_error",
    "no_decoder_error",
    "no_mobile_sam_error",
    "resolve_builtin",
    "resolve_checkpoint",
]


@dataclass
class Weights:
    """The files of one micro-sam model and what is known about them.

    Attributes
    ----------
    model
        The model name (a registry name, or the ``--model`` given with a checkpoint).
    architecture
        The encoder (``vit_b``, ...).
    checkpoint
        The weights file.
    decoder
        The separate decoder file of a built-in model, or ``None``.
    builtin
        Whether the model comes from micro-sam's registry (else a local checkpoint).
    image_size
        The encoder's input size (1024 for every released model).
    has_decoder
        Whether a local checkpoint holds a decoder.
    """

    model: str
    architecture: str
    checkpoint: Path
    decoder: Path | None
    builtin: bool
    image_size: int = 1024
    has_decoder: bool = False
    #: whether a built-in file matches the hash micro-sam's registry pins (may then need pickled code)
    verified: bool = False


def missing_weights_error(
    model: str, folder: Path, missing: list[str], registry: Any, why: str
) -> ModelError:
    """The error for built-in weights that are missing: folder, each file and its address, what to do."""
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


def resolve_builtin(util: Any, model: str, want_decoder: bool) -> Weights:
    """Find (or, where allowed, download) a registry model and its decoder in micro-sam's cache folder.

    Raises
    ------
    ModelError
        The name is not in micro-sam's registry, or files are missing and cannot be downloaded.
    """
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
        if offline():
            raise missing_weights_error(model, folder, missing, registry, f"{OFFLINE_ENV} is set")
        _download(registry, model, folder, missing)
    size, verified = _builtin_info(registry, folder / model)
    return Weights(
        model=model,
        architecture=model[:5],
        checkpoint=folder / model,
        decoder=(folder / decoder_name) if decoder_name in files else None,
        builtin=True,
        image_size=size,
        verified=verified,
    )


def _download(registry: Any, model: str, folder: Path, names: list[str]) -> None:
    """Fetch ``names`` with micro-sam's pooch registry; time-outs instead of a hang when offline."""
    import pooch

    downloader = pooch.HTTPDownloader(progressbar=sys.stderr.isatty(), timeout=download_timeout())
    for name in names:
        try:
            registry.fetch(name, downloader=downloader)
        except Exception as exc:
            raise missing_weights_error(model, folder, names, registry, failed_download(exc)) from exc


def checkpoint_info(path: Path, state: Any = None) -> tuple[int, bool]:
    """``(input size, has a decoder)`` of a checkpoint; 1024 for every released SAM model.

    The file is read with ``weights_only=True`` (:func:`..safe_load.load_weights`): no code in it runs.

    Raises
    ------
    ModelError
        The file needs pickled code (and ``--trust-checkpoint`` was not given).
    """
    if state is None:
        try:
            state = load_weights(path, "micro-sam checkpoint")
        except UnsafeModelFile:
            raise
        except ModelError:
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


def _registry_verified(registry: Any, path: Path) -> bool:
    """Whether ``path`` is the file micro-sam's registry pins (its recorded hash matches)."""
    try:
        import pooch

        known = registry.registry.get(path.name)
        return bool(known) and bool(pooch.hash_matches(str(path), known))
    except Exception:  # noqa: BLE001 - no registry hash: not verified
        return False


def _builtin_info(registry: Any, path: Path) -> tuple[int, bool]:
    """``(input size, verified)`` of a registry file: one that needs pickled code must match its hash.

    ``verified`` is true only for such a file, whose hash was checked (the others need no trust).
    """
    try:
        return checkpoint_info(path)[0], False
    except UnsafeModelFile:
        if not _registry_verified(registry, path):
            raise
    return checkpoint_info(path, _full_load(path))[0], True


def _full_load(path: Path) -> Any:
    """Load a file whose origin was verified (registry hash) in full."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.load(str(path), map_location="cpu", weights_only=False)


def resolve_checkpoint(model: str, checkpoint: str) -> Weights:
    """A local checkpoint file whose architecture ``model`` names (``vit_b``, ...).

    Raises
    ------
    ModelError
        The file does not exist, or ``model`` names no architecture.
    """
    path = Path(os.path.expanduser(checkpoint))
    if not path.is_file():
        raise ModelError(f"micro-sam checkpoint {str(path)!r} not found (--checkpoint)")
    arch = model[:5]
    if arch not in SAM_ARCHITECTURES:
        raise ModelError(
            f"--checkpoint {path} needs its architecture as --model "
            f"(one of {', '.join(SAM_ARCHITECTURES)}), got {model!r}"
        )
    image_size, has_decoder = checkpoint_info(path)
    return Weights(
        model=model,
        architecture=arch,
        checkpoint=path,
        decoder=None,
        builtin=False,
        image_size=image_size,
        has_decoder=has_decoder,
    )


def no_decoder_error(model: str, mode: str = "ais", checkpoint: Path | None = None) -> ModelError:
    """The error for ``sam_mode='ais'`` (or ``'apg'``) with a model that has no decoder.

    ``checkpoint``: the local checkpoint file of ``model`` (``None``: a built-in model).
    """
    where = f" (checkpoint {checkpoint})" if checkpoint is not None else ""
    return ModelError(
        f"sam_mode {mode!r} needs a model with an instance-segmentation decoder, and "
        f"{model!r}{where} has none; use --sam-mode amg or auto, or a model with a decoder "
        "(vit_b_lm, vit_l_lm, vit_b_em_organelles, vit_l_em_organelles)"
    )


def no_mobile_sam_error(model: str) -> ModelError:
    """The error for a ``vit_t`` model where the ``mobile_sam`` package is not installed."""
    return ModelError(
        f"micro-sam model {model!r} (vit_t) needs the mobile_sam package, which is not installed "
        "(it is not on PyPI: pip install git+https://github.com/ChaoningZhang/MobileSAM.git)"
    )


_PATCH_LOCK = threading.Lock()


def _read_state(path: Path, what: str, verified: bool) -> Any:
    """A checkpoint's content without running its code (a registry-verified file may need it)."""
    try:
        return load_weights(path, what)
    except UnsafeModelFile:
        if not verified:
            raise
    return _full_load(path)


@contextlib.contextmanager
def _checkpoint_given(util: Any, state: Mapping[str, Any], extra: Mapping[str, Any]) -> Iterator[None]:
    """Make micro-sam use ``state`` (already read safely) instead of unpickling the file itself.

    micro-sam's ``get_sam_model`` reads the checkpoint with a full unpickler (and replaces
    ``pickle.Unpickler`` for the whole process while doing so); its ``_load_checkpoint`` step is
    swapped for one that returns what :func:`_read_state` read. A micro-sam without that step is
    refused: it would unpickle the file its own way.
    """
    original = getattr(util, "_load_checkpoint", None)
    if original is None:
        raise ModelError(
            "this micro-sam version loads checkpoints its own way (no _load_checkpoint step), which "
            "may run code from the file; install micro_sam 1.x as pinned by napari-batchseg"
        )

    def given(_path: Any) -> tuple[Any, Any]:
        model_state = state.get("model_state", state)
        if model_state is not state:
            model_state = OrderedDict(
                (k[4:] if k.startswith("sam.") else k, v) for k, v in model_state.items()
            )
        return {**state, **extra}, model_state

    with _PATCH_LOCK:
        util._load_checkpoint = given
        try:
            yield
        finally:
            util._load_checkpoint = original


def load_model(util: Any, iseg: Any, weights: Weights, device: Any, load_decoder: bool) -> tuple[Any, Any]:
    """Build the SAM predictor (and the AIS decoder when asked and present) on ``device``.

    The checkpoint and the decoder are read with ``weights_only=True`` (no code in them runs) and
    handed to micro-sam's model builder; a file that needs pickled code is refused unless the user
    passed ``--trust-checkpoint`` or it is a registry file whose hash matches.

    Raises
    ------
    ModelError
        The weights or the decoder cannot be loaded, or need pickled code.
    """
    kwargs: dict[str, Any] = {}
    if weights.image_size != 1024:
        kwargs["image_size"] = weights.image_size
    try:
        state = _read_state(weights.checkpoint, "micro-sam checkpoint", weights.verified)
        if not isinstance(state, Mapping):
            raise ModelError(f"micro-sam checkpoint {weights.checkpoint} holds no state dict")
        extra: dict[str, Any] = {}
        if weights.decoder and load_decoder:
            extra["decoder_state"] = _read_state(weights.decoder, "micro-sam decoder", weights.verified)
        with warnings.catch_warnings(), _checkpoint_given(util, state, extra):
            warnings.simplefilter("ignore")
            predictor = util.get_sam_model(
                model_type=weights.model if weights.builtin else weights.architecture,
                device=device,
                checkpoint_path=str(weights.checkpoint),
                **kwargs,
            )
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(
            f"micro-sam model {weights.model!r} cannot be loaded from {weights.checkpoint}: "
            f"{describe(exc)}"
        ) from exc
    if not weights.builtin:
        predictor.model_name = weights.model
    decoder = None
    decoder_state = extra.get("decoder_state", state.get("decoder_state"))
    if load_decoder and decoder_state is not None:
        try:
            decoder = iseg.get_decoder(predictor.model.image_encoder, decoder_state, device)
        except Exception as exc:
            raise ModelError(
                f"micro-sam model {weights.model!r}: the decoder in "
                f"{weights.decoder or weights.checkpoint} cannot be loaded: {describe(exc)}"
            ) from exc
        decoder.eval()
    return predictor, decoder


# ---------------------------------------------------------------------------------- dry-run check


class _Urls:
    """The part of micro-sam's pooch registry :func:`missing_weights_error` uses (``get_url``)."""

    def __init__(self, urls: Mapping[str, str]) -> None:
        self.urls = dict(urls)

    def get_url(self, name: str) -> str:
        return self.urls.get(name) or "(see micro-sam's documentation)"


def _registry_urls() -> dict[str, str] | None:
    """micro-sam's registry files and their addresses, without importing ``micro_sam.util`` (torch).

    Taken from the loaded registry when ``micro_sam.util`` is imported already, else read from the
    ``models()`` function in the installed ``micro_sam/util.py``; ``None`` when neither works.
    """
    util = sys.modules.get("micro_sam.util")
    if util is not None:
        try:
            return dict(util.models().urls)
        except Exception:  # noqa: BLE001 - fall back to reading the source
            pass
    text = installed_source("micro_sam", "util.py")
    if text is None:
        return None
    start = text.find("def models(")
    end = text.find("\ndef ", start + 1)
    if start < 0:
        return None
    found = dict(re.findall(r"""["'](\w+)["']\s*:\s*["'](https?://[^"']+)["']""", text[start:end]))
    return found or None


def models_folder() -> Path:
    """micro-sam's model cache folder, ``MICROSAM_CACHEDIR/models`` (as ``micro_sam.util.models()``)."""
    cache = os.environ.get("MICROSAM_CACHEDIR")
    if not cache:
        import pooch

        cache = os.fspath(pooch.os_cache("micro_sam"))
    return Path(cache) / "models"


def check_weights(params: SegmentationParams) -> None:
    """What ``segment --dry-run`` checks of a micro-sam model: files only, nothing loaded or downloaded.

    A ``--checkpoint`` must exist and ``--model`` name its architecture; a built-in model's files (and
    its decoder, unless ``sam_mode`` is ``amg``) are looked for in :func:`models_folder`; a missing one
    is a "would download" line (:func:`.._weights.note_download`), or with ``BATCHSEG_OFFLINE`` set the
    error the run would give. Refused as the run refuses them: ``z_mode`` stitch, a ``vit_t`` model
    without the ``mobile_sam`` package, ``sam_mode`` ais or apg with a built-in model that has no
    decoder (a checkpoint's decoder is known only once it is read: the run checks it).

    Raises
    ------
    ModelError
        micro-sam is not installed; the checkpoint does not exist; an unknown model; missing files
        with ``BATCHSEG_OFFLINE`` set; a model without the decoder or package ``params`` need.
    ParameterError
        ``z_mode`` stitch.
    """
    from ..base import refuse_volume
    from ..catalog import SAM_MODELS, default_model, needs_mobile_sam
    from ._imports import INSTALL_HINT, microsam_available
    from .volume import NO_STITCH

    if params.z_mode == "stitch":
        raise refuse_volume("micro-sam", params.z_mode, ("3d",), NO_STITCH)
    if not microsam_available():
        raise ModelError(f"method 'sam' needs the micro-sam package, which is not installed: {INSTALL_HINT}")
    model = str(params.model).strip()
    if needs_mobile_sam(model[:5]) and importlib.util.find_spec("mobile_sam") is None:
        raise no_mobile_sam_error(model)
    if params.checkpoint:
        path = Path(os.path.expanduser(str(params.checkpoint)))
        if not path.is_file():
            raise ModelError(f"micro-sam checkpoint {str(path)!r} not found (--checkpoint)")
        if model[:5] not in SAM_ARCHITECTURES:
            raise ModelError(
                f"--checkpoint {path} needs its architecture as --model "
                f"(one of {', '.join(SAM_ARCHITECTURES)}), got {model!r}"
            )
        return
    if model[:5] not in SAM_ARCHITECTURES:
        raise ModelError(
            f"model {model!r} is not a micro-sam model; with method 'sam' choose one of "
            f"{', '.join(SAM_MODELS)} (e.g. --model {default_model('sam')}), or --checkpoint PATH"
        )
    urls = _registry_urls()
    names = [n for n in urls if not n.endswith("_decoder")] if urls else []
    if urls and model not in names:
        raise ModelError(
            f"micro-sam model {model!r} unknown; choose one of {', '.join(names)}, or give a local "
            "checkpoint with --checkpoint PATH and its architecture with --model "
            "(vit_b, vit_l, vit_h, vit_t)"
        )
    mode = str(params.sam_mode).lower()
    if urls and mode in ("ais", "apg") and f"{model}_decoder" not in urls:
        raise no_decoder_error(model, mode)
    folder = models_folder()
    files = [model]
    if mode != "amg" and f"{model}_decoder" in (urls or {}):
        files.append(f"{model}_decoder")
    missing = [n for n in files if not (folder / n).is_file()]
    if not missing:
        return
    registry = _Urls(urls or {})
    if offline():
        raise missing_weights_error(
            model, folder, missing, registry, f"{OFFLINE_ENV} is set, so the run would fail: no download"
        )
    for name in missing:
        note_download(
            f"micro-sam model {model!r}: file '{name}' is not in the micro-sam cache folder {folder}; the "
            f"run would download it from {registry.get_url(name)} (needs internet) and save it there"
        )
