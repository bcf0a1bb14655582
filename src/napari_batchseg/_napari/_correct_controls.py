"""The controls of the Correct tab: target line, frames, the fixes with their numbers, Undo, Save.

Laid out here; what they do is :class:`._correct.CorrectionPanel`'s.
"""

from __future__ import annotations

from qtpy.QtWidgets import QLabel, QPushButton, QWidget

from ..view.fix_undo import CORRECT_FIELDS
from ._qtutil import Fields, grid, hbox, muted, radio_pair, vbox


class CorrectionControls(QWidget):
    """The Correct tab's widgets, laid out (no behaviour)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.target = muted(QLabel(""))
        self.this_frame, self.all_frames = radio_pair(self, "current frame", "all frames")

        self.fields = Fields(*CORRECT_FIELDS)
        self.min_size, self.keep_id, self.merge_id, self.delete_id = (self.fields[f.key]
                                                                      for f in CORRECT_FIELDS)
        self.small_btn = QPushButton("Remove small")
        self.border_btn = QPushButton("Remove touching border")
        self.relabel_btn = QPushButton("Relabel sequentially")
        self.merge_btn = QPushButton("Merge")
        self.delete_btn = QPushButton("Delete label")
        self.undo_btn = QPushButton("Undo fix")
        self.save_btn = QPushButton("Save corrections")
        self.save_btn.setToolTip("Write the edited mask back to its _vSM.ome.tif (atomic) and log the edits")
        self.result = muted(QLabel(""))

        # merge Y into X, as the fix's record says it (a walk: "into X merge Y" read backwards)
        merge = hbox(QLabel("merge"), self.merge_id, QLabel("into"), self.keep_id)
        fixes = QWidget()
        grid((QLabel("smaller than (px)"), 0, 0, 1), (self.min_size, 0, 1, 1), (self.small_btn, 0, 2, 1),
             (self.border_btn, 1, 0, 3), (self.relabel_btn, 2, 0, 3), (merge, 3, 0, 2),
             (self.merge_btn, 3, 2, 1), (self.delete_id, 4, 1, 1), (QLabel("label"), 4, 0, 1),
             (self.delete_btn, 4, 2, 1), into=fixes)
        vbox(self.target, hbox(self.this_frame, self.all_frames, 1), fixes,
             hbox(self.undo_btn, self.save_btn, 1), self.result, into=self)
