"""Layout pieces of the dock widget: section titles, separators, scrolled tab pages, compact drop-downs."""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QComboBox, QFrame, QLabel, QScrollArea, QSizePolicy, QVBoxLayout, QWidget


def _section(title: str) -> QLabel:
    label = QLabel(f"<b>{title}</b>")
    label.setContentsMargins(0, 6, 0, 0)
    return label


def _line() -> QFrame:
    f = QFrame()
    f.setFrameShape(QFrame.Shape.HLine)
    f.setFrameShadow(QFrame.Shadow.Sunken)
    return f


def _page(*widgets: QWidget) -> QWidget:
    page = QWidget()
    lay = QVBoxLayout(page)
    for w in widgets:
        lay.addWidget(w)
    lay.addStretch(1)
    return page


def _scrolled(page: QWidget) -> QScrollArea:
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setWidget(page)
    return scroll


def _compact_combos(root: QWidget) -> None:
    """Drop-downs as narrow as their shortest sensible text (the list shows whole entries): fits 440 px."""
    for box in root.findChildren(QComboBox):
        box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        box.setMinimumContentsLength(min(box.minimumContentsLength() or 8, 8))
        box.setSizePolicy(QSizePolicy.Policy.Expanding, box.sizePolicy().verticalPolicy())


def scrolled_body(dock: QWidget) -> QVBoxLayout:
    """Give ``dock`` one vertical scroll area filling it, and return the layout of the area's page.

    A dock's content then scrolls when napari's window (or a dock stacked beside it) leaves it less
    height than it needs, instead of squeezing its neighbours; it never scrolls sideways.
    """
    outer = QVBoxLayout(dock)
    outer.setContentsMargins(0, 0, 0, 0)
    page = QWidget()
    outer.addWidget(_scrolled(page))
    return QVBoxLayout(page)

