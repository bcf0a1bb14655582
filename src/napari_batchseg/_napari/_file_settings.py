"""Settings of one file: its own channel and frame range, over the Settings tab's (a mixed folder)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from qtpy.QtCore import Signal
from qtpy.QtWidgets import QCheckBox, QComboBox, QLabel, QWidget

from ..io.sources import SourceInfo
from ..view.file_list import FileChoice, FileSetup
from ._qtutil import hbox, ispin, muted, vbox

__all__ = ["AS_SETTINGS", "FileChoice", "FileSettings"]

#: the channel combo's first entry: the file follows the Settings tab
AS_SETTINGS = "as in Settings"


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
        self.title = QLabel("")
        muted(self.title)
        self.channel = QComboBox()
        self.channel.setToolTip("The channel of this file to segment; other files keep the Settings tab's")
        self.own_frames = QCheckBox("own frames")
        self.own_frames.setToolTip("Segment these frames of this file (0-based, inclusive)")
        self.start, self.end = ispin(0, 10**7), ispin(-1, 10**7, -1, special="last")
        vbox(self.title, hbox(QLabel("channel"), self.channel, 1),
             hbox(self.own_frames, self.start, QLabel("to"), self.end, 1), into=self)
        self.channel.currentIndexChanged.connect(self._edited)
        self.own_frames.toggled.connect(self._edited)
        self.start.valueChanged.connect(self._edited)
        self.end.valueChanged.connect(self._edited)
        self.show_file(None, None)

    def choice(self, path: Path) -> FileChoice:
        """The choices made for ``path`` (empty when none)."""
        return self.setup.choice(path)

    def show_file(self, path: Path | None, info: SourceInfo | str | None) -> None:
        """Show (and edit from now on) the choices of ``path``, whose metadata is ``info``."""
        self._path = None  # no edits while the controls are filled
        readable = isinstance(info, SourceInfo)
        self.setEnabled(path is not None and readable)
        choice = self.choice(path) if path is not None else FileChoice()
        self.title.setText(f"This file ({path.name}):" if path is not None else "This file: none selected")
        for w in (self.channel, self.own_frames, self.start, self.end):
            w.blockSignals(True)
        self.channel.clear()
        self.channel.addItem(AS_SETTINGS, None)
        if isinstance(info, SourceInfo):
            for i, name in enumerate(info.channel_names):
                self.channel.addItem(f"{i}: {name}", i)
            self.start.setMaximum(max(info.sizes["T"] - 1, 0))
            self.end.setMaximum(max(info.sizes["T"] - 1, 0))
        if choice.channel is not None and self.channel.findData(choice.channel) < 0:
            self.channel.addItem(f"{choice.channel}", choice.channel)
        self.channel.setCurrentIndex(max(self.channel.findData(choice.channel), 0))
        self.own_frames.setChecked(choice.frames is not None)
        start, end = choice.frames or (0, -1)
        self.start.setValue(start)
        self.end.setValue(end)
        self.start.setEnabled(choice.frames is not None)
        self.end.setEnabled(choice.frames is not None)
        for w in (self.channel, self.own_frames, self.start, self.end):
            w.blockSignals(False)
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
        frames = (self.start.value(), self.end.value()) if own else None
        self.set_choice(path, replace(self.choice(path), channel=self.channel.currentData(), frames=frames))
