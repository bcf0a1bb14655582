"""The layout of the docks: scrolled pages, and the *Batch segmentation* dock's tabs above its run bar.

:func:`lay_out` places the panels ``_widget.BatchSegWidget`` made and makes the controls of its own
(:class:`DockControls`); the behaviour is the widget's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..runners import usable_cores
from ..view.form_state import parallel_fields, uses_processes
from ._output import OutputPanel
from ._params_file import ParamsFileRow
from ._qtutil import Fields, hbox, vbox
from ._run_bar import RunBar
from ._status import StatusTable

FILES_TAB = 0
RESULTS_TAB = 2
#: the dock's width napari gives the widget; everything must fit in it
MIN_WIDTH = 440
#: the tabs' least height: docks stacked below (they scroll) cannot squeeze a page to a sliver
MIN_PAGES_HEIGHT = 240


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

    Short of height (a dock stacked beside it), the dock then scrolls instead of squeezing its neighbours.
    """
    page = QWidget()
    vbox(_scrolled(page), into=dock)
    return QVBoxLayout(page)


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


@dataclass
class DockControls:
    """The controls :func:`lay_out` made."""

    tabs: QTabWidget
    bar: RunBar
    parallel_row: ParallelRow
    params_file: ParamsFileRow
    follow: QCheckBox
    open_btn: QPushButton


def lay_out(dock: QWidget, inputs: tuple[QWidget, OutputPanel, QWidget], settings: QWidget,
            status: StatusTable, correct: QWidget, save: Callable[[str | Path], None],
            load: Callable[[str | Path], None]) -> DockControls:
    """Lay ``dock`` out: its panels in tabs above the run bar, and the controls made here.

    ``inputs``: the Files tab's file list, output and image layers panels; ``save`` / ``load``: what
    *Save parameters…* / *Load parameters…* call with the path chosen.
    """
    files, output, layers = inputs
    parallel_row = ParallelRow(usable_cores())
    bar = RunBar(status.progress)
    params_file = ParamsFileRow(save, load, bar.say)
    output.heads_up.connect(bar.note)  # e.g. a parameter changed on the Settings tab: Run will skip
    follow = QCheckBox("show each file as it is processed")
    follow.setChecked(True)
    follow.setToolTip("Follow the run: the file being processed is shown (its layers are reused for the "
                      "next file). Otherwise double-click a row of the table to show a file.")
    open_btn = QPushButton("Show selected result")
    # pages (tabs, each scrolls vertically) above a run bar that always stays in view
    tabs = QTabWidget()
    tabs.setDocumentMode(True)
    for title, widgets in {
        "Files": (_section("Input files"), files, _line(), _section("Output"), output, _line(),
                  _section("Image layers open in napari"), layers),
        "Settings": (settings, parallel_row, params_file),
        "Results": (follow, status, hbox(open_btn, 1)),
        "Correct": (correct,),
    }.items():
        tabs.addTab(_scrolled(_page(*widgets)), title)
    bar.setContentsMargins(6, 4, 6, 4)
    outer = QVBoxLayout(dock)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.addWidget(tabs, 1)
    outer.addWidget(_line())
    outer.addWidget(bar)
    _compact_combos(dock)
    dock.setMinimumWidth(MIN_WIDTH)
    tabs.setMinimumHeight(MIN_PAGES_HEIGHT)
    return DockControls(tabs, bar, parallel_row, params_file, follow, open_btn)
