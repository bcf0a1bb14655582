"""micro-sam on ``(Z, Y, X)`` volumes: its automatic 3D segmentation (``z_mode`` 3d).

micro-sam's 3D automatic segmentation
(``micro_sam.multi_dimensional_segmentation.automatic_3d_segmentation``, what
``automatic_instance_segmentation(..., ndim=3)`` runs) segments every slice in 2D with the AIS, AMG or
APG generator, numbers the objects of consecutive slices apart, and merges them across Z with a
multicut on their overlaps (``merge_instance_segmentation_3d``). The segmenter does the slices itself
(each slice's embeddings through its embedding cache) and hands them to micro-sam's own merge
(:func:`merge_slices`), so the labels equal micro-sam's call with the same settings.

There is no anisotropy (the slices are segmented at their own size) and no IoU stitching: ``stitch`` is
Cellpose's and is refused (:data:`NO_STITCH`). Where the installed micro-sam lacks the 3D functions,
:func:`missing_3d` says so and ``3d`` is refused before the model is loaded.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...errors import ModelError

__all__ = ["NO_STITCH", "VOLUME_DEFAULTS", "check_volume_settings", "merge_slices", "missing_3d"]

#: The merge settings of ``automatic_3d_segmentation``, overridable through ``params.extra``
#: (``--sam-set gap_closing=2``): ``gap_closing`` closes gaps of that many slices in Z before the merge,
#: ``min_z_extent`` drops objects spanning fewer slices; ``None``: off (micro-sam's defaults).
VOLUME_DEFAULTS: dict[str, int | None] = {"gap_closing": None, "min_z_extent": None}
#: why ``stitch`` is refused with micro-sam (said in the error)
NO_STITCH = "its 3d segments each slice in 2D and merges the objects across Z; stitch is Cellpose's"
#: the module and functions the 3D mode needs
_MODULE = "micro_sam.multi_dimensional_segmentation"
_FUNCTIONS = ("automatic_3d_segmentation", "merge_instance_segmentation_3d")


def missing_3d() -> str | None:
    """Why the installed micro-sam cannot segment volumes, or ``None`` when it can."""
    from micro_sam import __version__ as msv

    try:
        module = importlib.import_module(_MODULE)
    except ImportError as exc:
        return f"the installed micro-sam {msv} cannot import {_MODULE} ({exc})"
    absent = [f for f in _FUNCTIONS if not hasattr(module, f)]
    if absent:
        return f"the installed micro-sam {msv} has no {_MODULE}.{absent[0]}; upgrade micro-sam"
    return None


def check_volume_settings(settings: Mapping[str, Any]) -> dict[str, int | None]:
    """The :data:`VOLUME_DEFAULTS` keys of ``settings`` checked (``None`` or an int >= 0), defaults filled."""
    out = dict(VOLUME_DEFAULTS)
    for key in VOLUME_DEFAULTS:
        value = settings.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ModelError(f"micro-sam setting {key} must be a whole number >= 0 (or null), got {value!r}")
        out[key] = int(value)
    return out


def merge_slices(slices: Sequence[NDArray[Any]], settings: Mapping[str, int | None]) -> NDArray[Any]:
    """Stack 2D instance segmentations and merge them across Z as ``automatic_3d_segmentation`` does.

    The objects of each slice are numbered after those of the slices before (micro-sam's
    ``_segment_slices``), then ``merge_instance_segmentation_3d(..., beta=0.5, with_background=True)``
    with ``gap_closing`` and ``min_z_extent`` from ``settings``. Labels are ``uint32``, not renumbered.
    """
    module = importlib.import_module(_MODULE)
    first = np.asarray(slices[0])
    stacked = np.zeros((len(slices), *first.shape), dtype="uint32")
    offset = 0
    for z, plane in enumerate(slices):
        seg = np.array(plane, copy=True)
        top = int(seg.max()) if seg.size else 0
        if top == 0:
            continue
        seg[seg != 0] += offset
        offset = top + offset
        stacked[z] = seg
    merged = module.merge_instance_segmentation_3d(
        stacked, beta=0.5, with_background=True, gap_closing=settings.get("gap_closing"),
        min_z_extent=settings.get("min_z_extent"), verbose=False,
    )
    return np.asarray(merged)
