"""Segment what is open: the panel that chooses napari image layers, their axes and frames.

The chosen layers become engine inputs in :mod:`napari_batchseg.view.layer_inputs`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qtpy.QtCore import Signal
from qtpy.QtWidgets import QComboBox, QLabel, QPushButton, QWidget

from ..io.reader import unregister_source
from ..io.sources import SourceInfo
from ..view.layer_inputs import axes_choices, chosen_axes, described, layer_frame, layer_infos
from ._qtutil import fill, hbox, muted, radio_pair, vbox


class LayerPanel(QWidget):
    """*Segment image layers*: the selected image layers, their axes, current frame or whole stack.

    The layers are *active* (what the Settings tab describes) from their selection in napari until a
    file is picked (:meth:`files_picked`) or none is selected; ``changed`` says that this changed.
    """

    changed = Signal()

    def __init__(self, viewer: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self.active = False  #: the selected layers are what the Settings describe
        self._described: tuple[Any, ...] = ()
        #: made-up paths of layers given to the engine (kept so results can reopen; forgotten on close)
        self.registered: list[Path] = []
        self.selected = QLabel("")
        muted(self.selected)
        self.axes = QComboBox()
        self.axes.setToolTip("What the layer's axes are (from napari's axis labels when they say)")
        self.this_frame, self.all_frames = radio_pair(self, "current frame", "whole stack")
        self.all_frames.setChecked(True)
        self.run_btn = QPushButton("Segment selected layer(s)")
        self.run_btn.setToolTip("Segment the image layers selected in napari's layer list, with the "
                                "Settings tab's parameters; masks stream into a Labels layer and are saved "
                                "as _vSM.ome.tif")
        # the axes and the frames on two lines: one is too wide for a 440 px dock
        vbox(self.selected, hbox(QLabel("axes"), self.axes, 1), hbox(self.this_frame, self.all_frames, 1),
             self.run_btn, into=self)
        viewer.layers.selection.events.changed.connect(self.refresh)
        self.axes.currentIndexChanged.connect(lambda _i: self._notify())
        self.refresh()

    def close_down(self) -> None:
        """Stop following the selection and forget the layers registered as sources (the widget closes)."""
        for path in self.registered:
            unregister_source(path)
        self.registered.clear()
        try:
            self.viewer.layers.selection.events.changed.disconnect(self.refresh)
        except Exception:  # noqa: BLE001, S110 - already gone
            pass

    def image_layers(self) -> list[Any]:
        """The selected image layers, in layer-list order."""
        from napari.layers import Image

        selection = self.viewer.layers.selection
        return [lay for lay in self.viewer.layers if lay in selection and isinstance(lay, Image)]

    def refresh(self, _event: object = None) -> None:
        """Show which layers would be segmented, and the axes choices of the first."""
        layers = self.image_layers()
        self.run_btn.setEnabled(bool(layers))
        self.active = bool(layers)
        if not layers:
            self.selected.setText("select image layer(s) in napari's layer list to segment them")
            fill(self.axes, [])
            self._notify()
            return
        self.selected.setText("selected: " + ", ".join(lay.name for lay in layers))
        choices, guess = axes_choices(layers[0])
        fill(self.axes, choices, guess)
        self.axes.setEnabled(len(choices) > 1)
        self._notify()

    def files_picked(self, _path: object = None) -> None:
        """A file was picked in the file list: the Settings describe the files again."""
        self.active = False
        self._notify()

    def active_infos(self) -> list[SourceInfo]:
        """What the engine will know of each chosen layer (no pixel read); ``[]`` when not active."""
        return layer_infos(self.chosen()) if self.active else []

    def _notify(self) -> None:  # ``changed`` when the layers the Settings describe (or their axes) changed
        state = described(self.chosen()) if self.active else ()
        if state != self._described:
            self._described = state
            self.changed.emit()

    def chosen(self) -> list[tuple[Any, str]]:
        """``(layer, axes)`` per selected image layer (the combo's axes for layers shaped like the first)."""
        return chosen_axes(self.image_layers(), self.axes.currentText())

    def current_frame(self, layer: Any, axes: str) -> int | None:
        """The layer's time index on screen (``None`` without a T axis)."""
        return layer_frame(layer, axes, tuple(self.viewer.dims.point))
