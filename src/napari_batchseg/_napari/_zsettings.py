"""The Settings form's Z rows: volume or projection, the Z range and its numbers, the projection type.

Two rows, so that the widest mode (a fixed range) still fits a 440 px dock: the volume mode with its
own number (anisotropy for 3d, stitch IoU for stitch), then the Z range mode with the projection type,
and the mode's own numbers (radius, or start – stop) below when it has any.
"""

from __future__ import annotations

from typing import Any

from qtpy.QtWidgets import QComboBox, QDoubleSpinBox, QLabel, QSpinBox

from ..params import PROJECTIONS, SegmentationParams
from ..view.form_state import VOLUME_MODES, Z_MODES, z_fields, z_range_text
from ._qtutil import fspin, hbox, ispin, muted, vbox


def _combo(items: tuple[tuple[str, str], ...]) -> QComboBox:
    box = QComboBox()
    for value, text in items:
        box.addItem(text, value)
    return box


class ZSettings:
    """The Z widgets of the form (laid out by it: :attr:`volume_row`, :attr:`z_row`, :attr:`z_note`)."""

    def __init__(self) -> None:
        self.z_mode = _combo(Z_MODES)
        self.z_radius = ispin(0, 1000, 3, prefix="r = ")
        self.z_start, self.z_stop = ispin(0, 100000), ispin(0, 100000)
        self.z_type = QComboBox()
        self.z_type.addItems(list(PROJECTIONS))
        self.z_type.setCurrentText("mean")
        self._dash = QLabel("–")
        self.z_numbers = hbox(self.z_radius, self.z_start, self._dash, self.z_stop, 1)
        self.z_row = vbox(hbox(self.z_mode, self.z_type, 1), self.z_numbers)
        self.z_note = QLabel("")
        muted(self.z_note)
        # 3D: segment the volume (do_3D) or stitch 2D slices; each mode's own number beside it
        self.volume_mode = _combo(VOLUME_MODES)
        self.volume_mode.setToolTip("project: one projected plane per time point (mask TYX); 3d / stitch: "
                                    "the volume is segmented (mask TZYX)")
        self.anisotropy = fspin(0, 1000, 0, special="from file", prefix="anisotropy ", step=0.5,
                                decimals=2, tip="Z step / XY pixel size; 'from file': the file's own "
                                "Z step divided by its pixel size (1 when unknown)")
        self.stitch = fspin(0, 1, 0.25, prefix="IoU ", step=0.05, decimals=2,
                            tip="2D objects of consecutive slices overlapping more than this share one id")
        self.volume_row = hbox(self.volume_mode, self.anisotropy, self.stitch, 1)

    @property
    def combos(self) -> tuple[QComboBox, ...]:
        """The drop-downs (a change in any is a change of the parameters)."""
        return self.z_mode, self.z_type, self.volume_mode

    @property
    def spins(self) -> tuple[QSpinBox | QDoubleSpinBox, ...]:
        """The spin boxes, likewise."""
        return self.z_radius, self.z_start, self.z_stop, self.anisotropy, self.stitch

    def update_visibility(self) -> None:
        """Show only the numbers of the modes chosen; no projection type for a volume."""
        mode = self.z_mode.currentData()
        self.z_radius.setVisible(mode == "best:r")
        for w in (self.z_start, self._dash, self.z_stop):
            w.setVisible(mode == "range")
        self.z_numbers.setVisible(mode in ("best:r", "range"))
        volume = self.volume_mode.currentData()
        self.anisotropy.setVisible(volume == "3d")
        self.stitch.setVisible(volume == "stitch")
        self.z_type.setVisible(volume == "project")  # a volume is not projected

    def set_slices(self, max_z: int) -> None:
        """Enable the rows when an input has Z slices (``max_z`` the most); the range stays within."""
        has_z = max_z > 1
        for w in (*self.combos, *self.spins):
            w.setEnabled(has_z)
        self.z_note.setText(f"up to {max_z} Z slices" if has_z else "no file has Z slices")
        self.z_start.setMaximum(max(max_z - 1, 0))
        self.z_stop.setMaximum(max(max_z - 1, 0))

    def values(self) -> dict[str, Any]:
        """The Z fields as :class:`SegmentationParams` keyword arguments."""
        return {
            "z_range": z_range_text(self.z_mode.currentData(), self.z_radius.value(), self.z_start.value(),
                                    self.z_stop.value()),
            "z_projection": self.z_type.currentText(),
            "z_mode": self.volume_mode.currentData(),
            "anisotropy": self.anisotropy.value() or None,  # 0 shows "from file"
            "stitch_threshold": self.stitch.value(),
        }

    def set_params(self, params: SegmentationParams) -> None:
        """Show the Z fields of ``params``."""
        z = z_fields(params.z_range)
        self.z_mode.setCurrentIndex(z.index)
        if z.radius is not None:
            self.z_radius.setValue(z.radius)
        if z.start is not None and z.stop is not None:
            for spin, value in ((self.z_start, z.start), (self.z_stop, z.stop)):
                spin.setMaximum(max(spin.maximum(), z.stop))
                spin.setValue(value)
        self.z_type.setCurrentText(params.z_projection)
        self.volume_mode.setCurrentIndex(max(0, self.volume_mode.findData(params.z_mode)))
        self.anisotropy.setValue(params.anisotropy or 0)
        self.stitch.setValue(params.stitch_threshold)
