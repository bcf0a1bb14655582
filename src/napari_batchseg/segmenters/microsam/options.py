"""micro-sam settings (AIS, AMG, APG, run options), the default halo, and the label convention."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...errors import ModelError

__all__ = [
    "AIS_DEFAULTS",
    "AMG_DEFAULTS",
    "APG_DEFAULTS",
    "RUN_DEFAULTS",
    "default_halo",
    "relabel_consecutive",
]

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
#: APG settings (``AutomaticPromptGenerator.generate``: point prompts derived from the decoder's maps,
#: then SAM's masks filtered by non-maximum suppression), overridable through ``params.extra``.
#: ``prompt_batch_size`` is ``generate``'s ``batch_size`` (prompts per decoder call), renamed apart from
#: ``--batch-size``. The thresholds and ``min_size`` have the same names as AIS's; a value set through
#: ``params.extra`` applies to both modes, the defaults are micro-sam's own for each.
APG_DEFAULTS: dict[str, Any] = {
    "center_distance_threshold": 0.5,
    "boundary_distance_threshold": 0.5,
    "foreground_threshold": 0.5,
    "min_size": 25,
    "multimasking": False,
    "prompt_batch_size": 32,
    "nms_threshold": 0.9,
    "intersection_over_min": False,
    "mask_threshold": None,
    "refine_with_box_prompts": False,
}
#: Other options read from ``params.extra``: ``embedding_cache`` (folder, or ``False`` to switch the
#: cache off) and ``tile_batch_size`` (tiles per encoder call when tiling).
RUN_DEFAULTS: dict[str, Any] = {"embedding_cache": None, "tile_batch_size": 1}


def default_halo(tile_shape: tuple[int, int]) -> tuple[int, int]:
    """Halo used when tiling without one: a quarter of the tile, between 16 and 256 pixels."""
    return (min(256, max(16, tile_shape[0] // 4)), min(256, max(16, tile_shape[1] // 4)))


def relabel_consecutive(seg: NDArray[Any]) -> tuple[NDArray[Any], int]:
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
