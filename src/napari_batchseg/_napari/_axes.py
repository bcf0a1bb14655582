"""The axes of ambiguous files (a 'QYX' TIFF stack, say): chosen per file, or one default for all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from qtpy.QtCore import Signal
from qtpy.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from ._info import InfoCache, ReadError

AXES_CHOICES = ("TYX", "ZYX", "CYX", "TZYX", "TCYX", "CZYX", "ZCYX", "TCZYX")


def is_ambiguous(error: object) -> bool:
    """Whether a metadata error is ambiguous axes (an axes choice makes the file readable; by type)."""
    return isinstance(error, ReadError) and error.problem.ambiguous


class AxesRow(QWidget):
    """The axes of the current file when ambiguous (``changed`` when the user picks them)."""

    changed = Signal()

    def __init__(self, infos: InfoCache, current: Callable[[], Path | None]) -> None:
        super().__init__()
        self.infos, self._current = infos, current
        self.combo = QComboBox()
        self.combo.addItem("— (choose)", None)
        for axes in AXES_CHOICES:
            self.combo.addItem(axes, axes)
        self.combo.setToolTip("A file whose dimensions the reader cannot tell (e.g. a 'QYX' TIFF stack) "
                              "is read with the axes chosen for it; files whose axes are known are never "
                              "changed")
        self.label = QLabel("Axes of ambiguous files")
        self.label.setWordWrap(True)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.label)
        lay.addWidget(self.combo)
        lay.addStretch(1)
        self.setVisible(False)
        #: axes chosen per ambiguous file; ``default`` (e.g. from a YAML) for those without a choice
        self.overrides: dict[Path, str] = {}
        self.default: str | None = None
        self.combo.currentIndexChanged.connect(self._chosen)

    def for_file(self, path: Path) -> str | None:
        """The axes an ambiguous file will be read with (its own choice, else the default)."""
        return self.overrides.get(Path(path)) or self.default

    def groups(self, files: list[Path]) -> dict[str | None, list[Path]]:
        """``files`` grouped by the axes parameter to run them with (``default`` for most)."""
        groups: dict[str | None, list[Path]] = {self.default: []}
        for f in files:
            groups.setdefault(self.for_file(f), []).append(f)
        return {k: v for k, v in groups.items() if v}

    def ambiguous(self, path: Path | None) -> bool:
        """Whether ``path``'s metadata could not be read for want of its axes."""
        return path is not None and is_ambiguous(self.infos.get(path))

    def _chosen(self) -> None:
        path = self._current()
        if path is None or not self.ambiguous(path):
            return
        value = self.combo.currentData()
        if value:
            self.overrides[path] = str(value)
        else:
            self.overrides.pop(path, None)
        self.changed.emit()

    def sync(self) -> None:
        """Show the current file's axes (enabled only when it is ambiguous)."""
        path = self._current()
        amb = self.ambiguous(path)
        self.combo.blockSignals(True)
        if amb and path is not None:
            self.label.setText(f"Axes of {path.name}")
            value = self.for_file(path)
            if value and self.combo.findData(value) < 0:
                self.combo.addItem(value, value)
            self.combo.setCurrentIndex(max(self.combo.findData(value), 0) if value else 0)
        elif self.default:
            self.label.setText(f"Ambiguous files: {self.default} (from the parameters)")
            self.combo.setCurrentIndex(0)
        else:
            self.label.setText("Axes: select a file marked 'axes ambiguous'")
            self.combo.setCurrentIndex(0)
        self.combo.setEnabled(amb)
        self.combo.blockSignals(False)
