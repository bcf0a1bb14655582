"""Per-frame objects of a label mask: label, area and centroid, with the checks tracking needs.

One frame is read and measured at a time, so memory does not grow with the movie length: a movie of
any length is a table of a few numbers per object.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .base import OBJECT_COLUMNS, TrackingError

__all__ = ["frame_objects", "reused_labels"]

#: above this largest label, a frame's labels are ranked first (bincount sized by the largest label)
_COMPACT_ABOVE = 1 << 20


def reused_labels(labels: NDArray[Any]) -> list[int]:
    """Labels whose pixels form two or more separate pieces (8-connectivity) in one frame.

    One connected-component pass over the frame (regions of equal value): a label with more
    components than one is reused.
    """
    from skimage.measure import label as components

    pieces = components(labels, background=0, connectivity=2)
    n_pieces = int(pieces.max())
    if n_pieces == 0:
        return []
    value_of = np.zeros(n_pieces + 1, dtype=np.int64)
    value_of[pieces.ravel()] = labels.ravel()  # every piece has one value
    values, counts = np.unique(value_of[1:], return_counts=True)
    return [int(v) for v in values[counts > 1]]


def frame_objects(labels: NDArray[Any], frame: int, where: str = "") -> pd.DataFrame:
    """The objects of one ``(Y, X)`` label frame as rows of :data:`~.base.OBJECT_COLUMNS`.

    Labels need not be sequential; background is 0. An empty frame gives an empty table.

    Raises
    ------
    TrackingError
        When the frame is not 2D, or a label is used for two separate objects in it.
    """
    arr = np.asarray(labels)
    if arr.ndim != 2:
        raise TrackingError(f"{where or 'labels'}: frame {frame} has shape {arr.shape}; tracking needs 2D "
                            "frames (T, Y, X): 3D (Z) masks are not tracked")
    if arr.dtype.kind not in "ui":
        raise TrackingError(f"{where or 'labels'}: frame {frame}: labels must be integers, got {arr.dtype}")
    values = arr
    if arr.size and int(arr.max()) > _COMPACT_ABOVE:  # sparse huge ids: work on their ranks
        uniq, inverse = np.unique(arr, return_inverse=True)
        values = inverse.reshape(arr.shape)
        if uniq[0] != 0:
            uniq, values = np.concatenate([[0], uniq]), values + 1
    else:
        uniq = None
    reused = reused_labels(values)
    if reused:
        named = [int(uniq[r]) if uniq is not None else r for r in reused]
        shown = ", ".join(map(str, named[:5])) + (" ..." if len(named) > 5 else "")
        raise TrackingError(
            f"{where or 'labels'}: frame {frame}: label(s) {shown} used for two or more separate objects; "
            "give each object its own label before tracking")
    flat = values.ravel()
    counts = np.bincount(flat) if flat.size else np.zeros(1, dtype=np.int64)
    ids = np.flatnonzero(counts)
    ids = ids[ids > 0]
    if not len(ids):
        return pd.DataFrame({c: pd.Series(dtype=float if "centroid" in c else np.int64)
                             for c in OBJECT_COLUMNS})
    ys, xs = np.indices(arr.shape)
    area = counts[ids].astype(np.float64)
    cy = np.bincount(flat, weights=ys.ravel())[ids] / area
    cx = np.bincount(flat, weights=xs.ravel())[ids] / area
    labels_out = uniq[ids] if uniq is not None else ids
    return pd.DataFrame({
        "frame": np.full(len(ids), frame, dtype=np.int64), "label": labels_out.astype(np.int64),
        "area_px": area.astype(np.int64), "centroid_y_px": cy, "centroid_x_px": cx,
    })
