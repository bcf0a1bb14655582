"""Output settings: folder, suffix (validated as typed), existing-output policy, and a preview of names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qtpy.QtCore import QRegularExpression, Signal
from qtpy.QtGui import QRegularExpressionValidator
from qtpy.QtWidgets import QComboBox, QLabel, QLineEdit, QWidget

from ..existing import OutputStatus
from ..io.naming import find_collisions
from ..io.sources import SourceInfo
from ..params import SegmentationParams
from ..view import outputs
from ._jobs import Background
from ._qtutil import Fields, PathField, form, hbox, muted, radio_pair


class OutputPanel(QWidget):
    """Where outputs go and how they are named; flags collisions and existing outputs."""

    changed = Signal()
    #: for the run bar: what the next Run does with outputs made with other parameters or corrected ("")
    heads_up = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.beside, self.custom = radio_pair(self, "input folder", "folder:")
        self.folder = PathField(True, "Output folder", placeholder="paste, browse or drop a folder")
        self.folder.setEnabled(False)
        self.fields = Fields(*outputs.OUTPUT_FIELDS)
        self.suffix: QLineEdit = self.fields["suffix"]
        self.suffix.setValidator(QRegularExpressionValidator(QRegularExpression(r"[A-Za-z0-9-]*"), self))
        self.suffix_note = muted(QLabel(""))
        self.existing: QComboBox = self.fields["existing"]
        self.preview = muted(QLabel(""))
        self.problems_label = QLabel("")
        self.problems_label.setWordWrap(True)
        self.problems_label.setStyleSheet("color: #e06c4c;")
        suffix_row, existing_row = self.fields.rows()
        form(("Output", hbox(self.beside, self.custom, 1)), ("", self.folder), suffix_row,
             ("", self.suffix_note), existing_row, self.preview, self.problems_label, into=self)

        self.custom.toggled.connect(self.folder.setEnabled)
        self.custom.toggled.connect(self.changed)
        self.folder.changed.connect(self.changed)
        self.suffix.textChanged.connect(self._suffix_typed)
        self.suffix.inputRejected.connect(lambda: self.suffix_note.setText(f"‘{outputs.SUFFIX_HINT}’"))
        self.existing.currentIndexChanged.connect(self.changed)
        self._problems: list[str] = []
        self._collisions: list[str] = []
        self._unwritable: list[str] = []
        self._lines: list[str] = []
        self._generation, self.checking = 0, False  # checking: an existence check is under way
        self.background = Background(self)

    def output_dir(self) -> str | None:
        """The custom folder, or ``None`` for 'beside each input'."""
        return self.folder.text() or None if self.custom.isChecked() else None

    def values(self) -> dict[str, Any]:
        """``output_dir``, ``suffix`` and ``existing`` as :class:`SegmentationParams` fields."""
        return {"output_dir": self.output_dir(), **self.fields.values()}

    def set_params(self, params: SegmentationParams) -> None:
        """Show the output fields of ``params``."""
        self.custom.setChecked(bool(params.output_dir))
        self.beside.setChecked(not params.output_dir)
        self.folder.setText(params.output_dir or "")
        self.fields.show(params)

    def _suffix_typed(self, text: str) -> None:
        self.suffix_note.setText(outputs.suffix_note(text))
        self.changed.emit()

    def update_preview(self, files: list[Path], infos: dict[Path, SourceInfo | str | None],
                       params: dict[Path, SegmentationParams] | None = None,
                       positions: dict[Path, list[int]] | None = None) -> None:
        """Show the output names and flag collisions; a worker checks existing outputs against ``params``.

        ``positions``: the positions chosen of each file (:meth:`FileSetup.chosen_positions`); default all.
        """
        self._generation += 1
        self.checking = False  # (a check under way answers an older preview: it is ignored)
        if self.custom.isChecked() and not self.folder.text():
            self.preview.setText("")
            self._problems = [outputs.NO_FOLDER]
            self.problems_label.setText(outputs.NO_FOLDER)
            self.heads_up.emit("")
            return
        outs = outputs.planned_outputs(files, infos, self.suffix.text(), self.output_dir(), positions)
        self._lines = outputs.preview_lines(outs, infos)  # (files not read yet, or unreadable: no names)
        self.preview.setText("\n".join(self._lines))
        self._collisions = find_collisions((f, names) for f, _, names in outs)
        planned = outputs.planned_tasks(outputs.named(outs, infos), infos, params)
        # the folders' last answer holds until the worker's next (a review: Run was enabled meanwhile)
        self._show_problems(self._unwritable if planned else [])
        if planned:
            generation = self._generation
            self.checking = True
            self.background.submit(
                outputs.output_check, planned, on_item=lambda found: self._show_existing(generation, *found),
                on_done=lambda: self._checked(generation), name="batchseg-exists",
            )
        else:  # nothing to check: no note of an earlier check stays
            self.heads_up.emit("")

    def _show_problems(self, unwritable: list[str]) -> None:
        self._unwritable = unwritable
        self._problems = [*self._collisions, *unwritable]
        said = outputs.collisions_text(self._collisions)
        self.problems_label.setText("\n".join(filter(None, (said, *unwritable))))

    def _checked(self, generation: int) -> None:  # (the end of an older check: a newer one runs)
        self.checking = self.checking and generation != self._generation

    def _show_existing(self, generation: int, statuses: list[OutputStatus], unwritable: list[str]) -> None:
        if generation != self._generation:  # the inputs or names changed since: a newer check runs
            return
        self._show_problems(unwritable)  # a walk: a read-only output folder was said only after Run
        policy = self.existing.currentData()
        said = outputs.existing_lines(statuses, policy)
        self.heads_up.emit(outputs.next_run_note(statuses, policy))
        self.preview.setText("\n".join([*self._lines, *said]))

    def close_down(self) -> None:
        """Deliver nothing more (the widget is closing)."""
        self.background.close()

    def problems(self) -> list[str]:
        """Problems that block a run (colliding outputs, missing folder), from the last preview."""
        return list(self._problems)
