"""The controls of the Correct tab: target line, frames, the fixes with their numbers, Undo, Save.

Laid out here; what they do is :class:`._correct.CorrectionPanel`'s.
"""

from __future__ import annotations

from qtpy.QtWidgets import (
    QGridLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ._qtutil import hbox, ispin, muted, radio_pair


class CorrectionControls(QWidget):
    """The Correct tab's widgets, laid out (no behaviour)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.target = QLabel("")
        muted(self.target)
        self.this_frame, self.all_frames = radio_pair(self, "current frame", "all frames")

        self.min_size = ispin(1, 10**7, 30, "Objects with fewer pixels are removed")
        self.small_btn = QPushButton("Remove small")
        self.border_btn = QPushButton("Remove touching border")
        self.relabel_btn = QPushButton("Relabel sequentially")
        self.keep_id = ispin(1, 2**31 - 1, 1, "Label that stays")
        self.merge_id = ispin(1, 2**31 - 1, 2, "Label merged into the other one")
        self.merge_btn = QPushButton("Merge")
        self.delete_id = ispin(1, 2**31 - 1, 1, "Label to delete (default: the layer's selected label)")
        self.delete_btn = QPushButton("Delete label")
        self.undo_btn = QPushButton("Undo fix")
        self.save_btn = QPushButton("Save corrections")
        self.save_btn.setToolTip("Write the edited mask back to its _vSM.ome.tif (atomic) and log the edits")
        self.result = QLabel("")
        muted(self.result)

        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(QLabel("smaller than (px)"), 0, 0)
        grid.addWidget(self.min_size, 0, 1)
        grid.addWidget(self.small_btn, 0, 2)
        grid.addWidget(self.border_btn, 1, 0, 1, 3)
        grid.addWidget(self.relabel_btn, 2, 0, 1, 3)
        # merge Y into X, as the fix's record says it (a walk: "into X merge Y" read backwards)
        grid.addWidget(hbox(QLabel("merge"), self.merge_id, QLabel("into"), self.keep_id), 3, 0, 1, 2)
        grid.addWidget(self.merge_btn, 3, 2)
        grid.addWidget(self.delete_id, 4, 1)
        grid.addWidget(QLabel("label"), 4, 0)
        grid.addWidget(self.delete_btn, 4, 2)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.target)
        lay.addWidget(hbox(self.this_frame, self.all_frames, 1))
        lay.addLayout(grid)
        lay.addWidget(hbox(self.undo_btn, self.save_btn, 1))
        lay.addWidget(self.result)
