"""The Settings form's Z rows: volume or projection, the Z range and its numbers, the projection type.

Two rows, so that the widest mode (a fixed range) still fits a 440 px dock: the volume mode with its
own number (anisotropy for 3d, stitch IoU for stitch), then the Z range mode with the projection type,
and the mode's own numbers (radius, or start – stop) below when it has any.
"""

from __future__ import annotations

from typing import Any

from qtpy.QtWidgets import QComboBox, QDoubleSpinBox, QLabel

from ..params import SegmentationParams
from ..view.form_state import (
    Z_FIELDS,
    Z_RANGE_KEYS,
    slices_note,
    z_fields,
    z_range_allowed,
    z_range_text,
    z_shown,
)
from ._qtutil import Fields, hbox, muted, vbox


class ZSettings:
    """The Z widgets of the form (laid out by it: :attr:`volume_row`, :attr:`z_row`, :attr:`z_note`)."""

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
        has_z = max_z > 1
        for w in (self.z_mode, self.z_type, self.volume_mode, self.z_radius, self.z_start, self.z_stop,
                  self.anisotropy, self.stitch):
            w.setEnabled(has_z)
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
