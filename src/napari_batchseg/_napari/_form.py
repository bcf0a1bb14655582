"""The parameter form: method, model, diameter (+ advanced Cellpose settings), channel, Z, frames, GPU.

The Cellpose models offered and the diameter's help follow the installed Cellpose (3 or 4); under
Cellpose 4 two more channel choices appear (up to 3 channels, in the order chosen).

The form only edits a :class:`~napari_batchseg.params.SegmentationParams`; validation is the params
object's own.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, cast

from qtpy.QtCore import Qt, Signal
from qtpy.QtGui import QStandardItemModel
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QWidget,
)

from ..io.sources import SourceInfo
from ..params import PROJECTIONS, SegmentationParams, ZRange
from ..segmenters.catalog import cellpose_major, cellpose_version, is_cellpose_builtin, offered_models
from ._qtutil import PathField, fold, fspin, hbox, ispin, muted, vbox
from ._trained import load_recent_models_later, trained_models_signal

USER_MODEL = "User trained model…"
SAM_INSTALL_HINT = "pip install napari-batchseg[sam]"
NO_CHANNEL = "—"
DIAMETER_HELP = {
    3: "Expected object diameter in pixels. 0 (auto): estimated for cyto/cyto2/cyto3/nuclei; "
       "a user-trained model uses its training diameter.",
    4: "Expected object diameter in pixels (the image is rescaled by 30/diameter). 0 (auto): the "
       "model's native scale, no rescaling (Cellpose 4 has no size model).",
}
Z_MODES = (
    ("all", "all slices"),
    ("best", "best focus"),
    ("best:r", "best focus ± r"),
    ("range", "fixed range"),
)
#: what is segmented per time point (``SegmentationParams.z_mode``): a projected plane or the volume
VOLUME_MODES = (
    ("project", "2D (project)"),
    ("3d", "3D volume"),
    ("stitch", "2D + stitch"),
)


def _absent_channel_text(value: int | str) -> str:
    return f"{value} (by name)" if isinstance(value, str) else f"{value}: (not in the selected file)"


def _input_name(info: SourceInfo) -> str:
    """How the Settings name an input: the napari layer's name, else the file's."""
    layer = info.extra.get("napari_layer") if isinstance(info.extra, dict) else None
    return f"layer {layer!r}" if layer else info.path.name


def micro_sam_available() -> bool:
    """Whether micro-sam can be imported (checked without importing it)."""
    return importlib.util.find_spec("micro_sam") is not None


class ParamsForm(QWidget):
    """Edits every segmentation setting except the output ones; emits ``changed``."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._trained: list[str] = []  # trained model files offered in the Cellpose model list
        # method and model
        self.method = QComboBox()
        self.method.addItem("Cellpose", "cellpose")
        self.method.addItem("Segment Anything for Microscopy", "sam")
        if not micro_sam_available():
            item = cast(QStandardItemModel, self.method.model()).item(1)  # a QComboBox's own model
            if item is not None:
                item.setEnabled(False)
                item.setToolTip(f"micro-sam is not installed: {SAM_INSTALL_HINT}")
            self.method.setItemData(1, f"micro-sam is not installed: {SAM_INSTALL_HINT}",
                                 Qt.ItemDataRole.ToolTipRole)
            self.method.setToolTip(f"Segment Anything for Microscopy needs micro-sam: {SAM_INSTALL_HINT}")
        self.model = QComboBox()
        self.model_path = PathField(
            False, "Model file", "Cellpose models (*);;All files (*)", "paste, browse or drop a model file"
        )
        self.model_path_label = QLabel("Model file")
        self.diameter = fspin(0, 10000, special="auto", suffix=" px", decimals=1)
        self.cellpose_major = cellpose_major()
        self.diameter.setToolTip(
            f"Cellpose {cellpose_version() or ''}: " + DIAMETER_HELP[4 if self.cellpose_major >= 4 else 3]
        )
        # advanced Cellpose settings
        self.cellprob = fspin(-8, 8, step=0.5,
                              tip="Cellpose cell probability threshold (lower: more and larger objects)")
        self.flow = fspin(0, 5, 0.4, step=0.1,
                          tip="Cellpose flow error threshold (higher: more objects kept)")
        self.niter = ispin(0, 100000, special="auto", tip="Cellpose dynamics iterations; 0 = automatic")
        self.debug = QCheckBox("also save flows and cell probability")
        adv = QWidget()
        adv_form = QFormLayout(adv)
        adv_form.setContentsMargins(0, 0, 0, 0)
        adv_form.addRow("cellprob threshold", self.cellprob)
        adv_form.addRow("flow threshold", self.flow)
        adv_form.addRow("niter", self.niter)
        adv_form.addRow(self.debug)
        self.advanced = fold("Advanced", self)
        self.advanced.addWidget(adv)

        # image preparation
        self.channel = QComboBox()
        self.channel.setToolTip("Channel to segment (names from the selected file)")
        # Cellpose 4 takes up to 3 channels: a second and a third, in this order ("—": none)
        self.channel2 = QComboBox()
        self.channel3 = QComboBox()
        for extra, nth in ((self.channel2, "second"), (self.channel3, "third")):
            extra.setToolTip(f"Cellpose 4: a {nth} channel for the network, in this order "
                             f"({NO_CHANNEL}: none)")
        self.channel_row = hbox(self.channel, self.channel2, self.channel3, 1)
        self.z_mode = QComboBox()
        for value, text in Z_MODES:
            self.z_mode.addItem(text, value)
        self.z_radius = ispin(0, 1000, 3, prefix="r = ")
        self.z_start, self.z_stop = ispin(0, 100000), ispin(0, 100000)
        self.z_type = QComboBox()
        self.z_type.addItems(list(PROJECTIONS))
        self.z_type.setCurrentText("mean")
        # two lines, so that the widest mode (a fixed range) still fits a 440 px dock: the mode and the
        # projection type, then the mode's own numbers (radius, or start – stop) when it has any
        self.z_numbers = hbox(self.z_radius, self.z_start, QLabel("–"), self.z_stop, 1)
        self.z_row = vbox(hbox(self.z_mode, self.z_type, 1), self.z_numbers)
        self.z_note = QLabel("")
        muted(self.z_note)
        # 3D: segment the volume (do_3D) or stitch 2D slices; each mode's own number beside it
        self.volume_mode = QComboBox()
        for value, text in VOLUME_MODES:
            self.volume_mode.addItem(text, value)
        self.volume_mode.setToolTip("project: one projected plane per time point (mask TYX); 3d / stitch: "
                                    "the volume is segmented (mask TZYX)")
        self.anisotropy = fspin(0, 1000, 0, special="from file", prefix="anisotropy ", step=0.5,
                                decimals=2, tip="Z step / XY pixel size; 'from file': the file's own "
                                "Z step divided by its pixel size (1 when unknown)")
        self.stitch = fspin(0, 1, 0.25, prefix="IoU ", step=0.05, decimals=2,
                            tip="2D objects of consecutive slices overlapping more than this share one id")
        self.volume_row = hbox(self.volume_mode, self.anisotropy, self.stitch, 1)
        self.start_frame = ispin(0, 10**7)
        self.end_frame = ispin(-1, 10**7, -1, special="last")
        self.frames_row = hbox(QLabel("from"), self.start_frame, QLabel("to"), self.end_frame, 1)

        # device
        self.gpu = QCheckBox("Use GPU")
        self.device_label = QLabel("")
        muted(self.device_label)

        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Method", self.method)
        form.addRow("Model", self.model)
        form.addRow(self.model_path_label, self.model_path)
        form.addRow("Diameter", self.diameter)
        form.addRow(self.advanced)
        form.addRow("Channel", self.channel_row)
        form.addRow("Z", self.volume_row)
        form.addRow("Z-projection", self.z_row)
        form.addRow("", self.z_note)
        form.addRow("Frames", self.frames_row)
        form.addRow(hbox(self.gpu, self.device_label, stretch_last=True))
        self._form = form

        #: model and path fields of the method not shown, by method
        self._kept: dict[str, tuple[str, str]] = {}
        self._method_now = self.method.currentData()
        self._fill_models()
        self._update_visibility()
        self.set_file_infos([], None)
        self.method.currentIndexChanged.connect(self._method_changed)
        self.model.currentIndexChanged.connect(self._update_visibility)
        self.z_mode.currentIndexChanged.connect(self._update_visibility)
        self.volume_mode.currentIndexChanged.connect(self._update_visibility)
        for w in (self.model, self.z_mode, self.z_type, self.channel, self.channel2, self.channel3,
                  self.volume_mode):
            w.currentIndexChanged.connect(self.changed)
        for spin in (self.diameter, self.cellprob, self.flow, self.niter, self.z_radius, self.z_start,
                     self.z_stop, self.start_frame, self.end_frame, self.anisotropy, self.stitch):
            spin.valueChanged.connect(self.changed)
        self.model_path.changed.connect(self.changed)
        self.gpu.toggled.connect(self.changed)
        self.debug.toggled.connect(self.changed)
        # models trained in this session (Train widget) or earlier (read in a thread) join the Cellpose list
        trained_models_signal().added.connect(self._add_trained_model)
        load_recent_models_later()

    # ------------------------------------------------------------------ model choices
    def _fill_models(self) -> None:
        self.model.blockSignals(True)
        self.model.clear()
        if self.method.currentData() == "sam":
            self.model.addItems(list(offered_models("sam")))
            self.model_path_label.setText("Checkpoint")
            self.model_path.edit.setPlaceholderText("optional local checkpoint (architecture: model above)")
        else:
            self.model.addItems(list(offered_models("cellpose")))
            self.model.addItems(self._trained)
            self.model.addItem(USER_MODEL)
            self.model_path_label.setText("Model file")
            self.model_path.edit.setPlaceholderText("paste, browse or drop a model file")
        self.model.blockSignals(False)

    def _add_trained_model(self, path: str) -> None:
        """Offer a trained Cellpose model file by its path (listed before the user-model entry)."""
        if path in self._trained:
            return
        self._trained.append(path)
        if self.method.currentData() == "cellpose":
            self.model.blockSignals(True)
            self.model.insertItem(self.model.findText(USER_MODEL), path)
            self.model.blockSignals(False)

    def _method_changed(self) -> None:
        """Show the models of the method chosen; each method keeps its own model and path fields.

        A Cellpose model file never becomes a micro-sam checkpoint: the fields of the method left are
        kept, those of the method chosen come back.
        """
        self._kept[self._method_now] = (self.model.currentText(), self.model_path.text())
        self._method_now = self.method.currentData()
        self._fill_models()
        model, path = self._kept.get(self._method_now, ("", ""))
        if model and self.model.findText(model) >= 0:
            self.model.setCurrentText(model)
        self.model_path.setText(path)
        self._update_visibility()
        self.changed.emit()

    def _update_visibility(self) -> None:
        sam = self.method.currentData() == "sam"
        user = self.model.currentText() == USER_MODEL
        show_path = sam or user
        self.model_path.setVisible(show_path)
        self.model_path_label.setVisible(show_path)
        self.diameter.setEnabled(not sam)
        self.advanced.setVisible(not sam)
        several = self.several_channels_allowed()
        self.channel2.setVisible(several)
        self.channel3.setVisible(several)
        mode = self.z_mode.currentData()
        self.z_radius.setVisible(mode == "best:r")
        for w in (self.z_start, self.z_stop):
            w.setVisible(mode == "range")
        layout = self.z_numbers.layout()
        item = layout.itemAt(2) if layout is not None else None
        label = item.widget() if item is not None else None
        if label is not None:
            label.setVisible(mode == "range")
        self.z_numbers.setVisible(mode in ("best:r", "range"))
        volume = self.volume_mode.currentData()
        self.anisotropy.setVisible(volume == "3d")
        self.stitch.setVisible(volume == "stitch")
        self.z_type.setVisible(volume == "project")  # a volume is not projected

    def several_channels_allowed(self) -> bool:
        """Whether the method takes several channels (Cellpose 4 does, up to 3)."""
        return self.method.currentData() == "cellpose" and self.cellpose_major >= 4

    def _fill_extra_channels(self, names: list[str]) -> None:
        for box in (self.channel2, self.channel3):
            keep = box.currentData()
            box.blockSignals(True)
            box.clear()
            box.addItem(NO_CHANNEL, None)
            for i, n in enumerate(names):
                box.addItem(f"{i}: {n}", i)
            if keep is not None and box.findData(keep) < 0:
                box.addItem(_absent_channel_text(keep), keep)
            box.setCurrentIndex(max(box.findData(keep), 0) if keep is not None else 0)
            box.blockSignals(False)

    def _channel_value(self) -> int | str | list[int | str]:
        first = self.channel.currentData()
        chosen: list[int | str] = [first if first is not None else 0]
        if self.several_channels_allowed():
            for box in (self.channel2, self.channel3):
                value = box.currentData()
                if value is not None and value not in chosen:
                    chosen.append(value)
        return chosen[0] if len(chosen) == 1 else chosen

    # ------------------------------------------------------------------ file-dependent choices
    def set_file_infos(self, infos: list[SourceInfo], current: SourceInfo | None) -> None:
        """Adapt the channel list (from ``current``) and enable Z and frame controls when files need them."""
        keep = self.channel.currentData()
        self.channel.blockSignals(True)
        self.channel.clear()
        ref = current or (infos[0] if infos else None)
        names = ref.channel_names if ref is not None else ["C0"]
        for i, n in enumerate(names):
            self.channel.addItem(f"{i}: {n}", i)
        if isinstance(keep, int) and keep >= len(names):
            self.channel.addItem(f"{keep}: (not in the selected file)", keep)
        elif isinstance(keep, str):
            self.channel.addItem(f"{keep} (by name)", keep)
        idx = self.channel.findData(keep if keep is not None else 0)
        self.channel.setCurrentIndex(max(idx, 0))
        self.channel.setEnabled(len(names) > 1 or self.channel.count() > 1)
        self.channel.blockSignals(False)
        self._fill_extra_channels(list(names))

        max_z = max((i.sizes["Z"] for i in infos), default=1)
        max_t = max((i.sizes["T"] for i in infos), default=1)
        has_z = max_z > 1
        for w in (self.z_mode, self.z_radius, self.z_start, self.z_stop, self.z_type, self.volume_mode,
                  self.anisotropy, self.stitch):
            w.setEnabled(has_z)
        self.z_note.setText(f"up to {max_z} Z slices" if has_z else "no file has Z slices")
        self.z_start.setMaximum(max(max_z - 1, 0))
        self.z_stop.setMaximum(max(max_z - 1, 0))
        self.start_frame.setEnabled(max_t > 1)
        self.end_frame.setEnabled(max_t > 1)
        self.frames_row.setToolTip(
            f"0-based, inclusive; the longest file has {max_t} frame(s)" if max_t > 1 else "no time series"
        )

    def show_inputs(self, files: list[SourceInfo], current: SourceInfo | None,
                    layers: list[SourceInfo] | None = None) -> None:
        """Describe what will be segmented: the image ``layers`` when given, else the ``files``.

        Channel names come from ``current`` (the selected file), or from the first layer; Z and frame
        controls are enabled when one of the inputs has Z slices or time frames; the Z note gives the
        slices of the selected file or layer.
        """
        ref: SourceInfo | None
        if layers:
            self.set_file_infos(layers, layers[0])
            ref, kind = layers[0], "layer"
        else:
            self.set_file_infos(files, current)
            ref, kind = current, "file"
        if ref is None:
            return
        name = _input_name(ref)
        n_z = ref.sizes["Z"]
        if self.z_mode.isEnabled():
            self.z_note.setText(f"{name}: {n_z} Z slice(s)" if n_z > 1 else
                                f"{name}: no Z slices (other {kind}s have some)")
        elif kind == "layer":
            self.z_note.setText("no layer has Z slices")

    def set_device_text(self, text: str) -> None:
        """Show which device a GPU run would use."""
        self.device_label.setText(text)

    # ------------------------------------------------------------------ params
    def values(self) -> dict[str, Any]:
        """The form's fields as :class:`SegmentationParams` keyword arguments."""
        method = self.method.currentData()
        path = self.model_path.text()
        if method == "sam":
            model, checkpoint = self.model.currentText(), (path or None)
        else:
            model = path if self.model.currentText() == USER_MODEL else self.model.currentText()
            checkpoint = None
        mode = self.z_mode.currentData()
        if mode == "best:r":
            z_range = f"best:{self.z_radius.value()}"
        elif mode == "range":
            z_range = f"{self.z_start.value()}-{self.z_stop.value()}"
        else:
            z_range = mode
        end = self.end_frame.value()
        return {
            "method": method,
            "model": model,
            "checkpoint": checkpoint,
            "diameter": self.diameter.value(),
            "cellprob_threshold": self.cellprob.value(),
            "flow_threshold": self.flow.value(),
            "niter": self.niter.value(),
            "debug": self.debug.isChecked(),
            "channel": self._channel_value(),
            "z_range": z_range,
            "z_projection": self.z_type.currentText(),
            "z_mode": self.volume_mode.currentData(),
            "anisotropy": self.anisotropy.value() or None,  # 0 shows "from file"
            "stitch_threshold": self.stitch.value(),
            "start_frame": self.start_frame.value(),
            "end_frame": None if end < 0 else end,
            "gpu": self.gpu.isChecked(),
        }

    def set_params(self, params: SegmentationParams) -> None:
        """Show ``params`` in the form (fields the form does not show are kept by the caller)."""
        self.method.setCurrentIndex(max(0, self.method.findData(params.method)))
        self._fill_models()
        if params.method == "sam":
            self.model.setCurrentText(params.model)
            self.model_path.setText(params.checkpoint or "")
        elif is_cellpose_builtin(model := str(params.model)):  # a str once SegmentationParams is built
            self.model.setCurrentText(model)
            self.model_path.setText("")
        else:
            self.model.setCurrentText(USER_MODEL)
            self.model_path.setText(str(Path(model)))
        self.diameter.setValue(params.diameter)
        self.cellprob.setValue(params.cellprob_threshold)
        self.flow.setValue(params.flow_threshold)
        self.niter.setValue(params.niter)
        self.debug.setChecked(params.debug)
        channels = params.channel
        extras: list[int | str] = []
        ch: int | str
        if isinstance(channels, list):
            ch, extras = channels[0], list(channels[1:])
        else:
            ch = channels
        for box, value in zip((self.channel2, self.channel3), [*extras, None, None], strict=False):
            idx = box.findData(value) if value is not None else 0
            if idx < 0 and value is not None:
                box.addItem(_absent_channel_text(value), value)
                idx = box.count() - 1
            box.setCurrentIndex(idx)
        if isinstance(ch, str):
            idx = next((i for i in range(self.channel.count()) if self.channel.itemText(i).split(": ", 1)[-1]
                        == ch), -1)
            if idx < 0:
                self.channel.addItem(f"{ch} (by name)", ch)
                idx = self.channel.count() - 1
        else:
            idx = self.channel.findData(ch)
            if idx < 0:
                self.channel.addItem(f"{ch}: (not in the selected file)", ch)
                idx = self.channel.count() - 1
        self.channel.setCurrentIndex(idx)
        zr = ZRange.parse(params.z_range)
        if zr.mode == "best":
            self.z_mode.setCurrentIndex(1 if zr.radius == 0 else 2)
            self.z_radius.setValue(zr.radius or self.z_radius.value())
        elif zr.mode == "range":
            self.z_mode.setCurrentIndex(3)
            self.z_start.setMaximum(max(self.z_start.maximum(), zr.stop))
            self.z_stop.setMaximum(max(self.z_stop.maximum(), zr.stop))
            self.z_start.setValue(zr.start)
            self.z_stop.setValue(zr.stop)
        else:
            self.z_mode.setCurrentIndex(0)
        self.z_type.setCurrentText(params.z_projection)
        self.volume_mode.setCurrentIndex(max(0, self.volume_mode.findData(params.z_mode)))
        self.anisotropy.setValue(params.anisotropy or 0)
        self.stitch.setValue(params.stitch_threshold)
        self.start_frame.setValue(params.start_frame)
        self.end_frame.setValue(-1 if params.end_frame is None else params.end_frame)
        self.gpu.setChecked(params.gpu)
        self._update_visibility()
