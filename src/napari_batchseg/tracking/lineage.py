"""Links between objects -> tracks: one id per cell over time, daughters pointing at their mother.

A track is a chain of objects each linked to exactly one next object, which has no other earlier
object; it may skip frames (gap closing). An object linked to two or more later objects ends its track
there (a division): each daughter starts a new track whose ``parent_track_id`` is the mother's track.
An object reached from two earlier objects (a merge; laptrack and trackastra never make one here)
starts a new track without a parent. Track ids are 1, 2, ... in order of first appearance.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["assign_tracks"]


def assign_tracks(objects: pd.DataFrame, links: Sequence[tuple[int, int]]) -> pd.DataFrame:
    """``objects`` with ``track_id`` and ``parent_track_id`` (0: none) columns added first.

    Rows are sorted by frame, then label; ``links`` are ``(earlier row, later row)`` positions in
    ``objects`` as given.
    """
    n = len(objects)
    succ: list[list[int]] = [[] for _ in range(n)]
    pred: list[list[int]] = [[] for _ in range(n)]
    for a, b in links:
        succ[int(a)].append(int(b))
        pred[int(b)].append(int(a))
    frames = objects["frame"].to_numpy()
    order = np.lexsort((objects["label"].to_numpy(), frames))
    track = np.zeros(n, dtype=np.int64)
    parent = np.zeros(n, dtype=np.int64)
    next_id = 1
    for row in order:
        before = pred[row]
        if len(before) == 1 and len(succ[before[0]]) == 1:  # continues its one predecessor's track
            track[row] = track[before[0]]
            parent[row] = parent[before[0]]
            continue
        track[row] = next_id
        next_id += 1
        if len(before) == 1:  # a daughter: its mother links to several objects
            parent[row] = track[before[0]]
    out = objects.copy()
    out.insert(0, "parent_track_id", parent)
    out.insert(0, "track_id", track)
    return out.iloc[order].reset_index(drop=True)
