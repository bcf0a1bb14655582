"""The Files tab's controls around the list: add buttons, filters, per-file choices (edit its FileSetup)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from qtpy.QtCore import Signal
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from ..discovery import FileFilter
from ..io.formats import supported_extensions
from ..io.sources import SourceInfo
from ..view.file_list import (
    AXES_CHOICES,
    FILE_FIELDS,
    FILTER_FIELDS,
    FileChoice,
    FileSetup,
    choice_values,
    edited_choice,
    file_channel_entries,
    file_filter_of,
    positions_text,
    remember,
)
from ._qtutil import Fields, fill, folded_form, hbox, muted, quiet, vbox

CHOOSE = "— (choose)"


class ListButtons(QWidget):
    """*Add file…*, *Add folder…* (``chosen(paths)``), *recursive*; *Remove selected* and *Clear* below."""

    chosen = Signal(object)  # list[str]

    def __init__(self) -> None:
        super().__init__()
        self.add_file_btn, self.add_folder_btn = QPushButton("Add file…"), QPushButton("Add folder…")
        self.recursive = QCheckBox("recursive")
        self.recursive.setToolTip("Add folder: also search its sub-folders")
        self.remove_btn, self.clear_btn = QPushButton("Remove selected"), QPushButton("Clear")
        vbox(hbox(self.add_file_btn, self.add_folder_btn, self.recursive, 1),
             hbox(self.remove_btn, self.clear_btn, 1), into=self)
        self.add_file_btn.clicked.connect(self._browse_files)
        self.add_folder_btn.clicked.connect(self._browse_folder)

    def _browse_files(self) -> None:
        exts = " ".join(f"*{e}" for e in supported_extensions())
        files, _ = QFileDialog.getOpenFileNames(self, "Add files", "", f"Images ({exts});;All files (*)")
        self.chosen.emit(list(files))

    def _browse_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add folder")
        if folder:
            self.chosen.emit([folder])


class FilterFields:
    """The folded *Filters* section (``box``): name contains / does not contain, extensions."""

    def __init__(self, parent: QWidget) -> None:
        self.fields = Fields(*FILTER_FIELDS)
        self.contains, self.not_contains, self.extensions = self.edits
        self.extensions.setText(" ".join(supported_extensions()))  # the installed formats only
        self.extensions.setCursorPosition(0)  # shown from its start (".nd2 .tif …", not "f .tif .nd2")
        self.extensions.setToolTip(f"{self.extensions.toolTip()}: {self.extensions.text()}")
        self.box = folded_form("Filters", parent, *self.fields.rows())

    @property
    def edits(self) -> tuple[QLineEdit, ...]:
        """The three fields."""
        return tuple(self.fields[key] for key in self.fields.specs)

    def file_filter(self) -> FileFilter:
        """The filters as typed."""
        return file_filter_of(self.fields.values())

    def show(self, file_filter: FileFilter) -> None:
        """Show ``file_filter`` in the fields (a parameter file's, ``batchseg gui``'s)."""
        self.contains.setText(", ".join(file_filter.contains))
        self.not_contains.setText(", ".join(file_filter.not_contains))
        self.extensions.setText(" ".join(file_filter.extensions))


class ChoiceRow(QWidget):
    """A label and a combo editing ``overrides[current file]`` when ``applies(file)``; ``changed`` then."""

    changed = Signal()

    def __init__(self, current: Callable[[], Path | None], overrides: dict[Path, str],
                 applies: Callable[[Path], bool], label: str, tip: str, wide_combo: bool) -> None:
        super().__init__()
        self._current, self.overrides, self._applies = current, overrides, applies
        self.combo = QComboBox()
        self.combo.setToolTip(tip)
        self.label = QLabel(label)
        self.label.setWordWrap(True)  # a long file name does not widen the dock
        hbox(self.label, self.combo, *(() if wide_combo else (1,)), stretch_last=wide_combo, into=self)
        self.setVisible(False)
        self.combo.currentIndexChanged.connect(self._chosen)

    def applies(self, path: Path | None) -> bool:
        """Whether ``path`` needs this row's choice."""
        return path is not None and self._applies(path)

    def _chosen(self) -> None:
        path = self._current()
        if path is not None and self.applies(path):
            remember(self.overrides, path, self.combo.currentData())
            self.changed.emit()


class AxesRow(ChoiceRow):
    """The axes of the current file when ``ambiguous`` (``changed`` when the user picks them)."""

    def __init__(self, setup: FileSetup, ambiguous: Callable[[Path], bool],
                 current: Callable[[], Path | None]) -> None:
        super().__init__(current, setup.axes, ambiguous, "Axes of ambiguous files",
                         "A file whose dimensions the reader cannot tell (e.g. a 'QYX' TIFF stack) is read "
                         "with the axes chosen for it; files whose axes are known are never changed", False)
        self.setup = setup
        fill(self.combo, [(None, CHOOSE), *AXES_CHOICES])

    def sync(self) -> None:
        """Show the current file's axes (enabled only when it is ambiguous)."""
        path = self._current()
        amb = self.applies(path)
        text, value = self.setup.axes_row(path, amb)
        with quiet(self.combo):
            self.label.setText(text)
            if value and self.combo.findData(value) < 0:
                self.combo.addItem(value, value)
            self.combo.setCurrentIndex(max(self.combo.findData(value), 0) if value else 0)  # else "choose"
            self.combo.setEnabled(amb)


class DatasetRow(ChoiceRow):
    """The image dataset of the current HDF5 file when it holds several (names known: no disk read)."""

    def __init__(self, setup: FileSetup, datasets: Callable[[Path], tuple[str, ...]],
                 current: Callable[[], Path | None]) -> None:
        super().__init__(current, setup.datasets, lambda p: len(datasets(p)) > 1, "Dataset",
                         "An HDF5 file holding several image datasets is read from the one chosen", True)
        self._datasets = datasets

    def sync(self) -> None:
        """Show the current file's datasets (the row is shown only for a file holding several)."""
        path = self._current()
        several = self.applies(path)
        self.setVisible(several)
        if not several or path is None:
            return
        fill(self.combo, [(None, CHOOSE), *self._datasets(path)], self.overrides.get(path))
        self.label.setText(f"Dataset of {path.name}")


class FileSettings(QWidget):
    """The :class:`FileSetup` choices of the file on show; ``changed(path)`` when edited.

    Its channel, frames and positions (shown for a file of several: one of one position runs whole).
    """

    changed = Signal(object)  # Path

    def __init__(self, setup: FileSetup, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setup = setup
        self.choices = setup.choices
        self._path: Path | None = None
        self.title = muted(QLabel(""))
        self.fields = f = Fields(*FILE_FIELDS)
        self.channel: QComboBox = f["channel"]
        self.own_frames: QCheckBox = f["own_frames"]
        self.start: QSpinBox = f["start"]
        self.end: QSpinBox = f["end"]
        self.positions: QLineEdit = f["positions"]
        self.positions_row = hbox(QLabel("positions"), self.positions, stretch_last=True)
        vbox(self.title, hbox(QLabel("channel"), self.channel, 1),
             hbox(self.own_frames, self.start, QLabel("to"), self.end, 1), self.positions_row, into=self)
        f.connect(self._edited)
        self.show_file(None, None)

    def choice(self, path: Path) -> FileChoice:
        """The choices made for ``path`` (empty when none)."""
        return self.setup.choice(path)

    def show_file(self, path: Path | None, info: SourceInfo | str | None) -> None:
        """Show (and edit from now on) the choices of ``path``, whose metadata is ``info``."""
        self._path = None  # no edits while the controls are filled
        names = info.channel_names if isinstance(info, SourceInfo) else []
        self.setEnabled(path is not None and isinstance(info, SourceInfo))
        choice = self.choice(path) if path is not None else FileChoice()
        self.title.setText(f"This file ({path.name}):" if path is not None else "This file: none selected")
        fill(self.channel, file_channel_entries(names, choice.channel))
        if isinstance(info, SourceInfo):
            self.start.setMaximum(max(info.sizes["T"] - 1, 0))
            self.end.setMaximum(max(info.sizes["T"] - 1, 0))
        self.fields.show(choice_values(choice))
        self.positions.setPlaceholderText(positions_text(self.setup.positions))  # what an empty field runs
        self.positions_row.setVisible(self.setup.shows_positions(info))
        self.start.setEnabled(choice.frames is not None)
        self.end.setEnabled(choice.frames is not None)
        self._path = path

    def set_choice(self, path: Path, choice: FileChoice) -> None:
        """Set the choices of ``path`` (e.g. from a script); shown when it is the file on show."""
        self.setup.set_choice(path, choice)
        self.changed.emit(Path(path))

    def _edited(self, *_: object) -> None:
        path = self._path
        if path is None:
            return
        for spin in (self.start, self.end):
            spin.setEnabled(self.own_frames.isChecked())
        self.set_choice(path, edited_choice(self.choice(path), self.fields.values()))
