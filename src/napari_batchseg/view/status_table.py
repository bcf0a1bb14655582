"""The run's status table without Qt: its columns, the cells of a task's row, when the table follows the run.

``_napari._status.StatusTable`` shows these; the texts of the cells are :mod:`.phrasing`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..runners import TaskState
from .phrasing import frames_cell, state_details

__all__ = ["COLUMNS", "STATUS_COLORS", "RowCells", "follows", "row_cells"]

COLUMNS = ("File", "Status", "Frames", "Objects", "Details")
#: the colour of each status's text (``None``: the palette's)
STATUS_COLORS: dict[str, str | None] = {
    "pending": None,
    "running": "#4c9be0",
    "done": "#4caf50",
    "skipped": "#b0a040",
    "failed": "#e06c4c",
    "cancelled": "#a0a0a0",
}


@dataclass(frozen=True)
class RowCells:
    """What a task's row shows: its status (and colour), frames, objects, details and their tooltip.

    ``frames`` and ``objects`` ``None``: the cell keeps what it shows.
    """

    status: str
    color: str | None
    frames: str | None
    objects: str | None
    details: str
    tooltip: str


def row_cells(state: TaskState) -> RowCells:
    """The cells of the row of a task in ``state``."""
    details, tooltip = state_details(state)
    return RowCells(state.status, STATUS_COLORS.get(state.status), frames_cell(state),
                    None if state.n_objects is None else str(state.n_objects), details, tooltip or details)


def follows(status: str, row: int, followed: int | None, current_row: int) -> bool:
    """Whether the table moves on to ``row``, whose task is in ``status``.

    The run is followed down the table: a task that starts running becomes the followed row, unless the
    user selected a row (``current_row`` ≥ 0). ``followed``: the row followed last.
    """
    return status == "running" and row != followed and current_row < 0
