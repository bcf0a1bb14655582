"""Run progress: a progress bar (files and frames) and a per-output status table.

Both are views of a :class:`~napari_batchseg.runners.RunSession`: the table keeps no run state of its
own, it redraws a row from the session's :class:`~napari_batchseg.runners.TaskState`.
"""

from __future__ import annotations

from qtpy.QtCore import Qt, Signal
from qtpy.QtGui import QBrush, QColor
from qtpy.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QProgressBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..runners.session import RunSession, TaskState

COLUMNS = ("File", "Status", "Frames", "Objects", "Details")
STATUS_COLORS = {
    "pending": None,
    "running": "#4c9be0",
    "done": "#4caf50",
    "skipped": "#b0a040",
    "failed": "#e06c4c",
    "cancelled": "#a0a0a0",
}
KEY_ROLE = Qt.UserRole


class StatusTable(QWidget):
    """One row per output (file, or file position): pending / running / done / skipped / failed.

    Double-clicking a row (or :meth:`request_open`) emits ``open_requested`` with the task key, so the
    widget can show that output.
    """

    open_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("not run yet")
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.Interactive)
        for c in (1, 2, 3):
            header.setSectionResizeMode(c, QHeaderView.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.setColumnWidth(0, 160)
        self.table.setMinimumHeight(110)
        self.table.setToolTip("Double-click a row to show that file's result")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.progress)
        lay.addWidget(self.summary)
        lay.addWidget(self.table)
        self._rows: dict[str, int] = {}
        self._session: RunSession | None = None
        self.table.cellDoubleClicked.connect(lambda r, _c: self.request_open(r))

    # ------------------------------------------------------------------ rows
    @property
    def session(self) -> RunSession | None:
        """The run shown (``None`` before the first run is planned)."""
        return self._session

    def reset(self, session: RunSession) -> None:
        """Show ``session``: one row per task, in plan order; the progress bar counts its frames."""
        self._session = session
        self.table.setRowCount(0)
        self._rows.clear()
        self.table.setRowCount(len(session))
        for r, state in enumerate(session.tasks):
            task = state.task
            self._rows[task.key] = r
            name = QTableWidgetItem(task.label)
            name.setData(KEY_ROLE, task.key)
            name.setToolTip(str(task.input))
            self.table.setItem(r, 0, name)
            for c in range(1, len(COLUMNS)):
                self.table.setItem(r, c, QTableWidgetItem(""))
            self.show_state(state)
        self.progress.setFormat("%v / %m frames")
        self.update_progress()

    def keys(self) -> list[str]:
        """Task keys in row (plan) order."""
        return self._session.keys() if self._session is not None else []

    def status(self, key: str) -> str:
        """Current status of a task ("" when it is not part of the run)."""
        state = self._session.state(key) if self._session is not None else None
        return state.status if state is not None else ""

    def show_state(self, state: TaskState) -> None:
        """Redraw the row of one task from its state (status, frames, objects, details)."""
        r = self._rows.get(state.key)
        if r is None:
            return
        item = self.table.item(r, 1)
        item.setText(state.status)
        color = STATUS_COLORS.get(state.status)
        item.setForeground(QBrush(QColor(color)) if color else QBrush())
        if state.status in ("running", "done") or state.frames_done:
            self.table.item(r, 2).setText(f"{state.frames_done}/{state.n_frames}")
        if state.n_objects is not None:
            self.table.item(r, 3).setText(str(state.n_objects))
        details, tooltip = _details(state)
        d = self.table.item(r, 4)
        d.setText(details)
        d.setToolTip(tooltip or details)
        self._update_summary()

    def update_progress(self) -> None:
        """Frames settled (done, or never to be done: skipped, failed) out of the frames planned."""
        if self._session is None:
            return
        total = self._session.frames_planned
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(min(self._session.frames_settled, max(total, 1)))

    def request_open(self, row: int | None = None) -> None:
        """Ask to show the output of ``row`` (the selected row when ``None``)."""
        if row is None:
            rows = self.table.selectionModel().selectedRows()
            if not rows:
                return
            row = rows[0].row()
        item = self.table.item(row, 0)
        if item is not None:
            self.open_requested.emit(item.data(KEY_ROLE))

    def _update_summary(self) -> None:
        if self._session is None or not len(self._session):
            self.summary.setText("")
            return
        counts = self._session.counts()
        finished = sum(counts[s] for s in ("done", "skipped", "failed", "cancelled"))
        parts = [f"{finished}/{len(self._session)} file(s) finished"]
        parts += [f"{counts[s]} {s}" for s in ("running", "done", "skipped", "failed", "cancelled")
                  if counts[s]]
        self.summary.setText("; ".join(parts))


def _details(state: TaskState) -> tuple[str, str]:
    """Text and tooltip of the details column."""
    if state.status == "done" and state.mask_path is not None:
        return state.mask_path.name, f"{state.mask_path}\n{state.n_frames} frame(s) in {state.seconds:.1f} s"
    if state.status == "failed":
        return state.reason, state.details or state.reason
    return state.reason, state.reason
