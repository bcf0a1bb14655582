"""Columns shared by the object tables of 2D and volume masks: time, position name, intensity statistics."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

#: Seconds since the input's first frame (``frame`` x time increment), only when the increment is known.
TIME_COLUMN = "time_s"
#: The statistics of each intensity channel, in column order (``<stat>_intensity[_<channel>]``).
INTENSITY_STATS: tuple[str, ...] = ("mean", "min", "max", "sum", "std")


def name_column(name: str | None, n: int) -> NDArray[Any]:
    """``n`` cells of a text column (``position_name``): ``name``, or NaN (an empty CSV cell) when ``None``.

    NaN, as the physical columns of an unknown pixel size: a table in memory equals its CSV read back.
    """
    return np.full(n, np.nan if name is None else name, dtype=object)


def intensity_stats(labels: NDArray[Any], image: NDArray[Any], ids: NDArray[Any]) -> dict[str, NDArray[Any]]:
    """mean, min, max, sum, std (population) of ``image`` over each label in ``ids`` (float64)."""
    from scipy import ndimage as ndi

    lab = labels.ravel().astype(np.int64, copy=False)
    img = np.asarray(image, dtype=np.float64).ravel()
    n = int(lab.max()) + 1 if lab.size else 1
    count = np.bincount(lab, minlength=n)[ids].astype(np.float64)
    total = np.bincount(lab, weights=img, minlength=n)[ids]
    mean = total / count
    sq = np.bincount(lab, weights=img * img, minlength=n)[ids]
    var = np.maximum(sq / count - mean * mean, 0.0)
    idx = ids.tolist()
    mins = np.asarray(ndi.minimum(img, lab, idx), dtype=np.float64) if idx else np.empty(0)
    maxs = np.asarray(ndi.maximum(img, lab, idx), dtype=np.float64) if idx else np.empty(0)
    return {"mean": mean, "min": mins, "max": maxs, "sum": total, "std": np.sqrt(var)}


def intensity_columns(labels: NDArray[Any], ids: NDArray[Any],
                      channels: list[tuple[str, NDArray[Any] | None]]) -> dict[str, Any]:
    """``<stat>_intensity<tag>`` columns of each ``(tag, image)`` (NaN where the image is ``None``)."""
    out: dict[str, Any] = {}
    for tag, img in channels:
        if img is not None and np.shape(img) != np.shape(labels):
            raise ValueError(f"image{tag} shape {np.shape(img)} differs from labels {np.shape(labels)}")
        stats = intensity_stats(labels, img, ids) if img is not None and len(ids) else {}
        for s in INTENSITY_STATS:
            out[f"{s}_intensity{tag}"] = stats.get(s, np.full(len(ids), np.nan))
    return out
