"""Settings of one file: its own channel and frame range, over the Settings tab's (a mixed folder)."""

from __future__ import annotations

from pathlib import Path

from qtpy.QtCore import Signal
from qtpy.QtWidgets import QCheckBox, QComboBox, QLabel, QSpinBox, QWidget

from ..io.sources import SourceInfo
from ..view.file_list import (
    AS_SETTINGS,
    FILE_FIELDS,
    FileChoice,
    FileSetup,
    choice_values,
    edited_choice,
    file_channel_entries,
)
from ._qtutil import Fields, fill, hbox, muted, vbox

__all__ = ["AS_SETTINGS", "FileChoice", "FileSettings"]


class FileSettings(QWidget):
    """Channel and frame range of the selected file; ``changed(path)`` when the user changes them.

    The choices live in the :class:`FileSetup`'s ``choices`` (path -> :class:`FileChoice`); the panel
    shows the entry of the file given to :meth:`show_file` and edits it.
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
        vbox(self.title, hbox(QLabel("channel"), self.channel, 1),
             hbox(self.own_frames, self.start, QLabel("to"), self.end, 1), into=self)
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
        own = self.own_frames.isChecked()
        self.start.setEnabled(own)
        self.end.setEnabled(own)
        self.set_choice(path, edited_choice(self.choice(path), self.fields.values()))
