"""npe2 writer: save a Labels layer as a ``_vSM.ome.tif`` mask (atomic, with a log record)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..io.atomic import atomic_write_text
from ..io.masks import read_embedded_log, write_mask
from ..io.naming import LOG_EXT, MASK_EXT, MODULE_TAG
from ..io.reader import stem_of
from ..io.sources import PixelSize
from ..provenance import RunLog
from ._reader import META_KEY


def mask_path_for(path: str | Path) -> Path:
    """``path`` made a mask name: ``.ome.tif`` ending, ``_vSM`` before it (added when missing)."""
    p = Path(path)
    name = p.name
    base = name[: -len(MASK_EXT)] if name.lower().endswith(MASK_EXT) else stem_of(name)
    if MODULE_TAG not in base:
        base += MODULE_TAG
    return p.with_name(base + MASK_EXT)


def _pixel_size(meta: dict[str, Any]) -> PixelSize:
    ours = (meta.get("metadata") or {}).get(META_KEY) or {}
    if ours.get("pixel_size"):
        return PixelSize(**ours["pixel_size"])
    scale = meta.get("scale")
    if scale is not None and len(scale) >= 2 and (scale[-1] != 1 or scale[-2] != 1):
        return PixelSize(x=float(scale[-1]), y=float(scale[-2]))
    return PixelSize()


def write_labels(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """Write one Labels layer (``(Y, X)`` or ``(T, Y, X)``) to ``<name>_vSM.ome.tif`` and its ``.log``."""
    arr = np.asarray(data)
    if arr.ndim not in (2, 3):
        raise ValueError(f"a mask must be 2D (Y, X) or 3D (T, Y, X); this layer has shape {arr.shape}")
    if arr.dtype.kind not in "ui":
        arr = arr.astype(np.int64)
    target = mask_path_for(path)
    ours = (meta.get("metadata") or {}).get(META_KEY) or {}
    earlier = ""
    source_mask = ours.get("mask_path")
    if source_mask and Path(source_mask).exists():
        earlier = read_embedded_log(source_mask)
    log = RunLog(module="napari")
    log.info(f"labels layer {meta.get('name', '')!r} saved from napari to {target}")
    if source_mask:
        log.info(f"layer was opened from {source_mask}")
    text = (earlier.rstrip("\n") + "\n" if earlier.strip() else "") + "\n".join(log.records) + "\n"
    write_mask(target, arr, _pixel_size(meta), text)
    log_path = target.with_name(target.name[: -len(MASK_EXT)] + LOG_EXT)
    atomic_write_text(log_path, text)
    return [str(target)]
