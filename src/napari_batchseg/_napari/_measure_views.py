"""Views of tables and curves: a pandas-backed Qt table model, a matplotlib canvas and a histogram."""

from __future__ import annotations

from typing import Any

import pandas as pd
from qtpy.QtCore import QAbstractTableModel, QModelIndex, Qt
from qtpy.QtWidgets import QComboBox, QWidget

from ..view.measure_form import cell_text, histogram_columns, histogram_values
from ._qtutil import follow, refill, vbox

_DISPLAY = Qt.ItemDataRole.DisplayRole
_HORIZONTAL = Qt.Orientation.Horizontal


class DataFrameModel(QAbstractTableModel):
    """Read-only table model over a :class:`pandas.DataFrame` (its cells as ``measure_form.cell_text``)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        #: the table shown
        self.frame = pd.DataFrame()

    def set_frame(self, df: pd.DataFrame) -> None:
        """Show ``df``."""
        self.beginResetModel()
        self.frame = df.reset_index(drop=True)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008, N802 - Qt API
        """Number of rows."""
        return 0 if parent.isValid() else len(self.frame)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008, N802 - Qt API
        """Number of columns."""
        return 0 if parent.isValid() else len(self.frame.columns)

    def data(self, index: QModelIndex, role: int = _DISPLAY) -> Any:
        """Cell text."""
        if role != _DISPLAY or not index.isValid():
            return None
        return cell_text(self.frame.iat[index.row(), index.column()])

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY) -> Any:  # noqa: N802
        """Column names and row numbers."""
        if role != _DISPLAY:
            return None
        if orientation == _HORIZONTAL:
            return str(self.frame.columns[section]) if section < len(self.frame.columns) else None
        return str(section)


class PlotCanvas(QWidget):
    """A matplotlib figure of one ``axes`` in Qt (``figure``, ``canvas``), below the widgets ``above``."""

    def __init__(self, size: tuple[float, float], parent: QWidget | None = None, *above: QWidget) -> None:
        super().__init__(parent)
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        self.background, self.foreground = theme_colors()
        self.figure = Figure(figsize=size, tight_layout=True, facecolor=self.background)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.axes = self.figure.add_subplot(111)
        self.style()
        vbox(*above, self.canvas, into=self)
        try:  # napari's theme switched later (Preferences > Appearance): the plot follows it
            from napari.settings import get_settings

            follow(self, [get_settings().appearance.events.theme], self.retheme)
        except Exception:  # noqa: BLE001 - no napari settings: the plot keeps its colours
            pass

    def retheme(self, *_: object) -> None:
        """Take napari's current theme colours and draw again."""
        self.background, self.foreground = theme_colors()
        self.figure.set_facecolor(self.background)
        self.style()
        self.restyle()
        self.canvas.draw_idle()

    def restyle(self) -> None:
        """Colour what the plot draws beyond its axes (none here; a legend in a subclass)."""

    def style(self) -> None:
        """Colour the axes as napari's theme (``axes.clear()`` resets them)."""
        ax, fg = self.axes, self.foreground
        ax.set_facecolor(self.background)
        ax.tick_params(colors=fg, which="both")
        ax.xaxis.label.set_color(fg)
        ax.yaxis.label.set_color(fg)
        for spine in ax.spines.values():
            spine.set_color(fg)


def theme_colors() -> tuple[str, str]:
    """``(background, text)`` colours of napari's current theme (its dark one when unknown)."""
    try:
        from napari.settings import get_settings
        from napari.utils.theme import get_theme

        theme = get_theme(get_settings().appearance.theme)
        return theme.background.as_hex(), theme.text.as_hex()
    except Exception:  # noqa: BLE001 - e.g. the 'system' theme in an older napari: its default look
        return "#262930", "#f0f1f2"


class Histogram(PlotCanvas):
    """A histogram of one numeric column of a table, the column chosen in a combo box above it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        self.column = QComboBox()
        super().__init__((3, 2), parent, self.column)
        self.canvas.setMinimumHeight(160)
        self._df = pd.DataFrame()
        self.column.currentTextChanged.connect(self.redraw)

    def set_frame(self, df: pd.DataFrame) -> None:
        """Use ``df``; keep the chosen column when it still exists (default ``area_px``)."""
        self._df = df
        refill(self.column, histogram_columns(df), block=True, default="area_px")
        self.redraw()

    @property
    def n_bars(self) -> int:
        """Number of bars drawn."""
        return len(self.axes.patches)

    def redraw(self, *_: object) -> None:
        """Draw the histogram of the chosen column."""
        self.axes.clear()
        self.style()
        col = self.column.currentText()
        if col and col in self._df.columns:
            values, bins = histogram_values(self._df, col)
            if values.size:
                self.axes.hist(values, bins=bins, color="#4c9be8")
            self.axes.set(xlabel=col, ylabel="objects")
        self.canvas.draw_idle()
