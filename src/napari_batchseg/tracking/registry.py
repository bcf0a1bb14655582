"""The tracking methods by name: ``laptrack`` (default) and ``trackastra``."""

from __future__ import annotations

from collections.abc import Callable

from .astra import TrackastraTracker
from .base import DEFAULT_METHOD, Tracker
from .lap import LaptrackTracker

__all__ = ["DEFAULT_METHOD", "TRACKERS", "get_tracker"]

#: method name -> factory of its :class:`~.base.Tracker`
TRACKERS: dict[str, Callable[[], Tracker]] = {"laptrack": LaptrackTracker, "trackastra": TrackastraTracker}


def get_tracker(method: str) -> Tracker:
    """The tracker called ``method``; ``ValueError`` naming the known ones otherwise."""
    try:
        return TRACKERS[method]()
    except KeyError:
        raise ValueError(f"unknown tracking method {method!r}; choose from {', '.join(TRACKERS)}") from None
