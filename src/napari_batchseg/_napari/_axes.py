"""Per-file choice rows of the Files tab: the axes of ambiguous files, the dataset of HDF5 files.

Both are a :class:`ChoiceRow`: a combo showing the current file's own choice, stored in a dict of
the :class:`~napari_batchseg.view.file_list.FileSetup` when the file needs one (the row's predicate).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from qtpy.QtCore import Signal
from qtpy.QtWidgets import QComboBox, QLabel, QWidget

from ..view.file_info import is_ambiguous
from ..view.file_list import AXES_CHOICES, FileSetup, remember
from ._info import InfoCache
from ._qtutil import fill, hbox, quiet

CHOOSE = "— (choose)"


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

    def _show(self, value: str | None) -> None:
        """Select ``value`` in the combo (the 'choose' entry when none), without ``changed``."""
        self.combo.setCurrentIndex(max(self.combo.findData(value), 0) if value else 0)


class AxesRow(ChoiceRow):
    """The axes of the current file when ambiguous (``changed`` when the user picks them)."""

    def __init__(self, setup: FileSetup, infos: InfoCache, current: Callable[[], Path | None]) -> None:
        super().__init__(current, setup.axes, lambda p: is_ambiguous(infos.get(p)), "Axes of ambiguous files",
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
            self._show(value)
            self.combo.setEnabled(amb)


class DatasetRow(ChoiceRow):
    """The image dataset of the current HDF5 file when it holds several (``changed`` when picked).

    The choice is per file (``params.dataset`` of that file's run); a file with one dataset needs none.
    The dataset names come from the metadata worker (:meth:`InfoCache.datasets`): no disk read here.
    """

    def __init__(self, setup: FileSetup, infos: InfoCache, current: Callable[[], Path | None]) -> None:
        super().__init__(current, setup.datasets, lambda p: len(infos.datasets(p)) > 1, "Dataset",
                         "An HDF5 file holding several image datasets is read from the one chosen", True)
        self.infos = infos

    def sync(self) -> None:
        """Show the current file's datasets (the row is shown only for a file holding several)."""
        path = self._current()
        several = self.applies(path)
        self.setVisible(several)
        if not several or path is None:
            return
        fill(self.combo, [(None, CHOOSE), *self.infos.datasets(path)], self.overrides.get(path))
        self.label.setText(f"Dataset of {path.name}")
