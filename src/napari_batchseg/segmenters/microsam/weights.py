"""Where a micro-sam model's weights come from: micro-sam's cache folder (downloaded once) or a checkpoint.

Built-in models live in ``MICROSAM_CACHEDIR/models``; a missing file is fetched with micro-sam's own
registry under the package's offline and time-out rules (:mod:`.._weights`). When that is not allowed
or fails, the :class:`~napari_batchseg.errors.ModelError` names the model, the folder, each missing
file and its download address.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import ModelError
from .._weights import OFFLINE_ENV, download_timeout, offline
from ..catalog import SAM_ARCHITECTURES

__all__ = [
    "Weights",
    "checkpoint_info",
    "load_model",
    "missing_weights_error",
    "no_decoder_error",
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
    return Weights(
        model=model,
        architecture=model[:5],
        checkpoint=folder / model,
        decoder=(folder / decoder_name) if decoder_name in files else None,
        builtin=True,
        image_size=checkpoint_info(folder / model)[0],
    )


def _download(registry: Any, model: str, folder: Path, names: list[str]) -> None:
    """Fetch ``names`` with micro-sam's pooch registry; time-outs instead of a hang when offline."""
    import pooch

    downloader = pooch.HTTPDownloader(progressbar=sys.stderr.isatty(), timeout=download_timeout())
    for name in names:
        try:
            registry.fetch(name, downloader=downloader)
        except Exception as exc:
            raise missing_weights_error(
                model, folder, names, registry, f"download failed: {type(exc).__name__}: {exc}"
            ) from exc


def checkpoint_info(path: Path) -> tuple[int, bool]:
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


def no_decoder_error(weights: Weights) -> ModelError:
    """The error for ``sam_mode='ais'`` with a model that has no decoder."""
    where = f" (checkpoint {weights.checkpoint})" if not weights.builtin else ""
    return ModelError(
        f"sam_mode 'ais' needs a model with an instance-segmentation decoder, and "
        f"{weights.model!r}{where} has none; use --sam-mode amg or auto, or a model with a decoder "
        "(vit_b_lm, vit_l_lm, vit_b_em_organelles, vit_l_em_organelles)"
    )


def load_model(util: Any, iseg: Any, weights: Weights, device: Any, load_decoder: bool) -> tuple[Any, Any]:
    """Build the SAM predictor (and the AIS decoder when asked and present) on ``device``.

    Raises
    ------
    ModelError
        The weights or the decoder cannot be loaded.
    """
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
