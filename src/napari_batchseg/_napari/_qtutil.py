"""Small Qt helpers shared by the widget modules: path drops and fields, layouts, :class:`Fields`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple, cast

from qtpy.QtCore import QMimeData, QObject, Qt, QTimer, Signal
from qtpy.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from qtpy.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from superqt import QCollapsible

from ..view.fields import Field, by_key
from ._jobs import close_with, disconnect

#: a form row: ``(label, field)``, or a wide widget
Row = tuple[str | QWidget, QWidget] | QWidget


def paths_from_mime(mime: QMimeData | None) -> list[Path]:
    """Local file and folder paths carried by a drag-and-drop ``QMimeData``."""
    if mime is None or not mime.hasUrls():
        return []
    return [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile() and u.toLocalFile()]


class PathDrops:
    """Drag-and-drop of local paths onto a widget: :meth:`_drop_ok` decides, its ``_dropped`` takes them."""

    _dropped: Callable[[list[Path]], object]

    def _drop_ok(self, paths: list[Path]) -> bool:
        return bool(paths)

    def dragEnterEvent(self, event: QDragEnterEvent | None) -> None:  # noqa: N802 - Qt override
        self.dragMoveEvent(event)

    def dragMoveEvent(self, event: QDragMoveEvent | None) -> None:  # noqa: N802 - Qt override
        if event is not None:
            if self._drop_ok(paths_from_mime(event.mimeData())):
                event.acceptProposedAction()
            else:
                event.ignore()

    def dropEvent(self, event: QDropEvent | None) -> None:  # noqa: N802 - Qt override
        paths = paths_from_mime(event.mimeData()) if event is not None else []
        if event is not None and self._drop_ok(paths):
            self._dropped(paths)
            event.acceptProposedAction()


class DropLineEdit(PathDrops, QLineEdit):
    """A line edit that accepts one dropped file or folder and shows its path."""

    def __init__(self, parent: QWidget | None = None, accept: Callable[[Path], bool] | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self._accept = accept or (lambda p: True)

    def _drop_ok(self, paths: list[Path]) -> bool:
        return len(paths) == 1 and self._accept(paths[0])

    def _dropped(self, paths: list[Path]) -> None:
        self.setText(str(paths[0]))


class PathField(QWidget):
    """A path line edit (paste, type or drop) with a Browse button."""

    changed = Signal(str)

    def __init__(self, folder: bool, caption: str, file_filter: str = "", placeholder: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._folder, self._caption, self._filter = folder, caption, file_filter
        accept = (lambda p: p.is_dir()) if folder else (lambda p: True)
        self.edit = DropLineEdit(self, accept)
        self.edit.setPlaceholderText(placeholder)
        self.browse = QPushButton("Browse…", self)
        hbox(self.edit, self.browse, into=self)  # (the edit expands, the button keeps its width)
        self.browse.clicked.connect(self._browse)
        self.edit.textChanged.connect(self.changed)

    def _browse(self) -> None:
        start = self.edit.text() or str(Path.home())
        if self._folder:
            path = QFileDialog.getExistingDirectory(self, self._caption, start)
        else:
            path, _ = QFileDialog.getOpenFileName(self, self._caption, start, self._filter)
        if path:
            self.edit.setText(path)

    def text(self) -> str:
        """The path typed, pasted, dropped or chosen (stripped)."""
        return self.edit.text().strip()

    def setText(self, text: str) -> None:  # noqa: N802 - Qt naming
        """Set the path."""
        self.edit.setText(text)


def form(*rows: Row, into: QWidget) -> QFormLayout:
    """A margin-less form of ``(label, field)`` rows or wide widgets, laid out ``into`` a widget.

    ``into`` is required: a layout on a widget nobody holds is deleted with it (a later use raised).
    """
    lay = QFormLayout(into)
    lay.setContentsMargins(0, 0, 0, 0)
    for row in rows:
        if isinstance(row, QWidget):
            lay.addRow(row)
        else:
            lay.addRow(row[0], row[1])
    return lay


def form_box(*rows: Row) -> QWidget:
    """A widget holding a margin-less form of ``rows`` (:func:`form`)."""
    box = QWidget()
    form(*rows, into=box)
    return box


def folded_form(title: str, parent: QWidget | None, *rows: Row) -> QCollapsible:
    """A folded section (▸ / ▾ arrows) holding a form of ``rows``."""
    box = QCollapsible(title, parent, expandedIcon="▾", collapsedIcon="▸")
    box.addWidget(form_box(*rows))
    return box


def hbox(*widgets: QWidget | int, stretch_last: bool = False, into: QWidget | None = None) -> QWidget:
    """A row of widgets without margins (ints: stretches), in a new widget or laid out ``into`` one."""
    w = into if into is not None else QWidget()
    lay = QHBoxLayout(w)
    lay.setContentsMargins(0, 0, 0, 0)
    for i, x in enumerate(widgets):
        if isinstance(x, int):
            lay.addStretch(x)
        else:
            lay.addWidget(x, 1 if stretch_last and i == len(widgets) - 1 else 0)
    return w


def vbox(*widgets: QWidget, into: QWidget | None = None) -> QWidget:
    """A column of widgets without margins, in a new widget or laid out ``into`` one."""
    w = into if into is not None else QWidget()
    lay = QVBoxLayout(w)
    lay.setContentsMargins(0, 0, 0, 0)
    for x in widgets:
        lay.addWidget(x)
    return w


def grid(*cells: tuple[QWidget, int, int, int], into: QWidget, flush: bool = True) -> QGridLayout:
    """A grid of ``(widget, row, column, column span)`` cells ``into`` a widget (``flush``: no margins)."""
    lay = QGridLayout(into)
    if flush:
        lay.setContentsMargins(0, 0, 0, 0)
    for widget, row, column, span in cells:
        lay.addWidget(widget, row, column, 1, span)
    return lay


def radio_pair(parent: QWidget, first: str, second: str) -> tuple[QRadioButton, QRadioButton]:
    """Two exclusive radio buttons, the first checked, grouped under ``parent``."""
    a, b = QRadioButton(first), QRadioButton(second)
    a.setChecked(True)
    group = QButtonGroup(parent)
    group.addButton(a)
    group.addButton(b)
    return a, b


def muted(label: QLabel) -> QLabel:
    """Give a QLabel a discreet look (smaller text), keeping word wrap and selectable text; return it."""
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setStyleSheet("font-size: 11px;")
    return label


@contextmanager
def quiet(*objects: QObject) -> Iterator[None]:
    """Block the signals of ``objects`` meanwhile (what is set is not reported as a user's change)."""
    for obj in objects:
        obj.blockSignals(True)
    try:
        yield
    finally:
        for obj in objects:
            obj.blockSignals(False)


def fill(box: QComboBox, entries: Iterable[tuple[Any, str] | str], keep: Any = None) -> None:
    """Replace ``box``'s entries (no ``currentIndexChanged``); select data ``keep``, else the first."""
    with quiet(box):
        box.clear()
        for e in entries:
            box.addItem(*((e, e) if isinstance(e, str) else (e[1], e[0])))
        box.setCurrentIndex(max(box.findData(keep), 0) if keep is not None else 0)


def make(spec: Field) -> QWidget:
    """The control that ``spec`` describes."""
    w: Any
    if spec.kind in ("int", "float"):
        num = int if spec.kind == "int" else float
        w = QSpinBox() if spec.kind == "int" else QDoubleSpinBox()
        if spec.kind == "float" and spec.decimals is not None:
            w.setDecimals(spec.decimals)
        if spec.kind == "float" and spec.step is not None:
            w.setSingleStep(spec.step)
        w.setSuffix(spec.suffix)
        w.setPrefix(spec.prefix)
        w.setRange(num(spec.lo), num(spec.hi))
        w.setSpecialValueText(spec.special)  # shown at the minimum
        if spec.value is not None:
            w.setValue(spec.value)
    elif spec.kind == "choice":
        w = QComboBox()
        fill(w, spec.choices, spec.value)
    elif spec.kind == "check":
        w = QCheckBox(spec.text)
    else:
        w = QLineEdit(spec.value or "")
        w.setPlaceholderText(spec.text)
    w.setToolTip(spec.tip)
    return cast(QWidget, w)


class Fields:
    """Controls built from :class:`~napari_batchseg.view.fields.Field` specs; ``fields[key]`` is one."""

    def __init__(self, *specs: Field) -> None:
        self.specs = by_key(specs)
        self.widgets = {key: make(spec) for key, spec in self.specs.items()}

    def __getitem__(self, key: str) -> Any:
        return self.widgets[key]

    def values(self) -> dict[str, Any]:
        """``{key: parameter value}`` of every control."""
        return {k: spec.to_param(_access(w := self.widgets[k]).read(w)) for k, spec in self.specs.items()}

    def show(self, params: object | Mapping[str, Any]) -> None:
        """Show the values of ``params`` (an object's attributes, or a mapping) of the keys it has."""
        has, get = ((params.__contains__, params.__getitem__) if isinstance(params, Mapping)
                    else (lambda k: hasattr(params, k), lambda k: getattr(params, k)))
        for key, spec in self.specs.items():
            if has(key):
                _access(w := self.widgets[key]).write(w, spec.to_shown(get(key)))

    def rows(self, *keys: str) -> list[Row]:
        """Form rows ``(label, control)`` of ``keys`` (all, in spec order, by default)."""
        return [(self.specs[k].label, self.widgets[k]) if self.specs[k].label else self.widgets[k]
                for k in keys or self.specs]

    def connect(self, slot: Any, *keys: str) -> None:
        """Call ``slot`` (or emit a signal) when a control of ``keys`` (any, by default) changes."""
        for key in keys or self.specs:
            getattr(w := self.widgets[key], _access(w).signal).connect(slot)


class _Access(NamedTuple):
    read: Callable[[Any], Any]
    write: Callable[[Any, Any], None]
    signal: str


#: per control type: how its value is read and written, and the signal that says it changed
_ACCESS: dict[Any, _Access] = {
    QComboBox: _Access(lambda w: w.currentData(), lambda w, v: w.setCurrentIndex(max(w.findData(v), 0)),
                       "currentIndexChanged"),
    QCheckBox: _Access(lambda w: w.isChecked(), lambda w, v: w.setChecked(bool(v)), "toggled"),
    QLineEdit: _Access(lambda w: w.text(), lambda w, v: w.setText(str(v or "")), "textChanged"),
    QSpinBox | QDoubleSpinBox: _Access(lambda w: w.value(), lambda w, v: w.setValue(v), "valueChanged"),
}


def _access(w: QWidget) -> _Access:
    return next(a for kind, a in _ACCESS.items() if isinstance(w, kind))


def refill(combo: QComboBox, entries: Sequence[Any], block: bool = False, default: str = "") -> str:
    """Replace ``combo``'s entries (quietly if ``block``), keeping the current one; returns its text.

    ``entries``: texts, or layers (their names): a layer is kept by identity, renamed too (an edit renames
    a mask "... (edited)"); a text by its text.
    """
    current, key = combo.currentText() or default, combo.currentData()
    keys = [None if isinstance(entry, str) else id(entry) for entry in entries]
    with quiet(*((combo,) if block else ())):
        combo.clear()
        for entry, item_key in zip(entries, keys, strict=True):
            combo.addItem(entry if item_key is None else entry.name, item_key)
        found = keys.index(key) if key in keys and key is not None else combo.findText(current)
        combo.setCurrentIndex(max(found, 0))  # (none found: the first, as Qt's own choice)
    return current


def follow(owner: QObject, events: Sequence[Any], slot: Callable[..., Any]) -> None:
    """Connect ``slot`` to napari ``events`` until ``owner`` (a dock) is destroyed, then disconnect it."""
    for event in events:
        event.connect(slot)
    close_with(owner, lambda: disconnect(events, slot))


def layer_list_events(viewer: Any, *names: str) -> list[Any]:
    """The viewer's layer-list events ``names`` (default: ``inserted``, ``removed`` and ``renamed``)."""
    return [getattr(viewer.layers.events, n) for n in names or ("inserted", "removed", "renamed")]


def single_shot(parent: QObject, ms: int, slot: Callable[[], Any]) -> QTimer:
    """A single-shot timer of ``ms`` calling ``slot`` (``start()`` it; started again, it waits again)."""
    timer = QTimer(parent)
    timer.setSingleShot(True)
    timer.setInterval(ms)
    timer.timeout.connect(slot)
    return timer
