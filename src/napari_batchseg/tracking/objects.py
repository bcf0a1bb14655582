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


#: a piece of a label smaller than this share of the label's largest piece is a fragment of that object
#: (Cellpose leaves stray pixels of a mask apart from it), not a second object
FRAGMENT_SHARE = 0.1


def reused_labels(labels: NDArray[Any]) -> list[tuple[int, list[tuple[int, int]]]]:
    """Labels used for two or more separate objects (8-connectivity) in one frame, with where.

    One connected-component pass over the frame (regions of equal value). A label is reused when its
    second largest piece holds at least :data:`FRAGMENT_SHARE` of its largest one's pixels; smaller
    pieces are fragments of the object. Returns ``(label, [(y, x) of its two largest pieces])``.
    """
    from skimage.measure import label as components

    pieces = components(labels, background=0, connectivity=2)
    n_pieces = int(pieces.max())
    if n_pieces == 0:
        return []
    flat = pieces.ravel()
    value_of = np.zeros(n_pieces + 1, dtype=np.int64)
    value_of[flat] = labels.ravel()  # every piece has one value
    area = np.bincount(flat, minlength=n_pieces + 1)
    ids = np.arange(1, n_pieces + 1)
    order = ids[np.lexsort((-area[ids], value_of[ids]))]  # by label, its largest piece first
    firsts = np.r_[True, value_of[order][1:] != value_of[order][:-1]]
    largest, second = order[:-1][~firsts[1:] & firsts[:-1]], order[1:][~firsts[1:] & firsts[:-1]]
    reused = [(int(a), int(b)) for a, b in zip(largest, second, strict=True)
              if area[b] >= FRAGMENT_SHARE * area[a]]
    if not reused:
        return []
    ys, xs = np.indices(labels.shape)
    cy = np.bincount(flat, weights=ys.ravel(), minlength=n_pieces + 1) / np.maximum(area, 1)
    cx = np.bincount(flat, weights=xs.ravel(), minlength=n_pieces + 1) / np.maximum(area, 1)
    return [(int(value_of[a]), [(round(cy[p]), round(cx[p])) for p in (a, b)]) for a, b in reused]


def frame_objects(labels: NDArray[Any], frame: int, where: str = "", input_frame: int | None = None
                  ) -> pd.DataFrame:
    """The objects of one ``(Y, X)`` label frame as rows of :data:`~.base.OBJECT_COLUMNS`.

    Labels need not be sequential; background is 0. An empty frame gives an empty table. A label's
    small fragments (see :func:`reused_labels`) count with its object. Errors name the frame as
    ``input_frame`` (the input's frame number; default ``frame``).

    Raises
    ------
    TrackingError
        When the frame is not 2D, or a label is used for two separate objects in it.
    """
    arr = np.asarray(labels)
    named = frame if input_frame is None else input_frame
    if arr.ndim != 2:
        raise TrackingError(f"{where or 'labels'}: frame {named} has shape {arr.shape}; tracking needs 2D "
                            "frames (T, Y, X): 3D (Z) masks are not tracked")
    if arr.dtype.kind not in "ui":
        raise TrackingError(f"{where or 'labels'}: frame {named}: labels must be integers, got {arr.dtype}")
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
        label, spots = reused[0]
        shown = int(uniq[label]) if uniq is not None else label
        more = f" (and {len(reused) - 1} more label(s))" if len(reused) > 1 else ""
        raise TrackingError(
            f"{where or 'labels'}: frame {named}: label {shown} is used for two separate objects, at "
            f"(y, x) {spots[0]} and {spots[1]}{more}; give each object its own label before tracking")
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
