"""The base of the secondary docks (Measure, Train, Track, Re-threshold): one way to build and run them."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QDockWidget, QLabel, QLayout, QMainWindow, QPushButton, QVBoxLayout, QWidget

from ..view.dock_layers import watch_mask_edits
from ..view.fields import Field
from ..view.phrasing import for_dock
from ..view.stream_layers import offered
from ._jobs import Background, Job, JobSlot, close_with, delete_with_dock, dock_of
from ._pages import compact_combos, scrolled_body
from ._qtutil import Fields, follow, layer_list_events


def status_line(parent: QWidget) -> QLabel:
    """A word-wrapped status label."""
    label = QLabel("", parent)
    label.setWordWrap(True)
    return label


def button(text: str, clicked: Callable[[], object], parent: QWidget | None = None,
           tip: str = "") -> QPushButton:
    """A push button that calls ``clicked()``, with the tooltip ``tip``."""
    btn = QPushButton(text, parent)
    btn.clicked.connect(lambda *_: clicked())
    btn.setToolTip(tip)
    return btn


class Dock(QWidget):
    """A dock: viewer, ``background`` closed with it, ``status``, scrolling ``body``, fields by key."""

    def __init__(self, viewer: Any, parent: QWidget | None = None, *, fields: tuple[Field, ...] = ()) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self.background = Background(self)
        #: the dock's one job at a time (:meth:`run_job` with ``kind``)
        self.slot = JobSlot(self.background, self.update_buttons)
        close_with(self, self.background.close)
        delete_with_dock(self, docked=self._share_place)
        self.fields = Fields(*fields)
        self.body: QVBoxLayout = scrolled_body(self)
        self.status = status_line(self)
        self.follow_layers(lambda *_: watch_mask_edits(self.viewer.layers), "inserted")

    def _share_place(self) -> None:
        """Join the tabs of another of these docks in the same area, if one is there.

        napari stacks a new dock under the others: three of these stacked under the Batch segmentation
        dock got about 70 px each, two rows of their controls. Tabbed, they share half the area's height.
        """
        with contextlib.suppress(RuntimeError):  # (deleted meanwhile)
            mine = dock_of(self)
            window = None if mine is None else mine.parentWidget()
            if mine is None or mine.isFloating() or not isinstance(window, QMainWindow):
                return
            area = window.dockWidgetArea(mine)
            others = [dock for dock in window.findChildren(QDockWidget)
                      if dock is not mine and not dock.isFloating() and window.dockWidgetArea(dock) == area
                      and not dock.isHidden() and dock.findChildren(Dock)]
            if others:
                window.tabifyDockWidget(others[-1], mine)
                mine.show()
                mine.raise_()
            # half the area's height for the dock just opened (stacked, napari left it its minimum)
            window.resizeDocks([mine], [max(mine.sizeHint().height(), window.height() // 2)],
                               Qt.Orientation.Vertical)

    def __getattr__(self, name: str) -> Any:
        """A control of :attr:`fields` by its key (only reached when no attribute has that name)."""
        fields = self.__dict__.get("fields")
        if fields is not None and name in fields.widgets:
            return fields[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def busy(self) -> bool:
        """Whether a job of this dock has not ended yet."""
        return self.background.busy

    def add(self, *items: QWidget | QLayout) -> None:
        """Lay out the body: widgets and layouts in order, a stretch below; drop-downs fit 440 px."""
        for item in items:
            self.body.addLayout(item) if isinstance(item, QLayout) else self.body.addWidget(item)
        self.body.addStretch(1)
        compact_combos(self)

    def follow_layers(self, slot: Callable[..., Any], *names: str) -> None:
        """Call ``slot`` now and on the viewer's layer-list events ``names`` while the dock lives."""
        follow(self, layer_list_events(self.viewer, *names), slot)
        slot()

    def layers_of(self, kind: str) -> list[Any]:
        """The viewer's layers of ``kind`` that the docks offer to work on (not placeholders)."""
        return [layer for layer in self.viewer.layers if offered(layer, kind)]

    def layer_named(self, name: str) -> Any:
        """The viewer's layer ``name`` (``None`` when there is none)."""
        return self.viewer.layers[name] if name and name in self.viewer.layers else None

    def run_job(self, fn: Callable[..., Any], *args: Any, say: str = "", failed: str = "failed",
                status: QLabel | None = None, kind: str = "", **options: Any) -> Job:
        """Run ``fn(*args)`` in the background; ``status`` says ``say`` now and ``"<failed>: <error>"``.

        ``kind``: as the dock's one job (:attr:`slot`). ``options`` go to :meth:`._jobs.Background.submit`.
        """
        label = status if status is not None else self.status
        if say:
            label.setText(say)
        options.setdefault("on_error", lambda exc: label.setText(f"{failed}: {self.phrase(exc)}"))
        if kind:
            return self.slot.start(kind, fn, *args, **options)
        options.setdefault("name", f"batchseg-{getattr(fn, '__name__', 'job')}")
        return self.background.submit(fn, *args, **options)

    def refuse(self, why: str, status: QLabel | None = None) -> bool:
        """Say ``why`` nothing starts (in ``status``, else the status line); ``False``."""
        (self.status if status is None else status).setText(why)
        return False

    def update_buttons(self) -> None:
        """Enable the controls as the dock's one job (``slot.kind``) allows."""

    def phrase(self, error: BaseException | str) -> str:
        """An error's text with the command line's options named as this dock's fields."""
        return for_dock(str(error), self.fields.specs)
