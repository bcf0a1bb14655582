"""Segment what is open: napari image layers as engine inputs, through the same engine as files.

Each chosen layer becomes an :class:`~napari_batchseg.io.arrays.ArrayInput` (its data, axes, file,
pixel size, T offset); :func:`napari_batchseg.engine.plan_arrays` plans them as files are planned: the
outputs are ``<folder>/<layer name>_vSM.ome.tif`` and the log names the layer and the file it came
from when napari knows it. This module only reads layers and shows the choices (axes, frames).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from qtpy.QtCore import Signal
from qtpy.QtWidgets import QComboBox, QLabel, QPushButton, QWidget

from ..engine import plan_arrays
from ..events import Plan
from ..io.arrays import CANONICAL, ArrayInput, ArraySource, safe_name
from ..io.reader import unregister_source
from ..io.sources import PixelSize, SourceInfo
from ..params import SegmentationParams
from ._layerops import layer_meta
from ._qtutil import fill, hbox, muted, radio_pair, vbox

#: leading-axes choices by number of non-YX axes (first: the default when the layer does not say)
LEAD_CHOICES = {
    0: [""],
    1: ["T", "Z", "C"],
    2: ["TZ", "TC", "CZ", "ZC", "CT"],
    3: ["TCZ", "TZC", "CTZ"],
    4: ["PTCZ"],
}


def guess_axes(layer: Any) -> str:
    """The layer's axes in ``P T C Z Y X`` letters (from its ``axis_labels`` when they are such letters).

    RGB(A) layers end with a channel axis (``...YXC``). Otherwise the first default of
    :data:`LEAD_CHOICES` (a 3D layer is read as a time series).
    """
    ndim = int(layer.ndim)
    labels = [str(a).upper() for a in getattr(layer, "axis_labels", ())]
    if len(labels) == ndim and all(a in CANONICAL for a in labels) and len(set(labels)) == ndim \
            and labels[-2:] == ["Y", "X"]:
        axes = "".join(labels)
    else:
        axes = LEAD_CHOICES.get(ndim - 2, ["?" * (ndim - 2)])[0] + "YX"
    return axes + ("C" if getattr(layer, "rgb", False) else "")


def layer_source_file(layer: Any) -> Path | None:
    """The file napari opened the layer from, if it knows it."""
    path = getattr(getattr(layer, "source", None), "path", None)
    if path:
        return Path(path)
    src = layer_meta(layer).get("source")
    return Path(src) if src else None


def layer_pixel_size(layer: Any, axes: str) -> PixelSize:
    """Pixel size in µm from the layer's scale, when its units are micrometres.

    The time step (s) too, when its T unit is seconds (as the reader gives them).
    """
    try:
        units = [str(u) for u in layer.units]
    except AttributeError:
        return PixelSize()
    it = axes.index("T") if "T" in axes else -1
    t = float(layer.scale[it]) if 0 <= it < len(units) and units[it] in ("second", "s") else None
    iy, ix = axes.index("Y"), axes.index("X")
    if iy >= len(units) or ix >= len(units) or units[ix] not in ("micrometer", "µm", "um"):
        return PixelSize(t=t)
    z = float(layer.scale[axes.index("Z")]) if "Z" in axes else None
    return PixelSize(x=float(layer.scale[ix]), y=float(layer.scale[iy]), z=z, t=t)


def layer_inputs(layers: list[tuple[Any, str]]) -> list[ArrayInput]:
    """One engine input per ``(layer, axes)``: its data, axes, name, file, pixel size and T offset.

    Its outputs go to the run's output folder, else beside the layer's file.
    """
    inputs = []
    for layer, axes in layers:
        src = layer_source_file(layer)
        t0 = float(layer.translate[axes.index("T")]) if "T" in axes else 0.0  # the layer moved along T
        inputs.append(ArrayInput(layer.data, axes, layer.name, src, layer_pixel_size(layer, axes), t0,
                                 src.parent if src else None))
    return inputs


def layer_plan(layers: list[tuple[Any, str]], params: SegmentationParams) -> Plan:
    """A :class:`~napari_batchseg.events.Plan` over image layers, planned by the engine as files are.

    Raises ``ValueError`` for a layer without a file when there is no output folder, or whose axes do
    not fit it.
    """
    inputs = layer_inputs(layers)
    lost = next((i.name for i in inputs if i.folder is None), None)
    if lost is not None and not params.output_dir:
        raise ValueError(f"layer {lost!r} has no file: choose an output folder (Files › Output)")
    return plan_arrays(inputs, params)


class LayerPanel(QWidget):
    """*Segment image layers*: the selected image layers, their axes, current frame or whole stack.

    The layers are *active* (what the Settings tab describes: channels, Z, frames) from the moment image
    layers are selected in napari until a file is picked in the file list (:meth:`files_picked`) or no
    image layer is selected; ``changed`` is emitted when what the Settings should describe changes.
    """

    changed = Signal()

    def __init__(self, viewer: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = viewer
        #: whether the selected layers are what the Settings describe (see the class docstring)
        self.active = False
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
        first = layers[0]
        self.selected.setText("selected: " + ", ".join(lay.name for lay in layers))
        guess = guess_axes(first)
        rgb = "C" if getattr(first, "rgb", False) else ""
        n_lead = int(first.ndim) - 2
        choices = [c + "YX" + rgb for c in LEAD_CHOICES.get(n_lead, [])]
        if guess not in choices:
            choices.insert(0, guess)
        fill(self.axes, choices, guess)
        self.axes.setEnabled(len(choices) > 1)
        self._notify()

    def files_picked(self, _path: object = None) -> None:
        """A file was picked in the file list: the Settings describe the files again."""
        self.active = False
        self._notify()

    def active_infos(self) -> list[SourceInfo]:
        """What the engine will know of each chosen layer (axes, sizes, channels), when they are active.

        Built from the layers' shapes, dtypes and axes only (no pixel is read); ``[]`` when the
        Settings describe the files.
        """
        if not self.active:
            return []
        out = []
        for layer, axes in self.chosen():
            try:
                src = ArraySource(layer.data, axes, Path(safe_name(layer.name)), layer.name,
                                  layer_source_file(layer))
            except (ValueError, AttributeError, TypeError):  # axes that do not fit, data without a shape
                continue
            out.append(src.info)
        return out

    def _notify(self) -> None:
        """Emit ``changed`` when the layers the Settings should describe (or their axes) changed."""
        state: tuple[Any, ...] = ()
        if self.active:
            state = tuple((id(lay), axes, tuple(getattr(lay.data, "shape", ())))
                          for lay, axes in self.chosen())
        if state != self._described:
            self._described = state
            self.changed.emit()

    def chosen(self) -> list[tuple[Any, str]]:
        """``(layer, axes)`` per selected image layer (the combo's axes for layers shaped like the first)."""
        layers = self.image_layers()
        if not layers:
            return []
        first = layers[0]
        out = []
        for lay in layers:
            same = lay.ndim == first.ndim and getattr(lay, "rgb", False) == getattr(first, "rgb", False)
            choice = self.axes.currentText()
            out.append((lay, choice if same and choice else guess_axes(lay)))
        return out

    def current_frame(self, layer: Any, axes: str) -> int | None:
        """The layer's time index on screen (``None`` without a T axis)."""
        if "T" not in axes:
            return None
        coords = layer.world_to_data(self.viewer.dims.point[-layer.ndim:]) if layer.ndim else ()
        return int(np.clip(round(float(coords[axes.index("T")])), 0, layer.data.shape[axes.index("T")] - 1))
