"""The run's status table without Qt: its columns, the cells of a task's row, when the table follows the run.

``_napari._status.StatusTable`` shows these; the texts of the cells are :mod:`.phrasing`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from ..runners import RunSession, TaskState
from .phrasing import for_widget, frames_cell, state_details

__all__ = ["COLUMNS", "NOT_LOADED", "NOT_RUN", "STATUS_COLORS", "RowCells", "follows", "present", "row_cells"]

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


#: the Details of the outputs a run never reached because its model could not load (the error: once, above)
NOT_LOADED = "not run: the model could not load"
#: ... because another run-level failure stopped it
NOT_RUN = "not run: the run stopped (see the message above)"


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


def row_cells(state: TaskState, run: RunSession | None = None) -> RowCells:
    """The cells of the row of a task in ``state`` (of ``run``).

    An output the run never reached because the run failed as a whole (:attr:`RunSession.error`, shown
    once by the dock) reads :data:`NOT_LOADED` (the model could not load) or :data:`NOT_RUN`; the error
    is its tooltip. (A GUI trial: 29 rows repeated the long download message.)
    """
    details, tooltip = state_details(state)
    if state.status == "failed" and run is not None and run.error and state.reason.endswith(run.error):
        details = NOT_LOADED if run.model_state == "not loaded" else NOT_RUN
        tooltip = for_widget(run.error)
    return RowCells(state.status, STATUS_COLORS.get(state.status), frames_cell(state),
                    None if state.n_objects is None else str(state.n_objects), details, tooltip or details)


def follows(status: str, row: int, followed: int | None, current_row: int) -> bool:
    """Whether the table moves on to ``row``, whose task is in ``status``.

    The run is followed down the table: a task that starts running becomes the followed row, unless the
    user selected a row (``current_row`` ≥ 0). ``followed``: the row followed last.
    """
    return status == "running" and row != followed and current_row < 0


_T = TypeVar("_T")


def present(obj: _T | None) -> _T:
    """A Qt getter's result that always exists here (the table's rows, headers, selection model)."""
    if obj is None:
        raise LookupError("a Qt object of the status table is missing")
    return obj
