"""Run progress: a progress bar (files and frames) and a per-output status table."""

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
        self._status: dict[str, str] = {}
        self._frames_total = 0
        self._frames_done = 0
        self.table.cellDoubleClicked.connect(lambda r, _c: self.request_open(r))

    # ------------------------------------------------------------------ rows
    def reset(self, tasks, n_frames: int) -> None:
        """One pending row per task; the progress bar counts ``n_frames``."""
        self.table.setRowCount(0)
        self._rows.clear()
        self._status.clear()
        self.table.setRowCount(len(tasks))
        for r, task in enumerate(tasks):
            self._rows[task.key] = r
            name = QTableWidgetItem(task.label)
            name.setData(KEY_ROLE, task.key)
            name.setToolTip(str(task.input))
            self.table.setItem(r, 0, name)
            for c in range(1, len(COLUMNS)):
                self.table.setItem(r, c, QTableWidgetItem(""))
            self.set_status(task.key, "pending")
        self._frames_total = max(n_frames, 0)
        self._frames_done = 0
        self.progress.setRange(0, max(self._frames_total, 1))
        self.progress.setFormat("%v / %m frames")
        self.progress.setValue(0)
        self._update_summary()

    def keys(self) -> list[str]:
        """Task keys in row order."""
        return sorted(self._rows, key=self._rows.get)

    def status(self, key: str) -> str:
        """Current status of a task."""
        return self._status.get(key, "")

    def set_status(self, key: str, status: str, details: str = "", tooltip: str = "") -> None:
        """Show a task's status (and optional details, e.g. a failure reason)."""
        r = self._rows.get(key)
        if r is None:
            return
        self._status[key] = status
        item = self.table.item(r, 1)
        item.setText(status)
        color = STATUS_COLORS.get(status)
        item.setForeground(QBrush(QColor(color)) if color else QBrush())
        if details or status != "running":
            d = self.table.item(r, 4)
            d.setText(details)
            d.setToolTip(tooltip or details)
        self._update_summary()

    def set_frames(self, key: str, done: int, total: int, n_objects: int | None = None) -> None:
        """Frames finished for a task (and the objects found in the latest one)."""
        r = self._rows.get(key)
        if r is None:
            return
        self.table.item(r, 2).setText(f"{done}/{total}")
        if n_objects is not None:
            self.table.item(r, 3).setText(str(n_objects))

    def frame_finished(self, n: int = 1) -> None:
        """Advance the progress bar by ``n`` frames."""
        self._frames_done += n
        self.progress.setValue(min(self._frames_done, self.progress.maximum()))

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
        counts: dict[str, int] = {}
        for s in self._status.values():
            counts[s] = counts.get(s, 0) + 1
        n = len(self._status)
        finished = sum(counts.get(s, 0) for s in ("done", "skipped", "failed", "cancelled"))
        parts = [f"{finished}/{n} file(s) finished"] if n else []
        parts += [f"{counts[s]} {s}" for s in ("running", "done", "skipped", "failed", "cancelled")
                  if counts.get(s)]
        self.summary.setText("; ".join(parts))
