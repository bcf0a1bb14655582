"""Tracking of segmented time-lapses: which objects are the same cell over time, and its divisions.

:func:`track_masks` (arrays) and :func:`track_file` (a ``_vSM.ome.tif``, writing the tracks CSV, the
relabelled mask and a log beside it) link objects with a :class:`Tracker`: ``laptrack`` (default;
linear assignment with gap closing and divisions, no weights) or ``trackastra`` (needs its weights).
No Qt here.

The linkers, the runs and pandas are imported on first use (``batchseg``'s parser reads the methods and
:class:`TrackParams`' defaults only: importing them all cost every command a share of a second).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .base import (
    DEFAULT_METHOD,
    METHODS,
    OBJECT_COLUMNS,
    NotATimeLapse,
    Tracker,
    TrackingError,
    TrackingModelError,
    TrackParams,
)

if TYPE_CHECKING:
    from .registry import TRACKERS, get_tracker
    from .run import TRACK_COLUMNS, TrackResult, track_masks, track_stack

__all__ = [
    "DEFAULT_METHOD", "METHODS", "OBJECT_COLUMNS", "TRACKERS", "TRACK_COLUMNS", "NotATimeLapse",
    "TrackParams", "TrackResult", "Tracker", "TrackingError", "TrackingModelError", "get_tracker",
    "track_masks", "track_stack",
]

#: names imported on first use -> their module
_LAZY = {"TRACKERS": "registry", "get_tracker": "registry", "TRACK_COLUMNS": "run", "TrackResult": "run",
         "track_masks": "run", "track_stack": "run"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)
