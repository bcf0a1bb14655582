"""Cellpose on ``(Z, Y, X)`` volumes: ``do_3D`` (``z_mode`` 3d) or 2D per slice stitched (``stitch``).

One call of ``CellposeModel.eval`` per volume, with exactly the arguments a user would give by hand
(``z_axis=0``, ``do_3D=True`` and ``anisotropy``, or ``stitch_threshold``), so the labels equal
Cellpose's own. Cellpose 3 applies its 2D network along the three axes of the volume (a 2D model
serves); Cellpose 4 has the same ``do_3D`` / ``stitch_threshold`` arguments (:func:`offered_modes`
reads them from the installed ``eval``), but refuses ``z_axis`` without ``do_3D`` or a stitch
threshold above 0 (:func:`refuse_unstitched`).
"""

from __future__ import annotations

import inspect
import time
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...params import ParameterError
from ..base import SegmentOutput

__all__ = ["VOLUME_MODES", "eval_volume", "offered_modes", "refuse_unstitched", "volume_arguments"]

#: the Z modes Cellpose offers
VOLUME_MODES: tuple[str, ...] = ("3d", "stitch")
#: the ``eval`` arguments each mode needs
_MODE_ARGUMENTS = {"3d": ("z_axis", "do_3D", "anisotropy"), "stitch": ("z_axis", "stitch_threshold")}


def offered_modes(eval_function: Any) -> tuple[str, ...]:
    """The modes of :data:`VOLUME_MODES` whose arguments ``eval_function`` (``CellposeModel.eval``) takes."""
    try:
        names = set(inspect.signature(eval_function).parameters)
    except (TypeError, ValueError):
        return ()
    return tuple(m for m in VOLUME_MODES if set(_MODE_ARGUMENTS[m]) <= names)


def refuse_unstitched(mode: str, stitch_threshold: float, version: str) -> None:
    """Raise :class:`ParameterError` for ``stitch`` with threshold 0 under Cellpose 4 (one line).

    Cellpose 4's ``eval`` refuses a Z axis unless ``do_3D`` or ``stitch_threshold > 0`` (a threshold
    of 0 would leave each slice's objects unjoined, their ids repeated from slice to slice).
    """
    if mode == "stitch" and float(stitch_threshold) <= 0.0:
        raise ParameterError(
            f"stitch_threshold 0: Cellpose {version} stitches slices only above 0 (it refuses a Z stack "
            "that would stay unjoined); give --stitch-threshold above 0 (e.g. 0.25) or use --z-mode 3d"
        )


def volume_arguments(mode: str, anisotropy: float | None, stitch_threshold: float) -> dict[str, Any]:
    """The ``eval`` arguments that make a 2D call a volume call (``z_axis=0`` and the mode's own)."""
    if mode == "3d":
        return {"z_axis": 0, "do_3D": True, "anisotropy": anisotropy}
    if mode == "stitch":
        return {"z_axis": 0, "do_3D": False, "stitch_threshold": float(stitch_threshold)}
    raise ValueError(f"unknown volume mode {mode!r}; Cellpose offers {', '.join(VOLUME_MODES)}")


def _quiet_stitching() -> None:
    """Cellpose's ``stitch3D`` draws no tqdm bar (its ``trange``, used only there, is made quiet).

    It drew one per volume on stderr, through the CLI's own progress and into napari's console (a
    walk). Set once for the process (no swap back and forth that threads could interleave).
    """
    import functools

    from cellpose import utils
    from tqdm import trange  # type: ignore[import-untyped]

    if not getattr(utils.trange, "_batchseg_quiet", False):
        quiet = functools.partial(trange, disable=True)
        quiet._batchseg_quiet = True  # type: ignore[attr-defined]
        utils.trange = quiet


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
    if mode == "stitch":
        _quiet_stitching()
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
