"""Links between objects -> tracks: one id per cell over time, daughters pointing at their mother.

A track is a chain of objects each linked to exactly one next object, which has no other earlier
object; it may skip frames (gap closing). An object linked to two or more later objects ends its track
there (a division): each daughter starts a new track whose ``parent_track_id`` is the mother's track.
An object reached from two earlier objects (a merge; laptrack and trackastra never make one here)
starts a new track without a parent. Track ids are 1, 2, ... in order of first appearance.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

__all__ = ["assign_tracks"]


def assign_tracks(objects: pd.DataFrame, links: Sequence[tuple[int, int]] | NDArray[Any]) -> pd.DataFrame:
    """``objects`` with ``track_id`` and ``parent_track_id`` (0: none) columns added first.

    Rows are sorted by frame, then label; ``links`` are ``(earlier row, later row)`` positions in
    ``objects`` as given (pairs, or an ``(n, 2)`` integer array). Memory: a few integers per object
    (numpy arrays, not Python lists).
    """
    n = len(objects)
    pairs = np.asarray(links, dtype=np.int64).reshape(-1, 2)
    n_succ = np.bincount(pairs[:, 0], minlength=n)
    n_pred = np.bincount(pairs[:, 1], minlength=n)
    pred = np.full(n, -1, dtype=np.int64)
    pred[pairs[:, 1]] = pairs[:, 0]  # meaningful where n_pred == 1
    frames = objects["frame"].to_numpy()
    order = np.lexsort((objects["label"].to_numpy(), frames))
    # an object continues its predecessor's track when it has one predecessor with one successor
    continues = (n_pred == 1) & (n_succ[np.maximum(pred, 0)] == 1)
    starts = ~continues
    track = np.zeros(n, dtype=np.int64)
    track[order[starts[order]]] = np.arange(1, int(starts.sum()) + 1)  # ids in order of first appearance
    parent = np.zeros(n, dtype=np.int64)
    daughter = starts & (n_pred == 1)  # its mother links to several objects
    for row in order.tolist():  # in time order: a predecessor's track is known before its successors'
        if continues[row]:
            track[row] = track[pred[row]]
            parent[row] = parent[pred[row]]
        elif daughter[row]:
            parent[row] = track[pred[row]]
    out = objects.copy()
    out.insert(0, "parent_track_id", parent)
    out.insert(0, "track_id", track)
    return out.iloc[order].reset_index(drop=True)
