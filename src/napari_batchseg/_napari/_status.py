"""Run progress: a progress bar and a per-output status table, views of a :class:`~..runners.RunSession`."""

from __future__ import annotations

from typing import Any

from qtpy.QtCore import QSize, Qt, Signal
from qtpy.QtGui import QBrush, QColor, QPainter, QPalette, QResizeEvent
from qtpy.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QProgressBar,
    QStyledItemDelegate,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from ..corrections import CorrectionSummary
from ..runners.session import RunSession, TaskState
from ..view import phrasing
from ..view.status_table import COLUMNS, follows, present, row_cells
from ._qtutil import muted, vbox


class Progress(QWidget):
    """A progress bar that repaints with the next paint of the window, not at once.

    ``QProgressBar.setValue`` repaints synchronously when its text changes; beside napari's canvas that
    composes the whole window (tens of ms with software OpenGL) once per frame of a run.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._max, self._value, self._format = 1, 0, "not run yet"
        probe = QProgressBar()
        self._hint = probe.sizeHint()
        self.setMinimumHeight(self._hint.height())
        self.setSizePolicy(probe.sizePolicy())

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        """Like a QProgressBar (a new one per layout pass was built before)."""
        return QSize(self._hint)

    def set_progress(self, maximum: int, value: int, fmt: str) -> None:
        """Show ``value`` of ``maximum`` as ``fmt`` (``%v`` value, ``%m`` maximum, ``%p`` percent)."""
        if (maximum, value, fmt) != (self._max, self._value, self._format):
            self._max, self._value, self._format = maximum, value, fmt
            self.update()

    def value(self) -> int:
        """Current value."""
        return self._value

    def maximum(self) -> int:
        """Maximum."""
        return self._max

    def text(self) -> str:
        """The text shown."""
        return phrasing.progress_text(self._format, 0, self._max, self._value)

    def paintEvent(self, _event: object) -> None:  # noqa: N802 - Qt override
        """Draw a flat bar (the palette's colours) with the text centred."""
        painter = QPainter(self)
        rect = self.rect().adjusted(0, 0, -1, -1)
        pal = self.palette()
        painter.setPen(pal.color(QPalette.ColorRole.Mid))
        painter.setBrush(pal.color(QPalette.ColorRole.Base))
        painter.drawRect(rect)
        frac = min(max(self._value / max(self._max, 1), 0.0), 1.0)
        if frac > 0:
            done = rect.adjusted(1, 1, 0, 0)
            done.setWidth(int((rect.width() - 1) * frac))
            painter.fillRect(done, pal.color(QPalette.ColorRole.Highlight))
        painter.setPen(pal.color(QPalette.ColorRole.Text))
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignCenter), self.text())
        painter.end()


KEY_ROLE = Qt.ItemDataRole.UserRole


class StatusTable(QWidget):
    """One row per output (file, or position) and its status; double-click: ``open_requested(key)``."""

    open_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.progress = Progress()
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        present(self.table.verticalHeader()).setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = present(self.table.horizontalHeader())
        modes = QHeaderView.ResizeMode  # the details: what the numbers and the name (resizeEvent) leave
        for c, mode in enumerate((modes.Interactive, *[modes.ResizeToContents] * 3, modes.Stretch)):
            header.setSectionResizeMode(c, mode)
        # a 440 px dock: no sideways scrolling; long texts elided, whole in tooltips and below (`detail`)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # (a name keeps its position's [P<k>])
        self.table.setItemDelegateForColumn(4, _ElideRight(self.table))  # a reason keeps its start
        self.table.setWordWrap(False)
        self.table.setMinimumHeight(110)
        self.table.setToolTip("Double-click a row to show that file's result")
        self.detail = muted(QLabel(""))
        vbox(self.progress, self.summary, self.table, self.detail, into=self)
        self._rows: dict[str, int] = {}
        self._session: RunSession | None = None
        self._followed: int | None = None  # the running row the table last scrolled to
        self.table.cellDoubleClicked.connect(lambda r, _c: self.request_open(r))
        self.table.currentCellChanged.connect(lambda r, *_: self._show_detail(r))

    def reset(self, session: RunSession) -> None:
        """Show ``session``: one row per task, in plan order; the progress bar counts its frames."""
        self._session, self._followed, self._rows = session, None, {}
        self.table.setRowCount(0)
        self.table.setRowCount(len(session))
        for r, state in enumerate(session.tasks):
            task = state.task
            self._rows[task.key] = r
            name = QTableWidgetItem(task.label)
            name.setData(KEY_ROLE, task.key)
            name.setToolTip(f"{task.label}\n{task.input}")
            self.table.setItem(r, 0, name)
            for c in range(1, len(COLUMNS)):
                self.table.setItem(r, c, QTableWidgetItem(""))
            self._draw_row(state)
        self._update_summary()  # (once: per row, a batch of n files counted n × n states)
        self.update_progress()
        self.resizeEvent(None)

    def resizeEvent(self, event: QResizeEvent | None) -> None:  # noqa: N802 - Qt override
        """The name column: its names' width, at most a quarter (trial 46: the details were cut short)."""
        super().resizeEvent(event)
        self.table.setColumnWidth(0, min(self.table.sizeHintForColumn(0), self.width() // 4))

    def keys(self) -> list[str]:
        """Task keys in row (plan) order."""
        return self._session.keys() if self._session is not None else []

    def status(self, key: str) -> str:
        """Current status of a task ("" when it is not part of the run)."""
        state = self._session.state(key) if self._session is not None else None
        return state.status if state is not None else ""

    def show_state(self, state: TaskState) -> None:
        """Redraw the row of one task from its state (status, frames, objects, details), and the summary."""
        self._draw_row(state)
        self._update_summary()

    def _draw_row(self, state: TaskState) -> None:
        r = self._rows.get(state.key)
        if r is None:
            return
        cells = row_cells(state, self._session)
        item = present(self.table.item(r, 1))
        item.setText(cells.status)
        item.setForeground(QBrush(QColor(cells.color)) if cells.color else QBrush())
        for column, text in ((2, cells.frames), (3, cells.objects)):
            if text is not None:
                present(self.table.item(r, column)).setText(text)
        d = present(self.table.item(r, 4))
        d.setText(cells.details)
        d.setToolTip(cells.tooltip)
        if r == self.table.currentRow():
            self._show_detail(r)
        elif follows(state.status, r, self._followed, self.table.currentRow()):
            # followed down the table (a walk: 40 files, row 1 shown), unless the user scrolled the last
            # followed one out of view (a review: pulled back on each update)
            if self._followed is None or self._shows(self._followed):
                self.table.scrollToItem(item)
            self._followed = r

    def _shows(self, row: int) -> bool:  # the row is in view
        item = self.table.item(row, 0)
        return item is not None and present(self.table.viewport()).rect().intersects(
            self.table.visualItemRect(item))

    def corrections_saved(self, summary: CorrectionSummary) -> None:
        """Hand corrections were saved: the row of the output they went into counts its objects again."""
        state = self._session.corrected(summary.path, summary.objects_last_frame) if (
            self._session is not None and summary.path is not None) else None
        if state is not None:
            self.show_state(state)

    def _show_detail(self, row: int) -> None:  # the row's details in full, below the table
        name, status, details = (self.table.item(row, c) if row >= 0 else None for c in (0, 1, 4))
        self.detail.setText("" if name is None or details is None else phrasing.detail_text(
            name.text(), status.text() if status is not None else "", details.toolTip()))

    def update_progress(self) -> None:
        """Show the run's progress (:func:`~napari_batchseg.view.phrasing.frames_progress`)."""
        if self._session is None:
            return
        self.progress.set_progress(*phrasing.frames_progress(self._session))

    def request_open(self, row: int | None = None) -> None:
        """Ask to show the output of ``row`` (the selected row when ``None``)."""
        if row is None:
            rows = present(self.table.selectionModel()).selectedRows()
            if not rows:
                return
            row = rows[0].row()
        item = self.table.item(row, 0)
        if item is not None:
            self.open_requested.emit(item.data(KEY_ROLE))

    def _update_summary(self) -> None:
        if (session := self._session) is not None:
            self.summary.setText(phrasing.summary_text(session.counts(), len(session)))


class _ElideRight(QStyledItemDelegate):
    def initStyleOption(self, option: Any, index: Any) -> None:  # noqa: N802 - Qt override
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideRight
