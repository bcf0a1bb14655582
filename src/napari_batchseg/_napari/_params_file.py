"""Save and load the Settings as a YAML file (the buttons under the Settings tab and their dialogs)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from qtpy.QtWidgets import QFileDialog, QPushButton, QWidget

from ..params import ParameterError, SegmentationParams
from ..view.file_list import read_parameter_file
from ._qtutil import hbox

YAML_FILTER = "YAML (*.yaml *.yml)"


class ParamsFileRow(QWidget):
    """*Save parameters…* and *Load parameters…*: ``save(path)`` / ``load(path)``, told by ``say``."""

    def __init__(self, save: Callable[[str | Path], None], load: Callable[[str | Path], None],
                 say: Callable[..., None]) -> None:
        super().__init__()
        self._save, self._load, self._say = save, load, say
        self.save_btn = QPushButton("Save parameters…")
        self.load_btn = QPushButton("Load parameters…")
        hbox(self.save_btn, self.load_btn, 1, into=self)
        self.save_btn.clicked.connect(self._save_dialog)
        self.load_btn.clicked.connect(self._load_dialog)

    def _save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save parameters", "batchseg.yaml", YAML_FILTER)
        if path:
            try:
                self._save(path)
                self._say(f"parameters saved to {path}")
            except (ParameterError, OSError) as exc:
                self._say(f"not saved: {exc}", error=True)

    def _load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load parameters", "", YAML_FILTER)
        if path:
            try:
                self._load(path)
                self._say(f"parameters loaded from {path}")
            except ParameterError as exc:
                self._say(str(exc), error=True)


def load_parameter_file(path: str | Path, set_params: Callable[[SegmentationParams], None],
                        files: Any) -> None:
    """A parameter file into the form (``set_params``) and its folder filters into ``files``' Filters.

    (``batchseg segment --save-config`` writes the filters beside the parameters.)
    """
    params, file_filter, recursive = read_parameter_file(path)
    set_params(params)
    if file_filter is not None:
        files.filters.show(file_filter)
    files.recursive.setChecked(recursive or files.recursive.isChecked())
