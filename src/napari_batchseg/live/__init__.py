"""The live view of a run, without Qt: what is on screen when (see :mod:`.model`).

Fed with the run session's events and a clock, :class:`LiveModel` decides which output is followed,
when layers refresh, when the slider moves and when the status table redraws, and hands out plain
commands (:mod:`.commands`), applied by the napari scheduler.
"""

from __future__ import annotations

from .commands import Command, Drop, FinishShow, MoveSlider, Redraw, Refresh, Show
from .model import LiveModel, Start

__all__ = ["Command", "Drop", "FinishShow", "LiveModel", "MoveSlider", "Redraw", "Refresh",
           "Show", "Start"]
