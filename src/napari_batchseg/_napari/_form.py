"""The parameter form: method, model, diameter (+ advanced Cellpose settings), channel, Z, frames, GPU.

The models offered and the diameter's help follow the installed Cellpose (3 or 4; 4 adds two channel
choices). The form only edits a :class:`~napari_batchseg.params.SegmentationParams`, whose validation is
its own. Trained models (:func:`trained_models_signal`) join the Cellpose model list.
"""

from __future__ import annotations

import threading
from typing import Any, cast

from qtpy import sip
from qtpy.QtCore import QObject, Qt, Signal
from qtpy.QtGui import QStandardItemModel
from qtpy.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLabel, QSpinBox, QWidget

from ..io.sources import SourceInfo
from ..params import ParameterError, SegmentationParams
from ..segmenters.catalog import cellpose_major, cellpose_version
from ..training import registry
from ..view.form_state import (
    DIAMETER_HELP,
    FORM_FIELDS,
    NO_CHANNEL,
    SAM_INSTALL_HINT,
    USER_MODEL,
    Z_FIELDS,
    Z_RANGE_KEYS,
    channel_choice,
    channel_entries,
    channel_value,
    chosen_channel,
    frames_tip,
    input_name,
    method_only_values,
    method_shown,
    micro_sam_available,
    model_choices,
    model_fields,
    model_problem,
    model_values,
    slices_note,
    split_channel,
    z_fields,
    z_note_text,
    z_range_allowed,
    z_range_text,
    z_shown,
)
from ..view.model_note import LatestNote
from ._qtutil import Fields, PathField, fill, folded_form, form, hbox, muted, quiet, vbox

__all__ = ["USER_MODEL", "ParamsForm", "load_recent_models_later", "trained_models_signal"]


class TrainedModels(QObject):
    """``added(path)``: a trained model exists at ``path`` (emitted on the GUI thread)."""

    added = Signal(str)


_SIGNAL: TrainedModels | None = None


def trained_models_signal() -> TrainedModels:
    """The process-wide :class:`TrainedModels`; create it on the GUI thread (the first widget does).

    It emits whenever the registry remembers a model (from a training worker: delivered queued).
    """
    global _SIGNAL
    if _SIGNAL is None:
        _SIGNAL = TrainedModels()
        registry.add_listener(_SIGNAL.added.emit)
    return _SIGNAL


def load_recent_models_later() -> None:
    """Emit ``added`` for each remembered model, oldest first, from a daemon thread."""
    signal = trained_models_signal()

    def read() -> None:
        for path in reversed(registry.recent_models()):
            signal.added.emit(path)

    threading.Thread(target=read, name="batchseg-recent-models", daemon=True).start()


class ZSettings:
    """The form's Z widgets, in two rows so that the widest mode (a fixed range) fits a 440 px dock.

    :attr:`volume_row`: the volume mode and its number; :attr:`z_row`: range mode, projection, numbers.
    """

    def __init__(self) -> None:
        self.fields = f = Fields(*Z_FIELDS)
        self.z_mode, self.z_radius, self.z_start, self.z_stop = (f[k] for k in Z_RANGE_KEYS)
        self.z_type: QComboBox = f["z_projection"]
        self._dash = QLabel("–")
        self.z_numbers = hbox(self.z_radius, self.z_start, self._dash, self.z_stop, 1)
        self.z_row = vbox(hbox(self.z_mode, self.z_type, 1), self.z_numbers)
        self.z_note = muted(QLabel(""))
        # 3D: segment the volume (do_3D) or stitch 2D slices; each mode's own number beside it
        self.volume_mode: QComboBox = f["z_mode"]
        self.anisotropy: QDoubleSpinBox = f["anisotropy"]
        self.stitch: QDoubleSpinBox = f["stitch_threshold"]
        self.volume_row = hbox(self.volume_mode, self.anisotropy, self.stitch, 1)

    def update_visibility(self) -> None:
        """Show only the numbers of the modes chosen; no projection type, no best focus for a volume."""
        volume = self.volume_mode.currentData()
        items = self.z_mode.model()
        for i in range(self.z_mode.count()):  # a walk: best focus was offered, then Run refused it
            items.item(i).setEnabled(z_range_allowed(volume, self.z_mode.itemData(i)))
        if not z_range_allowed(volume, self.z_mode.currentData()):
            self.z_mode.setCurrentIndex(self.z_mode.findData("all"))
        shown = z_shown(volume, self.z_mode.currentData())
        for widgets, key in (((self.z_radius,), "radius"), ((self.z_start, self._dash, self.z_stop), "range"),
                             ((self.anisotropy,), "anisotropy"), ((self.stitch,), "stitch"),
                             ((self.z_type,), "projection")):
            for w in widgets:
                w.setVisible(shown[key])
        self.z_numbers.setVisible(shown["radius"] or shown["range"])

    def set_slices(self, max_z: int) -> None:
        """Enable the rows when an input has Z slices (``max_z`` the most); the range stays within."""
        for w in self.fields.widgets.values():
            w.setEnabled(max_z > 1)
        self.z_note.setText(slices_note(max_z))
        self.z_start.setMaximum(max(max_z - 1, 0))
        self.z_stop.setMaximum(max(max_z - 1, 0))

    def values(self) -> dict[str, Any]:
        """The Z fields as :class:`SegmentationParams` keyword arguments."""
        values = self.fields.values()
        return {"z_range": z_range_text(*(values.pop(k) for k in Z_RANGE_KEYS)), **values}

    def set_params(self, params: SegmentationParams) -> None:
        """Show the Z fields of ``params`` (the volume mode first: it decides which Z ranges are offered)."""
        self.fields.show(params)
        z = z_fields(params.z_range)
        self.z_mode.setCurrentIndex(z.index)
        if z.radius is not None:
            self.z_radius.setValue(z.radius)
        if z.start is not None and z.stop is not None:
            for spin, value in ((self.z_start, z.start), (self.z_stop, z.stop)):
                spin.setMaximum(max(spin.maximum(), z.stop))
                spin.setValue(value)


class ParamsForm(QWidget):
    """Edits every segmentation setting except the output ones; emits ``changed``."""

    changed = Signal()
    weights_found = Signal(int, str)  # (request, note) from the thread checking a built-in model's files

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._trained: list[str] = []  # trained model files offered in the Cellpose model list
        self._names: list[str] = ["C0"]  # the channels of the file (or layer) the lists show
        self.fields = f = Fields(*FORM_FIELDS)
        self.method: QComboBox = f["method"]
        if not micro_sam_available():
            item = cast(QStandardItemModel, self.method.model()).item(1)  # a QComboBox's own model
            if item is not None:
                item.setEnabled(False)
            self.method.setItemData(1, f"micro-sam is not installed: {SAM_INSTALL_HINT}",
                                    Qt.ItemDataRole.ToolTipRole)
            self.method.setToolTip(f"Segment Anything for Microscopy needs micro-sam: {SAM_INSTALL_HINT}")
        self.model = QComboBox()
        self.model_path = PathField(False, "Model file", "Cellpose models (*);;All files (*)",
                                    "paste, browse or drop a model file")
        self.model_path_label = QLabel("Model file")
        self.weights_note = muted(QLabel(""))  # whether a built-in model's weights are on this computer
        self.notes = LatestNote(self.weights_found.emit)
        self.weights_found.connect(self._weights_found)
        self.diameter: QDoubleSpinBox = f["diameter"]
        self.cellpose_major = cellpose_major()
        self.diameter.setToolTip(f"Cellpose {cellpose_version() or ''}: "
                                 + DIAMETER_HELP[4 if self.cellpose_major >= 4 else 3])
        self.flow: QDoubleSpinBox = f["flow_threshold"]
        self.niter: QSpinBox = f["niter"]
        self.keep_flows: QCheckBox = f["keep_flows"]
        self.restore: QComboBox = f["restore"]
        self.advanced = folded_form("Advanced", self, *f.rows("cellprob_threshold", "flow_threshold", "niter",
                                                              "debug", "keep_flows", "restore"))
        if self.cellpose_major >= 4:  # Cellpose 4 removed restoration, and its flows differ
            for box in (self.restore, self.keep_flows):
                box.setEnabled(False)
                box.setToolTip("Cellpose 3 only")
        self.sam_mode: QComboBox = f["sam_mode"]
        self.sam_mode_label = QLabel("SAM mode")
        self.channel = QComboBox()
        self.channel.setToolTip("Channel to segment (a named one: by that name in every file, else flagged)")
        # Cellpose 4 takes up to 3 channels: a second and a third, in this order ("—": none)
        self.channel2, self.channel3 = QComboBox(), QComboBox()
        for extra, nth in ((self.channel2, "second"), (self.channel3, "third")):
            extra.setToolTip(f"Cellpose 4: a {nth} channel for the network, in this order "
                             f"({NO_CHANNEL}: none)")
        self.z = z = ZSettings()  # the Z rows; their widgets are the form's too
        self.z_mode, self.z_radius, self.z_type, self.z_note = z.z_mode, z.z_radius, z.z_type, z.z_note
        self.volume_mode, self.anisotropy, self.stitch = z.volume_mode, z.anisotropy, z.stitch
        self.start_frame: QSpinBox = f["start_frame"]
        self.end_frame: QSpinBox = f["end_frame"]
        self.frames_row = hbox(QLabel("from"), self.start_frame, QLabel("to"), self.end_frame, 1)
        self.device_label = muted(QLabel(""))  # the device a GPU run would use (said once looked for)

        form(("Method", self.method), ("Model", self.model), ("", self.weights_note),
             (self.model_path_label, self.model_path), (self.sam_mode_label, self.sam_mode),
             ("Diameter", self.diameter), self.advanced,
             ("Channel", hbox(self.channel, self.channel2, self.channel3, 1)), ("Z", z.volume_row),
             ("Z-projection", z.z_row), ("", self.z_note), ("Frames", self.frames_row),
             hbox(f["gpu"], self.device_label, stretch_last=True), into=self)

        self._kept: dict[str, tuple[str, str]] = {}  # by method: the model and path of those not shown
        self._method_now = self.method.currentData()
        self._fill_models()
        self._update_visibility()
        self.set_file_infos([], None)
        self.method.currentIndexChanged.connect(self._method_changed)
        for box in (self.model, self.z_mode, self.volume_mode, self.sam_mode):
            box.currentIndexChanged.connect(self._update_visibility)
        for w in (self.channel, self.channel2, self.channel3):  # a channel chosen from named ones: its name
            w.currentIndexChanged.connect(
                lambda i, w=w: w.setItemData(i, chosen_channel(self._names, w.itemData(i))))
        for w in (self.model, self.channel, self.channel2, self.channel3):
            w.currentIndexChanged.connect(self.changed)
        self.fields.connect(self.changed, *(k for k in f.specs if k != "method"))  # the method: just above
        self.z.fields.connect(self.changed)
        self.model_path.changed.connect(self.changed)
        self.diameter.valueChanged.connect(self._update_visibility)  # diameter 0: Cellpose 3's size model too
        # models trained in this session (Train widget) or earlier (read in a thread) join the Cellpose list
        trained_models_signal().added.connect(self._add_trained_model)
        load_recent_models_later()

    def _fill_models(self) -> None:
        models, label, placeholder = model_choices(self.method.currentData(), self._trained)
        fill(self.model, models)
        self.model_path_label.setText(label)
        self.model_path.edit.setPlaceholderText(placeholder)

    def _add_trained_model(self, path: str) -> None:  # listed before the user-model entry
        if path in self._trained:
            return
        self._trained.append(path)
        if self.method.currentData() == "cellpose":
            with quiet(self.model):
                self.model.insertItem(self.model.findText(USER_MODEL), path)

    def _method_changed(self) -> None:
        # each method keeps its own model and path: a Cellpose model file never becomes a SAM checkpoint
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
        shown = method_shown(self.method.currentData(), self.model.currentText(), self.cellpose_major)
        for widgets, on in (((self.model_path, self.model_path_label), shown.model_path),
                            ((self.advanced,), shown.cellpose),
                            ((self.sam_mode, self.sam_mode_label), shown.sam_mode),
                            ((self.channel2, self.channel3), shown.several_channels)):
            for w in widgets:
                w.setVisible(on)
        self.diameter.setEnabled(shown.cellpose)
        self.check_weights()
        self.z.update_visibility()

    def check_weights(self) -> None:
        """Say again whether the chosen built-in model's weights are on this computer (read in a thread)."""
        self.notes.request(self.values())

    def _extra_channels(self) -> list[Any]:
        return [self.channel2.currentData(), self.channel3.currentData()]

    def _fill_extra_channels(self, chosen: list[Any]) -> None:
        for box, keep in zip((self.channel2, self.channel3), chosen, strict=False):
            fill(box, [(None, NO_CHANNEL), *channel_entries(self._names, keep)], keep)

    def _channel_value(self) -> int | str | list[int | str]:
        several = method_shown(self.method.currentData(), "", self.cellpose_major).several_channels
        return channel_value(self.channel.currentData(), self._extra_channels(), several)

    def set_file_infos(self, infos: list[SourceInfo], current: SourceInfo | None) -> None:
        """Adapt the channel list (from ``current``) and enable Z and frame controls when files need them."""
        keep = self.channel.currentData() if self.channel.count() else 0
        ref = current or (infos[0] if infos else None)
        self._names = names = list(ref.channel_names) if ref is not None else ["C0"]
        fill(self.channel, channel_entries(names, keep), keep)
        self.channel.setEnabled(len(names) > 1 or self.channel.count() > 1)
        self._fill_extra_channels(self._extra_channels())

        self.z.set_slices(max((i.sizes["Z"] for i in infos), default=1))
        max_t = max((i.sizes["T"] for i in infos), default=1)
        for spin in (self.start_frame, self.end_frame):  # (a range set before stays open to undo)
            spin.setEnabled(max_t > 1 or spin.value() != spin.minimum())
        self.frames_row.setToolTip(frames_tip(max_t))

    def show_inputs(self, files: list[SourceInfo], current: SourceInfo | None,
                    layers: list[SourceInfo] | None = None) -> None:
        """Describe what will be segmented: the image ``layers`` when given, else the ``files``.

        Channels and the Z note come from the first layer, else from ``current`` (the selected file).
        """
        infos, ref, kind = (layers, layers[0], "layer") if layers else (files, current, "file")
        self.set_file_infos(infos, ref)
        note = z_note_text(input_name(ref), ref.sizes["Z"], kind, self.z_mode.isEnabled()) if ref else None
        if note is not None:
            self.z_note.setText(note)

    def values(self) -> dict[str, Any]:
        """The form's fields as :class:`SegmentationParams` keyword arguments."""
        shown = self.fields.values()
        values = {**shown, **method_only_values(shown)}
        model, checkpoint = model_values(values["method"], self.model.currentText(), self.model_path.text())
        return {**values, "model": model, "checkpoint": checkpoint, "channel": self._channel_value(),
                **self.z.values()}

    def checked_values(self) -> dict[str, Any]:
        """:meth:`values`; :class:`ParameterError` when the model fields cannot run (``model_problem``)."""
        values = self.values()
        if problem := model_problem(values["method"], self.model.currentText(), self.model_path.text()):
            raise ParameterError(problem)
        return values

    def _weights_found(self, turn: int, text: str) -> None:
        if not sip.isdeleted(self.weights_note):  # (its page went with the dock while the thread looked)
            self.weights_note.setText(self.notes.latest(turn, text))

    def set_params(self, params: SegmentationParams) -> None:
        """Show ``params`` in the form (fields the form does not show are kept by the caller)."""
        if params.restore is not None and self.restore.findData(params.restore) < 0:
            self.restore.addItem(params.restore, params.restore)  # a restore model file (parameters file)
        self.fields.show(params)
        self._fill_models()
        model, path = model_fields(params)
        self.model.setCurrentText(model)
        self.model_path.setText(path)
        ch, extras = split_channel(params.channel)
        self._fill_extra_channels([*extras, None, None])
        fill(self.channel, channel_entries(self._names, ch := channel_choice(self._names, ch)), ch)
        self.z.set_params(params)
        self._update_visibility()
        self.changed.emit()  # the channel lists are filled quietly
