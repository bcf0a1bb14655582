"""The axes of ambiguous files (a 'QYX' TIFF stack, say): chosen per file, or one default for all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from qtpy.QtCore import Signal
from qtpy.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from ..io.formats import kind_of_suffix
from ..io.hdf5 import image_datasets
from ._info import InfoCache, ReadError

AXES_CHOICES = ("TYX", "ZYX", "CYX", "TZYX", "TCYX", "CZYX", "ZCYX", "TCZYX")


def is_ambiguous(error: object) -> bool:
    """Whether a metadata error is ambiguous axes (an axes choice makes the file readable; by type)."""
    return isinstance(error, ReadError) and error.problem.ambiguous


def remember(overrides: dict[Path, str], path: Path, value: object) -> None:
    """Store a file's own choice (``None`` / empty: it has none)."""
    if value:
        overrides[path] = str(value)
    else:
        overrides.pop(path, None)


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
        if path is not None and self.ambiguous(path):
            remember(self.overrides, path, self.combo.currentData())
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


def image_dataset_names(path: Path) -> list[str]:
    """The image datasets of an HDF5 file (``/raw``, ...); ``[]`` for other formats or an unreadable file."""
    if kind_of_suffix(path) != "hdf5":
        return []
    try:
        import h5py  # type: ignore[import-untyped]

        with h5py.File(path, "r") as h5:
            return list(image_datasets(h5))
    except Exception:  # noqa: BLE001 - unreadable: its own error is shown as the file's mark
        return []


class DatasetRow(QWidget):
    """The image dataset of the current HDF5 file when it holds several (``changed`` when picked).

    The choice is per file (``params.dataset`` of that file's run); a file with one dataset needs none.
    """

    changed = Signal()

    def __init__(self, current: Callable[[], Path | None]) -> None:
        super().__init__()
        self._current = current
        self.combo = QComboBox()
        self.combo.setToolTip("An HDF5 file holding several image datasets is read from the one chosen")
        self.label = QLabel("Dataset")
        self.label.setWordWrap(True)  # a long file name does not widen the dock
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.label)
        lay.addWidget(self.combo, 1)
        self.setVisible(False)
        #: the dataset chosen per file
        self.overrides: dict[Path, str] = {}
        self._names: dict[Path, list[str]] = {}
        self.combo.currentIndexChanged.connect(self._chosen)

    def names(self, path: Path) -> list[str]:
        """The image datasets of ``path`` (read once, then remembered)."""
        path = Path(path)
        if path not in self._names:
            self._names[path] = image_dataset_names(path)
        return self._names[path]

    def needs_choice(self, path: Path) -> bool:
        """Whether ``path`` holds several image datasets (it runs only with one chosen)."""
        return len(self.names(path)) > 1

    def forget(self, paths: list[Path] | None = None) -> None:
        """Drop what is known of ``paths`` (all when ``None``)."""
        if paths is None:
            self.overrides.clear()
            self._names.clear()
        for p in paths or []:
            self.overrides.pop(Path(p), None)
            self._names.pop(Path(p), None)

    def _chosen(self) -> None:
        path = self._current()
        if path is not None and self.needs_choice(path):
            remember(self.overrides, path, self.combo.currentData())
            self.changed.emit()

    def sync(self) -> None:
        """Show the current file's datasets (the row is shown only for a file holding several)."""
        path = self._current()
        several = path is not None and self.needs_choice(path)
        self.setVisible(several)
        if not several or path is None:
            return
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItem("— (choose)", None)
        for name in self.names(path):
            self.combo.addItem(name, name)
        chosen = self.overrides.get(path)
        self.combo.setCurrentIndex(max(self.combo.findData(chosen), 0) if chosen else 0)
        self.label.setText(f"Dataset of {path.name}")
        self.combo.blockSignals(False)
