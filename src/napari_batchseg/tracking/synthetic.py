"""Seeded synthetic label movies with a known lineage, for tests and benchmarks of the trackers.

Disks drift with a bounded step per frame; some divide (the mother's track ends, two daughters start
beside it), some enter after frame 0 and some leave before the end. Each frame's label values are
shuffled, so a label says nothing about identity: only the lineage returned does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["SyntheticMovie", "synthetic_movie"]


@dataclass
class SyntheticMovie:
    """A synthetic movie and its truth.

    Attributes
    ----------
    masks
        ``(T, Y, X)`` labels (uint16/uint32), label values shuffled in every frame.
    truth
        ``truth[t]`` maps each label of frame ``t`` to its true track id.
    parents
        true track id -> its mother's track id (daughters only).
    max_step
        Largest centroid displacement per frame (pixels) of any link, daughters included.
    """

    masks: NDArray[Any]
    truth: list[dict[int, int]]
    parents: dict[int, int]
    max_step: float


def synthetic_movie(
    n_frames: int = 12, n_objects: int = 12, shape: tuple[int, int] = (160, 160), radius: int = 4,
    step: float = 3.0, n_divisions: int = 2, n_enter: int = 2, n_leave: int = 2, seed: int = 0,
) -> SyntheticMovie:
    """A movie of ``n_objects`` wandering disks (``step`` px per frame at most) with known lineage.

    Each object (and its daughters) wanders in its own grid cell of side ``10 * radius``: objects of
    different cells stay ``4 * radius`` apart, so with ``max_distance`` below ``4 * radius - step``
    the true links are the only ones within reach. Daughters (disks of about half the area)
    appear ``radius + 1`` px on either side of the mother's last position and drift apart.
    ``n_enter`` objects appear at a later frame, ``n_leave`` vanish before the end.
    """
    rng = np.random.default_rng(seed)
    n_total = n_objects + n_enter
    spacing = 10 * radius
    half = spacing / 2 - 2 * radius  # how far an object may wander from its cell's centre
    cells_y, cells_x = shape[0] // spacing, shape[1] // spacing
    if cells_y * cells_x < n_total:
        raise ValueError(f"{shape} holds {cells_y * cells_x} objects at spacing {spacing}, {n_total} needed")
    slots = rng.permutation(cells_y * cells_x)[:n_total]
    centres = spacing / 2 + spacing * np.stack([slots // cells_x, slots % cells_x], 1)
    # track id -> {frame: position}
    paths: dict[int, dict[int, NDArray[Any]]] = {}
    parents: dict[int, int] = {}

    def walk(
        start: NDArray[Any], centre: NDArray[Any], first: int, last: int, drift: NDArray[Any]
    ) -> dict[int, Any]:
        pos, out = start.astype(float), {}
        for t in range(first, last + 1):
            out[t] = pos.copy()
            move = drift + rng.uniform(-1, 1, 2) * step / 2
            norm = float(np.linalg.norm(move))
            move = move * (step / norm) if norm > step else move
            pos = np.clip(pos + move, centre - half, centre + half)
        return out

    next_id = 1
    for k in range(n_total):
        first = 0 if k < n_objects else int(rng.integers(1, max(2, n_frames // 2)))
        last = n_frames - 1
        if n_objects - n_leave <= k < n_objects:
            last = int(rng.integers(n_frames // 2, n_frames - 1))
        paths[next_id] = walk(centres[k], centres[k], first, last, np.zeros(2))
        if k < min(n_divisions, n_objects - n_leave):
            mother, cut = next_id, int(rng.integers(2, n_frames - 2))
            end = paths[mother][cut - 1]
            paths[mother] = {t: p for t, p in paths[mother].items() if t < cut}
            axis = rng.normal(size=2)
            axis /= np.linalg.norm(axis)
            for sign in (-1.0, 1.0):
                next_id += 1
                parents[next_id] = mother
                start = np.clip(end + sign * (radius + 1) * axis, centres[k] - half, centres[k] + half)
                paths[next_id] = walk(start, centres[k], cut, n_frames - 1, sign * axis * step / 3)
        next_id += 1
    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    disk = yy**2 + xx**2 <= radius**2
    half_disk = yy**2 + xx**2 <= radius**2 / 2  # a daughter: about half her mother's area
    masks = np.zeros((n_frames, *shape), dtype=np.uint16 if next_id < 20000 else np.uint32)
    truth: list[dict[int, int]] = []
    for t in range(n_frames):
        alive = [tid for tid, path in paths.items() if t in path]
        values = rng.permutation(np.arange(1, 3 * len(alive) + 2))[: len(alive)]  # shuffled, with gaps
        frame_truth = {}
        for tid, value in zip(alive, values, strict=True):
            cy, cx = np.rint(paths[tid][t]).astype(int)
            region = masks[t, cy - radius:cy + radius + 1, cx - radius:cx + radius + 1]
            region[(half_disk if tid in parents else disk) & (region == 0)] = value
            frame_truth[int(value)] = tid
        truth.append(frame_truth)
    return SyntheticMovie(masks, truth, parents, max_step=float(step) + radius + 1)
