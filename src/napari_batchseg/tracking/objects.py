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


def _pieces(labels: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any], NDArray[Any]]:
    """The connected pieces (8-connectivity) of every label, largest first within a label.

    Returns ``(value, area, cy, cx)`` per piece, sorted by label value, then by area (descending).
    """
    from skimage.measure import label as components

    pieces = components(labels, background=0, connectivity=2)
    n_pieces = int(pieces.max())
    flat = pieces.ravel()
    value_of = np.zeros(n_pieces + 1, dtype=np.int64)
    value_of[flat] = labels.ravel()  # every piece has one value
    area = np.bincount(flat, minlength=n_pieces + 1)
    ys, xs = np.indices(labels.shape)
    cy = np.bincount(flat, weights=ys.ravel(), minlength=n_pieces + 1) / np.maximum(area, 1)
    cx = np.bincount(flat, weights=xs.ravel(), minlength=n_pieces + 1) / np.maximum(area, 1)
    ids = np.arange(1, n_pieces + 1)
    order = ids[np.lexsort((-area[ids], value_of[ids]))]
    return value_of[order], area[order], cy[order], cx[order]


def _firsts(values: NDArray[Any]) -> NDArray[np.bool_]:
    """Where each label's rows begin in :func:`_pieces`' order (its largest piece)."""
    return np.r_[True, values[1:] != values[:-1]] if len(values) else np.zeros(0, bool)


def _reused(value: NDArray[Any], area: NDArray[Any]) -> list[int]:
    """Rows (of :func:`_pieces`) of the second piece of each label that is used for two objects."""
    first = _firsts(value)
    second = np.flatnonzero(~first)
    second = second[first[second - 1]] if len(second) else second  # a label's second piece
    return [int(k) for k in second if area[k] >= FRAGMENT_SHARE * area[k - 1]]


def reused_labels(labels: NDArray[Any]) -> list[tuple[int, list[tuple[int, int]]]]:
    """Labels used for two or more separate objects (8-connectivity) in one frame, with where.

    A label is reused when its second largest piece holds at least :data:`FRAGMENT_SHARE` of its
    largest one's pixels; smaller pieces are fragments of the object. Returns ``(label, [(y, x) of its
    two largest pieces])``.
    """
    value, area, cy, cx = _pieces(labels)
    return [(int(value[k]), [(round(cy[k - 1]), round(cx[k - 1])), (round(cy[k]), round(cx[k]))])
            for k in _reused(value, area)]


def frame_objects(labels: NDArray[Any], frame: int, where: str = "", input_frame: int | None = None
                  ) -> pd.DataFrame:
    """The objects of one ``(Y, X)`` label frame as rows of :data:`~.base.OBJECT_COLUMNS`.

    Labels need not be sequential; background is 0. An empty frame gives an empty table. A label's
    small fragments (see :func:`reused_labels`) count with its object. Errors name the frame as
    ``input_frame`` (the input's frame number; default ``frame``).

    Raises
    ------
    TrackingError
        When the frame is not 2D, not integers, negative, or a label is used for two separate objects in it.
    """
    arr = np.asarray(labels)
    named = frame if input_frame is None else input_frame
    if arr.ndim != 2:
        raise TrackingError(f"{where or 'labels'}: frame {named} has shape {arr.shape}; tracking needs 2D "
                            "frames (T, Y, X): 3D (Z) masks are not tracked")
    if arr.dtype.kind not in "ui":
        raise TrackingError(f"{where or 'labels'}: frame {named}: labels must be integers, got {arr.dtype}")
    if arr.dtype.kind == "i" and arr.size and arr.min() < 0:  # (numpy's bincount said: 'list' argument ...)
        raise TrackingError(f"{where or 'labels'}: frame {named}: labels must be >= 0 (0 is background), "
                            f"got values down to {arr.min()}")
    values = arr
    if arr.size and int(arr.max()) > _COMPACT_ABOVE:  # sparse huge ids: work on their ranks
        uniq, inverse = np.unique(arr, return_inverse=True)
        values = inverse.reshape(arr.shape)
        if uniq[0] != 0:
            uniq, values = np.concatenate([[0], uniq]), values + 1
    else:
        uniq = None
    value, piece_area, piece_cy, piece_cx = _pieces(values)
    reused = _reused(value, piece_area)
    if reused:
        k = reused[0]
        shown = int(uniq[value[k]]) if uniq is not None else int(value[k])
        spots = [(round(piece_cy[p]), round(piece_cx[p])) for p in (k - 1, k)]
        more = f" (and {len(reused) - 1} more label(s))" if len(reused) > 1 else ""
        raise TrackingError(
            f"{where or 'labels'}: frame {named}: label {shown} is used for two or more separate objects, "
            f"at (y, x) {spots[0]} and {spots[1]}{more}; give each object its own label before tracking")
    if not len(value):
        return pd.DataFrame({c: pd.Series(dtype=float if "centroid" in c else np.int64)
                             for c in OBJECT_COLUMNS})
    first = _firsts(value)
    ids = value[first]
    # an object's place is its largest piece's centroid (a stray fragment far away does not move it);
    # its area counts every piece
    area = np.bincount(values.ravel(), minlength=int(ids.max()) + 1)[ids].astype(np.float64)
    cy, cx = piece_cy[first], piece_cx[first]
    labels_out = uniq[ids] if uniq is not None else ids
    return pd.DataFrame({
        "frame": np.full(len(ids), frame, dtype=np.int64), "label": labels_out.astype(np.int64),
        "area_px": area.astype(np.int64), "centroid_y_px": cy, "centroid_x_px": cx,
    })
