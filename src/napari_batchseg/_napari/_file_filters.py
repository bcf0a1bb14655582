"""The Files tab's controls for adding files and filtering folder contents (no file list logic here)."""

from __future__ import annotations

from qtpy.QtCore import Signal
from qtpy.QtWidgets import QCheckBox, QFileDialog, QLineEdit, QPushButton, QWidget

from ..discovery import FileFilter
from ..io.formats import supported_extensions
from ..view.file_list import FILTER_FIELDS, file_filter_of
from ._qtutil import Fields, folded_form, hbox, vbox


class ListButtons(QWidget):
    """*Add file…*, *Add folder…* (with *recursive*): ``chosen(paths)`` with what the dialog gave.

    Below them *Remove selected* and *Clear* (the list's to connect).
    """

    chosen = Signal(object)  # list[str]

    def __init__(self) -> None:
        super().__init__()
        self.add_file_btn = QPushButton("Add file…")
        self.add_folder_btn = QPushButton("Add folder…")
        self.recursive = QCheckBox("recursive")
        self.recursive.setToolTip("Add folder: also search its sub-folders")
        self.remove_btn = QPushButton("Remove selected")
        self.clear_btn = QPushButton("Clear")
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
    """The folded *Filters* section: name contains / does not contain, extensions (``box``)."""

    def __init__(self, parent: QWidget) -> None:
        self.fields = Fields(*FILTER_FIELDS)
        self.contains, self.not_contains, self.extensions = self.edits
        self.extensions.setText(" ".join(supported_extensions()))  # the installed formats only
        self.extensions.setCursorPosition(0)  # shown from its start (".nd2 .tif …", not "f .tif .nd2")
        self.extensions.setToolTip(f"{self.extensions.toolTip()}: {self.extensions.text()}")
        self.box = folded_form("Filters", parent, *self.fields.rows())

    @property
    def edits(self) -> tuple[QLineEdit, ...]:
        """The three fields (each edit changes which folder files take part)."""
        return tuple(self.fields[key] for key in self.fields.specs)

    def file_filter(self) -> FileFilter:
        """The filters as typed."""
        return file_filter_of(self.fields.values())

    def show(self, file_filter: FileFilter) -> None:
        """Show ``file_filter`` in the fields (a parameter file's, ``batchseg gui``'s)."""
        self.contains.setText(", ".join(file_filter.contains))
        self.not_contains.setText(", ".join(file_filter.not_contains))
        self.extensions.setText(" ".join(file_filter.extensions))
