"""Cellpose on ``(Z, Y, X)`` volumes: ``do_3D`` (``z_mode`` 3d) or 2D per slice stitched (``stitch``).

One call of ``CellposeModel.eval`` per volume, with exactly the arguments a user would give by hand
(``z_axis=0``, ``do_3D=True`` and ``anisotropy``, or ``stitch_threshold``), so the labels equal
Cellpose's own. Cellpose 3 applies its 2D network along the three axes of the volume (a 2D model
serves); Cellpose 4 has the same ``do_3D`` / ``stitch_threshold`` arguments.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..base import SegmentOutput

__all__ = ["VOLUME_MODES", "eval_volume", "volume_arguments"]

#: the Z modes Cellpose offers
VOLUME_MODES: tuple[str, ...] = ("3d", "stitch")


def volume_arguments(mode: str, anisotropy: float | None, stitch_threshold: float) -> dict[str, Any]:
    """The ``eval`` arguments that make a 2D call a volume call (``z_axis=0`` and the mode's own)."""
    if mode == "3d":
        return {"z_axis": 0, "do_3D": True, "anisotropy": anisotropy}
    if mode == "stitch":
        return {"z_axis": 0, "do_3D": False, "stitch_threshold": float(stitch_threshold)}
    raise ValueError(f"unknown volume mode {mode!r}; Cellpose offers {', '.join(VOLUME_MODES)}")


def eval_volume(
    model: Any,
    volume: NDArray[Any],
    eval_kwargs: dict[str, Any],
    mode: str,
    anisotropy: float | None,
    stitch_threshold: float,
    debug: bool = False,
    diameter_reported: float | str | None = None,
) -> SegmentOutput:
    """Segment one ``(Z, Y, X)`` volume with ``model.eval(volume, **eval_kwargs, <volume arguments>)``.

    ``eval_kwargs`` are the adapter's 2D arguments (diameter, thresholds, channels, ...). Labels come
    back ``(Z, Y, X)``; ``debug`` keeps flows (RGB per slice) and cell probability per slice.
    """
    volume = np.asarray(volume)
    if volume.ndim != 3:
        raise ValueError(f"a volume is (Z, Y, X), got shape {volume.shape}")
    t0 = time.perf_counter()
    kwargs = {**eval_kwargs, **volume_arguments(mode, anisotropy, stitch_threshold)}
    masks, flows, _styles = model.eval(volume, **kwargs)
    labels = np.asarray(masks)
    if labels.shape != volume.shape:  # an empty result can come back squeezed oddly
        labels = labels.reshape(volume.shape)
    out_debug: dict[str, NDArray[Any]] = {}
    if debug:
        rgb = np.asarray(flows[0], dtype=np.uint8)
        if rgb.shape[:3] == volume.shape:
            out_debug["flows"] = rgb
        out_debug["cellprob"] = np.asarray(flows[2], dtype=np.float32).reshape(volume.shape)
    info: dict[str, Any] = {
        "z_mode": mode,
        "z_slices": int(volume.shape[0]),
        "n_objects": int(labels.max()) if labels.size else 0,
        "seconds": round(time.perf_counter() - t0, 4),
    }
    if diameter_reported is not None:
        info["diameter"] = diameter_reported
    if mode == "3d":
        info["anisotropy"] = round(float(anisotropy), 4) if anisotropy is not None else None
    else:
        info["stitch_threshold"] = float(stitch_threshold)
    return SegmentOutput(labels=labels, debug=out_debug, info=info)
