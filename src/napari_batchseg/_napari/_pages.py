"""The docks' layout: scrolled pages; the *Batch segmentation* dock's tabs above its run bar."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
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
from ._qtutil import Fields, hbox, muted, vbox
from ._status import StatusTable

FILES_TAB = 0
RESULTS_TAB = 2
#: the dock's width napari gives the widget; everything must fit in it
MIN_WIDTH = 440
#: the tabs' least height: docks stacked below (they scroll) cannot squeeze a page to a sliver
MIN_PAGES_HEIGHT = 240
ERROR_STYLE = "color: #e06c4c; font-size: 11px;"
YAML_FILTER = "YAML (*.yaml *.yml)"


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


def compact_combos(root: QWidget) -> None:
    """Drop-downs as narrow as their shortest sensible text (the list shows whole entries): fits 440 px."""
    for box in root.findChildren(QComboBox):
        box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        box.setMinimumContentsLength(min(box.minimumContentsLength() or 8, 8))
        box.setSizePolicy(QSizePolicy.Policy.Expanding, box.sizePolicy().verticalPolicy())


def scrolled_body(dock: QWidget) -> QVBoxLayout:
    """Fill ``dock`` with one vertical scroll area (short of height, it scrolls); return its page's layout."""
    page = QWidget()
    vbox(_scrolled(page), into=dock)
    return QVBoxLayout(page)


class RunBar(QWidget):
    """Run and Cancel beside ``progress``, and the message line below (:meth:`say`)."""

    def __init__(self, progress: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_btn = QPushButton("Run")
        self.run_btn.setToolTip("Segment every listed file that passes the filters")
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setEnabled(False)
        self.cancel_btn.setToolTip("Stop now (within the current frame); finished files stay, the current "
                                   "one is dropped")
        self.message = muted(QLabel(""))
        #: what the next Run will do that a user tuning settings must know (seen from every tab)
        self.next_run = muted(QLabel(""))
        self.next_run.setVisible(False)
        self._error = ""  # the message is an error: "refusal" (why Run did not start) or "run" (a run's)
        vbox(hbox(self.run_btn, self.cancel_btn, progress, stretch_last=True), self.message, self.next_run,
             into=self)

    def say(self, text: str, error: bool = False, run: bool = False) -> None:
        """Show ``text`` in the message line (in red for an error, until the files or settings change)."""
        self._error = ("run" if run else "refusal") if error else ""
        self.message.setStyleSheet(ERROR_STYLE if error else "font-size: 11px;")
        self.message.setText(text)

    def changed(self, by_user: bool = True) -> None:
        """The files or settings changed: an error said no longer holds (a run's: only if ``by_user``).

        Metadata arriving (``by_user`` False) may make a refused file runnable, but changes nothing of
        what a run that failed ran with.
        """
        if self._error == "refusal" or (self._error and by_user):
            self.say("")

    def note(self, text: str) -> None:
        """What the next Run does with outputs made with other parameters or corrected (``""``: none)."""
        self.next_run.setText(f"Next Run: {text}" if text else "")
        self.next_run.setVisible(bool(text))


class ParamsFileRow(QWidget):
    """*Save parameters…* and *Load parameters…*: ``save(path)`` / ``load(path)`` (workers; they say how)."""

    def __init__(self, save: Callable[[str | Path], None], load: Callable[[str | Path], None]) -> None:
        super().__init__()
        self._save, self._load = save, load
        self.save_btn = QPushButton("Save parameters…")
        self.load_btn = QPushButton("Load parameters…")
        hbox(self.save_btn, self.load_btn, 1, into=self)
        self.save_btn.clicked.connect(self._save_dialog)
        self.load_btn.clicked.connect(self._load_dialog)

    def _save_dialog(self) -> None:  # (written in a worker: ``save`` says how it went)
        path, _ = QFileDialog.getSaveFileName(self, "Save parameters", "batchseg.yaml", YAML_FILTER)
        if path:
            self._save(path)

    def _load_dialog(self) -> None:  # (read in a worker: ``load`` says how it went)
        path, _ = QFileDialog.getOpenFileName(self, "Load parameters", "", YAML_FILTER)
        if path:
            self._load(path)


@dataclass
class DockControls:
    """The controls :func:`lay_out` made."""

    tabs: QTabWidget
    bar: RunBar
    parallel_row: QWidget
    parallel: QComboBox
    processes: QSpinBox
    follow: QCheckBox
    open_btn: QPushButton


def lay_out(dock: QWidget, inputs: tuple[QWidget, OutputPanel, QWidget], settings: QWidget,
            status: StatusTable, correct: QWidget, save: Callable[[str | Path], None],
            load: Callable[[str | Path], None]) -> DockControls:
    """Lay ``dock`` out: ``inputs`` (the Files tab's panels) and the others in tabs above the run bar.

    ``save`` / ``load``: what the parameter file buttons call with the path chosen.
    """
    files, output, layers = inputs
    fields = Fields(*parallel_fields(usable_cores()))
    parallel, processes = fields["parallel"], fields["processes"]
    parallel_row = hbox(QLabel("Parallel"), parallel, processes, 1)

    def processes_used() -> None:  # the count only for the modes that use it
        processes.setEnabled(uses_processes(parallel.currentData()))

    parallel.currentIndexChanged.connect(processes_used)
    processes_used()
    bar = RunBar(status.progress)
    params_file = ParamsFileRow(save, load)
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
    compact_combos(dock)
    dock.setMinimumWidth(MIN_WIDTH)
    tabs.setMinimumHeight(MIN_PAGES_HEIGHT)
    return DockControls(tabs, bar, parallel_row, parallel, processes, follow, open_btn)
