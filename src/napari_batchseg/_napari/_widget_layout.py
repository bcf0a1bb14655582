"""The layout of the *Batch segmentation* dock: its tabs above the run bar, and the controls of its own.

:func:`lay_out` places the panels that ``_widget.BatchSegWidget`` made (files, output, form, status
table, corrections, image layers) and makes the run bar, the parallel row, the parameter file buttons
and the Results tab's controls (:class:`DockControls`); the behaviour is the widget's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qtpy.QtWidgets import QCheckBox, QPushButton, QTabWidget, QWidget

from ..runners import usable_cores
from ._output import OutputPanel
from ._pages import ParallelRow, _compact_combos, _line, _section, dock_layout
from ._params_file import ParamsFileRow
from ._qtutil import hbox
from ._run_bar import RunBar
from ._status import StatusTable

FILES_TAB = 0
RESULTS_TAB = 2
#: the dock's width napari gives the widget; everything must fit in it
MIN_WIDTH = 440
#: the tabs' least height: docks stacked below (they scroll) cannot squeeze a page to a sliver
MIN_PAGES_HEIGHT = 240


@dataclass
class DockControls:
    """The controls :func:`lay_out` made."""

    tabs: QTabWidget
    run_bar: QWidget
    bar: RunBar
    parallel_row: ParallelRow
    params_file: ParamsFileRow
    follow: QCheckBox
    open_btn: QPushButton


def lay_out(dock: QWidget, inputs: tuple[QWidget, OutputPanel, QWidget], settings: QWidget,
            status: StatusTable, correct: QWidget, save: Callable[[str | Path], None],
            load: Callable[[str | Path], None]) -> DockControls:
    """Lay ``dock`` out: its panels in tabs above the run bar, and the controls made here.

    ``inputs``: the file list, output and image layers panels (Files tab); ``settings``: the form;
    ``status``: the status table; ``correct``: the correction panel. ``save`` / ``load``: what *Save
    parameters…* / *Load parameters…* call with the path chosen.
    """
    files, output, layers = inputs
    parallel_row = ParallelRow(usable_cores())
    bar = RunBar(status.progress)
    params_file = ParamsFileRow(save, load, bar.say)
    output.heads_up.connect(bar.note)  # e.g. a parameter changed on the Settings tab: Run will skip
    follow = QCheckBox("show each file as it is processed")
    follow.setChecked(True)
    follow.setToolTip(
        "Follow the run: the file being processed is shown (its layers are reused for the next file). "
        "Otherwise double-click a row of the table to show a file."
    )
    open_btn = QPushButton("Show selected result")
    # pages (tabs, each scrolls vertically) above a run bar that always stays in view
    tabs, run_bar = dock_layout(dock, {
        "Files": (_section("Input files"), files, _line(), _section("Output"), output, _line(),
                  _section("Image layers open in napari"), layers),
        "Settings": (settings, parallel_row, params_file),
        "Results": (follow, status, hbox(open_btn, 1)),
        "Correct": (correct,),
    }, (bar,))
    _compact_combos(dock)
    dock.setMinimumWidth(MIN_WIDTH)
    tabs.setMinimumHeight(MIN_PAGES_HEIGHT)
    return DockControls(tabs, run_bar, bar, parallel_row, params_file, follow, open_btn)
