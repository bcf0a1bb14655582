"""The default linker: ``laptrack`` (linear assignment on centroids, gap closing, divisions; no weights)."""

from __future__ import annotations

import gc
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .base import FrameReader, TrackingError, TrackParams

__all__ = ["LaptrackTracker"]


class LaptrackTracker:
    """Frame-to-frame linear assignment of centroids by ``laptrack`` (squared Euclidean cost).

    ``max_distance`` bounds a link, a gap closing and a division (mother to daughter centroid);
    ``gap_frames`` missing frames may be bridged.
    """

    name = "laptrack"
    needs_images = False
    #: frames linked per laptrack call (with context frames around them); memory follows this, not the
    #: movie's length
    window = 100

    def check(self, params: TrackParams) -> None:
        """Raise :class:`TrackingError` when laptrack is not installed."""
        try:
            import laptrack  # noqa: F401
        except ImportError as exc:  # the optional extra
            raise TrackingError("tracking needs laptrack: pip install 'napari-batchseg[tracking]'") from exc

    def versions(self) -> dict[str, str]:
        """``{"laptrack": version}``."""
        return {"laptrack": metadata.version("laptrack")}

    def link(
        self, objects: pd.DataFrame, params: TrackParams, frames: FrameReader, n_frames: int,
        images: FrameReader | None = None,
    ) -> NDArray[np.int64]:
        """Links by laptrack as an ``(n, 2)`` array of rows (``frames`` and ``images`` are not needed)."""
        self.check(params)
        from laptrack import LapTrack
        if objects.empty:
            return np.zeros((0, 2), np.int64)
        cutoff = float(params.max_distance) ** 2
        # every alternative (start, end, no split) costs the cutoff: any link, gap closing or division
        # within max_distance is taken when the assignment allows it (laptrack's default costs come
        # from a percentile of the movie's own displacements and drop links within max_distance)
        settings: dict[str, Any] = dict(
            metric="sqeuclidean", cutoff=cutoff,
            gap_closing_metric="sqeuclidean",
            gap_closing_cutoff=cutoff if params.gap_frames else False,
            gap_closing_max_frame_count=int(params.gap_frames) + 1,
            splitting_metric="sqeuclidean",
            splitting_cutoff=cutoff if params.divisions else False,
            merging_cutoff=False,
            track_start_cost=cutoff, track_end_cost=cutoff, segment_start_cost=cutoff,
            segment_end_cost=cutoff, no_splitting_cost=cutoff, no_merging_cost=cutoff,
        )
        lt = LapTrack(**settings)
        frame_of = objects["frame"].to_numpy()
        if len(frame_of) > 1 and (frame_of[1:] < frame_of[:-1]).any():
            raise ValueError("objects must be sorted by frame")
        yx = objects[["centroid_y_px", "centroid_x_px"]].to_numpy(dtype=np.float64)
        starts = np.searchsorted(frame_of, np.arange(n_frames + 1))  # row of each frame's first object
        # laptrack's graph costs ~1.4 KB per object: a long movie is linked in windows of frames, each
        # with `margin` frames of context on both sides; a window keeps the links whose later object is
        # in its own frames. A link spans at most gap_frames + 1 frames and every cost is fixed (no
        # statistic of the movie), so a kept link's candidates are all in its window: the links are
        # those of one pass (tests/test_tracking.py checks it on crowded movies; not a proof).
        window = max(int(self.window), 1)
        margin = int(params.gap_frames) + 2
        parts = []
        for own in range(0, n_frames, window):
            lo, hi = max(own - margin, 0), min(own + window + margin, n_frames)
            coords = [yx[starts[t]:starts[t + 1]] for t in range(lo, hi)]
            kept = []
            for a, b in lt.predict(coords).edges():
                if a[0] > b[0]:
                    a, b = b, a
                later = lo + b[0]
                if own <= later < own + window:
                    kept.append((int(starts[lo + a[0]] + a[1]), int(starts[later] + b[1])))
            parts.append(np.array(kept, dtype=np.int64).reshape(-1, 2))  # 16 bytes per link
            if n_frames > window:
                gc.collect()  # networkx graphs hold reference cycles: free this window's before the next
        links: NDArray[np.int64] = np.concatenate(parts) if parts else np.zeros((0, 2), np.int64)
        return real_divisions(links, objects["area_px"].to_numpy(dtype=np.float64), yx,
                              float(params.daughter_share))


#: the mother's area a division compares with is her largest over her last frame and this many before
#: it: a mitotic cell rounds up and shrinks in the frames before she splits
LOOK_BACK = 2


def real_divisions(links: NDArray[np.int64], area: NDArray[np.float64], yx: NDArray[np.float64],
                   share: float = 0.8) -> NDArray[np.int64]:
    """``links`` (rows of objects) without the divisions where a daughter is about as large as her mother.

    A division is kept when both daughters are under ``share`` (:attr:`TrackParams.daughter_share`) of
    the mother's largest area over her last ``1 + LOOK_BACK`` frames (a cell splits in two: each
    daughter is about half of her).

    Every cost here is the squared distance bounded by ``max_distance``, so laptrack takes an object
    that starts a track near another for a daughter of it: an object the segmentation missed for a
    frame, or a neighbour within reach, made divisions whose "daughter" was the mother herself (same
    area, 1-2 px away) beside that neighbour (a user walk: 10 divisions in a 7-frame movie of 23-30
    cells). The mother keeps her link to the nearer of the two; the other starts a track of its own.
    """
    if not len(links):
        return links
    sources, counts = np.unique(links[:, 0], return_counts=True)
    parent = {int(t): int(s) for s, t in links}  # no merging: an object has at most one link into it
    divided = {int(m) for m in sources[counts > 1]}
    drop = np.zeros(len(links), dtype=bool)
    for mother in sources[counts > 1]:
        rows = np.flatnonzero(links[:, 0] == mother)
        daughters = links[rows, 1]
        before, largest = int(mother), area[mother]
        for _ in range(LOOK_BACK):
            # not past her own birth: a daughter's mother is twice her size (a review: a neighbour next
            # to a cell born a frame before was taken for her daughter again)
            if (before := parent.get(before, -1)) < 0 or before in divided:
                break
            largest = max(largest, area[before])
        if area[daughters].max() < share * largest:
            continue  # both about half of her: a division
        distance = np.hypot(*(yx[daughters] - yx[mother]).T)
        drop[rows[np.argsort(distance)[1:]]] = True
    kept: NDArray[np.int64] = links[~drop]
    return kept
