"""Small operations on the streamed layers: their ``batchseg`` metadata, edit marks, retargeting, contrast.

Shared by the layer streamer (:mod:`._stream`), its placeholder layers, the reopened results and the
correction panel. No layer is created here.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from ._reader import META_KEY

PLACEHOLDER = "batch segmentation: starting…"
AXES = ("T", "Y", "X")
#: display buffers hold labels as uint16: napari draws uint8/uint16 labels directly, while uint32 ones
#: go through a colour-index mapping that costs ~20 ms per 700 x 1100 frame on the GUI thread. A frame
#: with ids above 65535 switches its buffer to uint32 (the values shown are always the values saved).
LABELS_DTYPE = np.uint16


def layer_meta(layer: Any) -> dict[str, Any]:
    """The ``batchseg`` entry of a layer's metadata (empty dict when none)."""
    try:
        return layer.metadata.get(META_KEY) or {}
    except AttributeError:
        return {}


def _extent(layer: Any) -> tuple[Any, ...] | None:
    if layer is None:
        return None
    return tuple(layer.data.shape[-2:]) + tuple(layer.scale[-2:])


def _is_buffer(data: object, shape: tuple[int, ...], dtype: Any) -> bool:
    return isinstance(data, np.ndarray) and data.shape == tuple(shape) and data.dtype == dtype


def _retarget(layer: Any, data: Any, scale: tuple[float, ...], name: str, meta: dict[str, Any],
              units: str | None = None) -> None:
    """Point an existing layer at another output, touching only what changes (each change costs)."""
    old = layer.data
    if old is not data:
        layer.data = data
        _release(old)
    if tuple(layer.scale) != tuple(scale):
        layer.scale = scale
    if layer.name != name:
        layer.name = name
    if units is not None:
        _set_units(layer, units)
    if not layer.visible:
        layer.visible = True
    layer.metadata = {**layer.metadata, META_KEY: {**meta, "units": units or layer_meta(layer).get("units")}}


def _set_units(layer: Any, units: str) -> None:
    """Give a layer's Y and X axes ``units`` (recorded in its metadata), unless it has them already.

    The stream layers change units together, in one turn of the event loop: napari warns ("Inconsistent
    units across layers") whenever it draws layers whose units differ.
    """
    if layer_meta(layer).get("units", "µm") == units:
        return
    with contextlib.suppress(Exception):  # napari without settable units: keep the old ones
        layer.units = (*layer.units[:-2], units, units)
    meta = layer.metadata.get(META_KEY)
    if isinstance(meta, dict):
        meta["units"] = units


def _release(data: object) -> None:
    """Close the file behind a lazily read array that a layer no longer shows."""
    close = getattr(data, "close", None)
    if callable(close) and not isinstance(data, np.ndarray):
        with contextlib.suppress(Exception):
            close()


EDITED = " (edited)"


def mark_edited(layer: Any) -> None:
    """The layer holds edits not saved yet: never reused for another output, and named ``… (edited)``."""
    meta = layer.metadata.get(META_KEY)
    if isinstance(meta, dict):
        meta["dirty"] = True
    if not layer.name.endswith(EDITED):
        layer.name = f"{layer.name}{EDITED}"


def mark_saved(layer: Any) -> None:
    """The layer's edits are saved to its mask: its name loses ``(edited)``."""
    meta = layer.metadata.get(META_KEY)
    if isinstance(meta, dict):
        meta["dirty"] = False
    if layer.name.endswith(EDITED):
        layer.name = layer.name[: -len(EDITED)]


def _quick_range(image: np.ndarray[Any, Any]) -> tuple[float, float]:
    step = max(1, max(image.shape) // 256)
    sample = np.asarray(image)[::step, ::step]
    lo, hi = (float(v) for v in np.percentile(sample, (0.5, 99.8)))
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi


def _set_contrast(layer: Any, limits: tuple[float, float]) -> None:
    lo, hi = limits
    layer.contrast_limits_range = (min(lo, 0.0), max(hi, lo + 1.0))
    layer.contrast_limits = (lo, hi)
