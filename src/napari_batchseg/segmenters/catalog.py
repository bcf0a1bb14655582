"""The models this package offers by name, per method: one list for the segmenters, CLI and widget.

Nothing here imports torch, Cellpose or micro-sam, so a front end can list models cheaply.

* :data:`CELLPOSE_MODELS` (alias :data:`CELLPOSE3_MODELS`): Cellpose 3 built-in models (the default
  first); :data:`CELLPOSE_SIZE_MODELS`: those with a size model (``diameter=0``).
  :data:`CELLPOSE4_MODELS`: Cellpose 4's (``cellpose.models.MODEL_NAMES``, the default first). Any other
  Cellpose model is a user-trained model file. Only one Cellpose is installed at a time:
  :func:`cellpose_major` says which (read from the package metadata, without importing it), and
  :func:`cellpose_builtins`, :func:`is_cellpose_builtin`, :func:`default_model` and
  :func:`offered_models` answer for it.
* :data:`SAM_MODELS`: micro-sam model types this package documents (the default first); any other name
  in micro-sam's registry also works. :data:`SAM_ARCHITECTURES`: the encoders, as ``--model`` names
  them next to ``--checkpoint``.
* :func:`default_model` and :func:`offered_models` per method.
"""

from __future__ import annotations

from ..params import DEFAULT_MODELS, METHODS, cellpose_major, cellpose_version

__all__ = [
    "CELLPOSE3_MODELS",
    "CELLPOSE4_MODELS",
    "CELLPOSE4_OFFERED",
    "CELLPOSE_MODELS",
    "CELLPOSE_SIZE_MODELS",
    "DEFAULT_MODELS",
    "SAM_ARCHITECTURES",
    "SAM_MODELS",
    "cellpose_builtins",
    "cellpose_major",
    "cellpose_version",
    "default_model",
    "is_cellpose_builtin",
    "needs_mobile_sam",
    "offered_models",
]

#: Cellpose 3 built-in models this package offers by name (the default, ``cyto3``, first).
CELLPOSE_MODELS: tuple[str, ...] = (
    "cyto3",
    "cyto2",
    "cyto",
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
CELLPOSE3_MODELS = CELLPOSE_MODELS
#: Cellpose 4 built-in models (``cellpose.models.MODEL_NAMES`` of 4.2; its default, ``cpsam_v2``, first).
CELLPOSE4_MODELS: tuple[str, ...] = ("cpsam_v2", "cpsam", "cpdino", "cpdino-vitb")
#: The Cellpose 4 models a menu offers: the ``cpdino`` ones need ``dinov3``, installable only from git.
CELLPOSE4_OFFERED: tuple[str, ...] = ("cpsam_v2", "cpsam")
#: Cellpose built-in models that have a size model, so ``diameter=0`` can be estimated.
CELLPOSE_SIZE_MODELS: tuple[str, ...] = ("cyto", "cyto2", "cyto3", "nuclei")

#: Encoder architectures micro-sam can build (``vit_t`` needs the ``mobile_sam`` package).
SAM_ARCHITECTURES: tuple[str, ...] = ("vit_h", "vit_l", "vit_b", "vit_t")
#: micro-sam model types this package documents (the default, ``vit_b_lm``, first).
SAM_MODELS: tuple[str, ...] = (
    "vit_b_lm",
    "vit_l_lm",
    "vit_b",
    "vit_l",
    "vit_h",
    "vit_b_em_organelles",
    "vit_l_em_organelles",
    "vit_t",
    "vit_t_lm",
    "vit_t_em_organelles",
)


def _check(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method {method!r} unknown; choose one of {', '.join(METHODS)}")


def cellpose_builtins(major: int | None = None) -> tuple[str, ...]:
    """The built-in model names of Cellpose ``major`` (default: the installed one), the default first."""
    return CELLPOSE4_MODELS if (major or cellpose_major()) >= 4 else CELLPOSE3_MODELS


def default_model(method: str) -> str:
    """The model a run of ``method`` uses when none is given.

    ``cyto3`` with Cellpose 3, ``cpsam_v2`` with Cellpose 4; ``vit_b_lm`` for micro-sam.
    """
    _check(method)
    if method == "cellpose":
        return cellpose_builtins()[0]
    return DEFAULT_MODELS[method]


def is_cellpose_builtin(model: str, major: int | None = None) -> bool:
    """Whether ``model`` names a built-in model of Cellpose ``major`` (default: the installed one).

    Anything else is a model file.
    """
    return model in cellpose_builtins(major)


def needs_mobile_sam(model: str) -> bool:
    """Whether a micro-sam model needs the ``mobile_sam`` package (the ``vit_t`` encoder; not on PyPI)."""
    return model.startswith("vit_t")


def offered_models(method: str) -> tuple[str, ...]:
    """The models a menu offers for ``method``, the default first.

    Cellpose: the installed major's built-in models (Cellpose 4: ``cpsam_v2`` and ``cpsam``; the
    ``cpdino`` models need ``dinov3`` from git and are typed by name). micro-sam models that need
    ``mobile_sam`` (not installable from PyPI) are left out.
    """
    _check(method)
    if method == "cellpose":
        return CELLPOSE4_OFFERED if cellpose_major() >= 4 else CELLPOSE3_MODELS
    return tuple(m for m in SAM_MODELS if not needs_mobile_sam(m))
