"""The default linker: ``laptrack`` (linear assignment on centroids, gap closing, divisions; no weights)."""

from __future__ import annotations

from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd

from .base import FrameReader, TrackingError, TrackParams

__all__ = ["LaptrackTracker"]


class LaptrackTracker:
    """Frame-to-frame linear assignment of centroids by ``laptrack`` (squared Euclidean cost).

    ``max_distance`` bounds a link, a gap closing and a division (mother to daughter centroid);
    ``gap_frames`` missing frames may be bridged.
    """

    name = "laptrack"
    needs_images = False

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
    ) -> list[tuple[int, int]]:
        """Links by laptrack (``frames`` and ``images`` are not needed)."""
        self.check(params)
        from laptrack import LapTrack
        if objects.empty:
            return []
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
        coords = [yx[starts[t]:starts[t + 1]] for t in range(n_frames)]
        tree = lt.predict(coords)
        links = []
        for a, b in tree.edges():
            if a[0] > b[0]:
                a, b = b, a
            links.append((int(starts[a[0]] + a[1]), int(starts[b[0]] + b[1])))
        return links
