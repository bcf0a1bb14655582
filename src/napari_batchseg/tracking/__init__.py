"""Tracking of segmented time-lapses: which objects are the same cell over time, and its divisions.

:func:`track_masks` (arrays) and :func:`track_file` (a ``_vSM.ome.tif``, writing the tracks CSV, the
relabelled mask and a log beside it) link objects with a :class:`Tracker`: ``laptrack`` (default;
linear assignment with gap closing and divisions, no weights) or ``trackastra`` (needs its weights).
No Qt here.
"""

from __future__ import annotations

from .base import OBJECT_COLUMNS, NotATimeLapse, Tracker, TrackingError, TrackingModelError, TrackParams
from .registry import DEFAULT_METHOD, TRACKERS, get_tracker
from .run import TRACK_COLUMNS, TrackResult, track_masks, track_stack

__all__ = [
    "DEFAULT_METHOD", "OBJECT_COLUMNS", "TRACKERS", "TRACK_COLUMNS", "NotATimeLapse", "TrackParams",
    "TrackResult", "Tracker", "TrackingError", "TrackingModelError", "get_tracker", "track_masks",
    "track_stack",
]
