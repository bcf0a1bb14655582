"""Layout pieces of the dock widget: sections, separators, scrolled tabs over the run bar, parallel row."""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QComboBox,
    QFrame,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..view.form_state import parallel_fields, uses_processes
from ._qtutil import Fields, hbox, vbox


def _section(title: str) -> QLabel:
    label = QLabel(f"<b>{title}</b>")
    label.setContentsMargins(0, 6, 0, 0)
    return label


def _line() -> QFrame:
    f = QFrame()
    f.setFrameShape(QFrame.Shape.HLine)
    f.setFrameShadow(QFrame.Shadow.Sunken)
    return f


def _page(*widgets: QWidget) -> QWidget:
    page = QWidget()
    lay = QVBoxLayout(page)
    for w in widgets:
        lay.addWidget(w)
    lay.addStretch(1)
    return page


def _scrolled(page: QWidget) -> QScrollArea:
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setWidget(page)
    return scroll


def _compact_combos(root: QWidget) -> None:
    """Drop-downs as narrow as their shortest sensible text (the list shows whole entries): fits 440 px."""
    for box in root.findChildren(QComboBox):
        box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        box.setMinimumContentsLength(min(box.minimumContentsLength() or 8, 8))
        box.setSizePolicy(QSizePolicy.Policy.Expanding, box.sizePolicy().verticalPolicy())


def scrolled_body(dock: QWidget) -> QVBoxLayout:
    """Give ``dock`` one vertical scroll area filling it, and return the layout of the area's page.

    A dock's content then scrolls when napari's window (or a dock stacked beside it) leaves it less
    height than it needs, instead of squeezing its neighbours; it never scrolls sideways.
    """
    page = QWidget()
    vbox(_scrolled(page), into=dock)
    return QVBoxLayout(page)


def dock_layout(dock: QWidget, pages: dict[str, tuple[QWidget, ...]],
                bar_rows: tuple[QWidget, ...]) -> tuple[QTabWidget, QWidget]:
    """Lay ``dock`` out as tabs (each page scrolls vertically) above a run bar that stays in view."""
    tabs = QTabWidget()
    tabs.setDocumentMode(True)
    for title, widgets in pages.items():
        tabs.addTab(_scrolled(_page(*widgets)), title)
    run_bar = QWidget()
    bar = QVBoxLayout(run_bar)
    bar.setContentsMargins(6, 4, 6, 4)
    for row in bar_rows:
        bar.addWidget(row)
    outer = QVBoxLayout(dock)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.addWidget(tabs, 1)
    outer.addWidget(_line())
    outer.addWidget(run_bar)
    return tabs, run_bar


class ParallelRow(QWidget):
    """How a run uses processes: the mode, and how many (the count only for the modes that use it)."""

    def __init__(self, max_processes: int) -> None:
        super().__init__()
        fields = Fields(*parallel_fields(max_processes))
        self.parallel: QComboBox = fields["parallel"]
        self.processes: QSpinBox = fields["processes"]
        hbox(QLabel("Parallel"), self.parallel, self.processes, 1, into=self)
        self.parallel.currentIndexChanged.connect(self._update)
        self._update()

    def _update(self) -> None:
        self.processes.setEnabled(uses_processes(self.parallel.currentData()))
