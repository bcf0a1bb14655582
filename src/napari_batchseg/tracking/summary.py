"""Per-object ``track_id`` for measurement tables and one summary row per track.

``batchseg measure`` uses these when a mask has tracks (``<base>_tracks.csv`` beside it, or given):
each object row gains its ``track_id``, and ``<base>_track_summary.csv`` gets one row per track.
:func:`read_tracks` (defined in :mod:`.files`, which reads tracks back for the napari reader and the
Track dock too) is exported here as well.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import InputError
from .files import TRACK_ID_COLUMNS, check_tracks_of, read_tracks, track_paths

__all__ = [
    "TRACK_ID_COLUMNS", "TRACK_SUMMARY_COLUMNS", "add_track_ids", "read_tracks", "track_summary",
    "track_summary_path", "tracks_at", "tracks_for",
]

#: Columns of the per-track summary (growth rate only when the time step and pixel size are known).
TRACK_SUMMARY_COLUMNS: tuple[str, ...] = (
    "track_id", "parent_track_id", "first_frame", "last_frame", "n_frames", "duration_s",
    "division_frame", "n_daughters", "mean_area_px", "mean_area_um2", "growth_rate_um2_per_h",
)


def add_track_ids(objects: pd.DataFrame, tracks: pd.DataFrame) -> pd.DataFrame:
    """``objects`` (one row per object per frame) with ``track_id`` after ``label`` (0: untracked).

    Raises :class:`~napari_batchseg.errors.InputError` when objects lie in a frame the tracks hold
    nothing of: tracking gives every object of a frame a track, so the tracks number the frames from
    another first frame (:func:`tracks_at` numbers a log-less mask's from its start frame), and joining by
    label would be wrong.
    """
    if len(objects) and len(tracks):
        frames = tracks["frame"]
        missing = sorted(set(objects["frame"].tolist()) - set(frames.tolist()))
        if missing:
            raise InputError(
                f"the tracks hold no object of frame {int(missing[0])}, where the mask has objects (the "
                f"tracks cover frames {int(frames.min())}-{int(frames.max())}): they number the frames from "
                "another first frame (tracks of another mask?): track this mask again, or leave the "
                "tracks out (--no-tracks)"
            )
    key = tracks[["frame", "label", "track_id"]].drop_duplicates(["frame", "label"])
    out = objects.merge(key, on=["frame", "label"], how="left")
    out["track_id"] = out["track_id"].fillna(0).astype(np.int64)
    cols = list(objects.columns)
    cols.insert(cols.index("label") + 1, "track_id")
    return out[cols]


def _slope_per_hour(time_s: Any, area: Any) -> float:
    t, a = np.asarray(time_s, float), np.asarray(area, float)
    ok = np.isfinite(t) & np.isfinite(a)
    if ok.sum() < 2 or np.ptp(t[ok]) == 0:
        return float("nan")
    return float(np.polyfit(t[ok], a[ok], 1)[0] * 3600.0)


def track_summary(tracks: pd.DataFrame, pixel_area_um2: float | None = None) -> pd.DataFrame:
    """One row per track: :data:`TRACK_SUMMARY_COLUMNS`.

    ``division_frame`` is the first frame of its daughters (NaN when it does not divide);
    ``duration_s`` and the growth rate (slope of a line fitted to area in µm² over time, per hour)
    need ``time_s`` in ``tracks``; areas in µm² need ``pixel_area_um2``.

    Parameters
    ----------
    tracks
        A tracks table (:attr:`TrackResult.tracks <napari_batchseg.tracking.TrackResult>` or
        :func:`read_tracks`).
    pixel_area_um2
        Area of one pixel in µm² (``None``: unknown, the µm² columns are NaN).

    Returns
    -------
    pandas.DataFrame
        One row per track, sorted by ``track_id``.
    """
    timed = "time_s" in tracks.columns
    dt = None
    if timed and len(tracks):
        frames = tracks["frame"].to_numpy(float)
        times = tracks["time_s"].to_numpy(float)
        nz = frames != 0
        dt = float(np.nanmedian(times[nz] / frames[nz])) if nz.any() else None
    daughters = tracks[tracks["parent_track_id"] > 0].groupby("parent_track_id")
    first_of_daughters = daughters["frame"].min()
    n_daughters = daughters["track_id"].nunique()
    rows = []
    for tid, g in tracks.groupby("track_id", sort=True):
        area_um2 = g["area_px"] * pixel_area_um2 if pixel_area_um2 and "area_px" in g else None
        first, last = int(g["frame"].min()), int(g["frame"].max())
        rows.append({
            "track_id": int(tid), "parent_track_id": int(g["parent_track_id"].iloc[0]),
            "first_frame": first, "last_frame": last, "n_frames": int(g["frame"].nunique()),
            "duration_s": (last - first) * dt if dt is not None else float("nan"),
            "division_frame": int(first_of_daughters[tid]) if tid in first_of_daughters.index else pd.NA,
            "n_daughters": int(n_daughters.get(tid, 0)),
            "mean_area_px": float(g["area_px"].mean()) if "area_px" in g else float("nan"),
            "mean_area_um2": float(area_um2.mean()) if area_um2 is not None else float("nan"),
            "growth_rate_um2_per_h": _slope_per_hour(g["time_s"], area_um2)
            if timed and area_um2 is not None else float("nan"),
        })
    return pd.DataFrame(rows, columns=list(TRACK_SUMMARY_COLUMNS))


def tracks_for(mask: str | Path, given: str | Path | Literal[False] | None = None) -> pd.DataFrame | None:
    """The tracks of ``mask``: ``given`` (a ``_tracks.csv``), else its ``_tracks.csv`` if present, or None.

    ``given`` ``False``: none (measure without the tracks beside the mask).

    Raises :class:`~napari_batchseg.errors.InputError` when the table is not one, or was made from another
    mask (the sha256 its ``-tracked.log`` records is not the mask's).
    """
    if given is False:
        return None
    csv = Path(given) if given is not None else track_paths(mask)[0]
    if given is None and not csv.is_file():
        return None
    table = read_tracks(csv)
    check_tracks_of(mask, csv)  # another mask's tracks (or this one's before a correction): one line
    return table


def tracks_at(tracks: pd.DataFrame | None, tracked_from: int, first_frame: int) -> pd.DataFrame | None:
    """``tracks`` numbered from ``first_frame`` where ``batchseg track`` numbered them from ``tracked_from``.

    ``batchseg track`` numbers a mask's frames from its log's first frame (0 without a log: nothing says
    which input frames it holds); ``measure --start-frame S`` (a log-less mask, or an image given) numbers
    them from S: the tracks follow, so that they join.
    """
    if tracks is None or int(first_frame) == int(tracked_from):
        return tracks
    return tracks.assign(frame=tracks["frame"] + int(first_frame) - int(tracked_from))


def track_summary_path(mask: str | Path, output_dir: str | Path | None = None) -> Path:
    """``<base>_track_summary.csv`` of a mask, beside it or in ``output_dir``."""
    tracks_csv = track_paths(mask, output_dir)[0]
    return tracks_csv.with_name(tracks_csv.name.replace("_tracks.csv", "_track_summary.csv"))
