"""Napari's window redrawn one turn of the event loop after the widget's layer changes, not in the same turn.

A layer change costs napari 15-35 ms on the GUI thread and the repaint it leaves dirty 20-70 ms more; Qt
handles a posted repaint before waiting input and timers, so the two form one stall of 50-100 ms. Held
back by :data:`HOLD_MS`, the repaint comes after what was waiting: two shorter stalls, input handled in
between. Only repaints that arrive during (or just after) the widget's own layer work are held, and so
are the draws of napari's canvas (a QOpenGLWidget, drawn at once when resized, e.g. when a dims slider
appears; also in a later layout pass, within :data:`AFTERMATH_MS`).

The other way round, :func:`after_repaint` makes a timer callback step aside once, by :data:`HOLD_MS`,
when a repaint began less than :data:`RECENT_MS` ago: else its layer work would run before the input.

The hold relies on how napari's window repaints: it is used only with the napari versions
``tests/_napari/test_repaint.py`` checks (``NAPARI_MEASURED``, via ``scripts/test.sh``); with any other,
layer work runs unheld (:func:`~napari_batchseg.view.repaint_policy.hold_supported`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

from qtpy.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer
from qtpy.QtWidgets import QWidget

from ..view.repaint_policy import AFTERMATH_MS, HOLD_MS, RECENT_MS, hold_supported, within

__all__ = ["RepaintHold", "after_repaint", "holds_repaint", "layer_work", "repaint_hold"]

_NAME = "napari_batchseg_repaint_hold"
#: (time.perf_counter() when the last repaint let through began, how many were let through)
_last_repaint: list[float] = [-1e9, 0.0]



class RepaintHold(QObject):
    """Holds the repaint requests of one window while layer work runs, and posts one just after it."""

    def __init__(self, window: QObject) -> None:
        super().__init__(window)
        self.setObjectName(_NAME)
        self._window = window
        self._depth = 0  # nested work
        self._releasing = False  # work ended: the release timer is due
        self._held = False  # a repaint request arrived meanwhile
        self._canvases: list[QWidget] | None = None  # napari's OpenGL canvas (found on first use)
        self._unpainted: list[QObject] = []  # canvases whose draw was held
        self._ended = -1e9  # time.perf_counter() when layer work last ended
        self._attached = False
        self.attach()

    def attach(self) -> None:
        """Filter the window's events (again, after :meth:`detach`)."""
        if self._attached:
            return
        self._attached = True
        self._window.installEventFilter(self)
        for canvas in self._canvases or []:
            with contextlib.suppress(RuntimeError):
                canvas.installEventFilter(self)

    def detach(self) -> None:
        """Stop filtering (the window closes): a Python filter called during Qt's teardown crashed at exit."""
        if not self._attached:
            return
        self._attached = False
        for obj in [self._window, *(self._canvases or [])]:
            with contextlib.suppress(RuntimeError):
                obj.removeEventFilter(self)
        self._held, self._unpainted = False, []  # the depth stays: work still running ends as it began

    @property
    def attached(self) -> bool:
        """The hold filters its window's events (not after the window's close, until the next work)."""
        return self._attached

    @property
    def holding(self) -> bool:
        """Repaint requests of the window are held now."""
        return self._depth > 0 or self._releasing

    def eventFilter(self, watched: QObject | None, event: QEvent | None) -> bool:  # noqa: N802 - Qt override
        if event is None:
            return False
        kind = event.type()
        if kind == QEvent.Type.Close and watched is self._window:
            self.detach()  # work after a close that was refused attaches it again
            return False
        if kind == QEvent.Type.UpdateRequest:
            if self.holding:
                self._held = True
                return True
            _last_repaint[0] = time.perf_counter()
            _last_repaint[1] += 1
        elif kind == QEvent.Type.Resize and watched not in (None, self._window) and not self.holding:
            if (time.perf_counter() - self._ended) * 1000 < AFTERMATH_MS:
                self._begin_release()  # a late layout pass of the widget's change: its draw joins the repaint
        elif kind == QEvent.Type.Paint and self.holding and watched not in (None, self._window):
            if not any(watched is c for c in self._unpainted):  # a canvas drawn at once (resized)
                self._unpainted.append(watched)
            return True
        return False

    def _watch_canvases(self) -> None:  # napari's OpenGL canvas too (found on first use)
        if self._canvases is not None or not isinstance(self._window, QWidget):
            return
        from qtpy.QtOpenGLWidgets import QOpenGLWidget  # qtpy maps it to QtWidgets on Qt 5
        self._canvases = [c for c in self._window.findChildren(QOpenGLWidget) if isinstance(c, QWidget)]
        if self._attached:
            for canvas in self._canvases:
                canvas.installEventFilter(self)

    @contextlib.contextmanager
    def work(self) -> Iterator[None]:
        """Run layer work: the window's repaint it causes comes one turn of the event loop later."""
        self.attach()
        self._watch_canvases()
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                self._ended = time.perf_counter()
                self._begin_release()

    def _begin_release(self) -> None:
        if not self._releasing:
            self._releasing = True
            QTimer.singleShot(HOLD_MS, self._release)

    def _release(self) -> None:
        self._releasing = False
        if self._depth:
            return  # work began again meanwhile: its own end releases
        unpainted, self._unpainted = self._unpainted, []
        for canvas in unpainted:
            with contextlib.suppress(RuntimeError):  # deleted meanwhile
                if isinstance(canvas, QWidget):
                    canvas.update()  # drawn in the window's next repaint
        if self._held:
            self._held = False
            QCoreApplication.postEvent(self._window, QEvent(QEvent.Type.UpdateRequest))


def _top_of(anchor: QObject) -> QObject:  # napari's main window for a docked widget, floating or not
    top = anchor
    while True:
        parent = top.parent()
        if not isinstance(parent, QObject):
            return top
        top = parent


def repaint_hold(anchor: QObject | None) -> RepaintHold | None:
    """The :class:`RepaintHold` of the window that holds ``anchor``, a QObject of the widget (made once).

    ``None`` without a window (the widget is not docked) or without hold support.
    """
    if anchor is None or not hold_supported():
        return None
    try:
        window = _top_of(anchor)
        if not isinstance(window, QWidget):
            return None
        found = window.findChild(RepaintHold, _NAME, Qt.FindChildOption.FindDirectChildrenOnly)
    except RuntimeError:  # deleted meanwhile
        return None
    return found if isinstance(found, RepaintHold) else RepaintHold(window)


@contextlib.contextmanager
def layer_work(anchor: QObject | None) -> Iterator[None]:
    """Context for the widget's changes to napari layers: the repaint they cause is held one turn."""
    hold = repaint_hold(anchor)
    if hold is None:
        yield
        return
    with hold.work():
        yield


#: decorates a method of a QObject of the widget: its layer work's repaint is held one turn (not for slots
#: connected to Qt signals with arguments: the wrapper takes any)
holds_repaint = within(layer_work)


class _StepAside(QObject):
    """:func:`after_repaint`'s callback: a QObject child of the owner whose slot is a method.

    A closure connected to a QTimer was called while its owner was being destroyed and crashed the
    process (issue #20); a bound method of a QObject is disconnected by Qt with its object.
    """

    def __init__(self, callback: Callable[[], object], owner: QObject) -> None:
        super().__init__(owner)
        self._callback = callback
        self._seen = _last_repaint[1]
        self._hop = QTimer(self)  # the later call: none comes once the owner is deleted
        self._hop.setSingleShot(True)
        self._hop.setInterval(HOLD_MS)
        self._hop.timeout.connect(self.run)

    def run(self) -> None:
        """Call back now, or step aside once when a repaint began less than :data:`RECENT_MS` ago."""
        count = _last_repaint[1]
        if count != self._seen and (time.perf_counter() - _last_repaint[0]) * 1000 < RECENT_MS:
            self._seen = count
            self._hop.start()
            return
        self._seen = count
        self._callback()


def after_repaint(callback: Callable[[], object], owner: QObject) -> Callable[[], None]:
    """``callback`` for a timer: run now, or :data:`HOLD_MS` later when a repaint may have just ended.

    It steps aside once per repaint: what fell due meanwhile goes first. No call comes once ``owner``
    (which keeps the :class:`_StepAside` alive) is deleted.
    """
    return _StepAside(callback, owner).run
