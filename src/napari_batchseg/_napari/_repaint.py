"""Napari's window redrawn one turn of the event loop after the widget's layer changes, not in the same turn.

A layer change (``data``, ``scale``, contrast, a slider move, a refresh) costs napari 15-35 ms of work on
the GUI thread, and redrawing the window it leaves dirty costs another 20-70 ms (the canvas through
OpenGL, the Qt widgets around it). Qt handles the posted repaint request before anything else that is
waiting (mouse and keyboard events, timers), so the two form one stall of 50-100 ms. Held back by
:data:`HOLD_MS`, the repaint comes after what was waiting: two shorter stalls, with input handled in
between. Only repaints that arrive while the widget's own layer work runs (or just after it) are held.

napari's canvas (a QOpenGLWidget) is also drawn *at once*, outside any repaint request, whenever its size
changes: a layer change that shows or hides a slider of napari's dims (a file with one frame after a
movie) resizes it once or twice while Qt lays the window out again, right after the change and in a
later pass. Those draws are held too (also in the later pass, within :data:`AFTERMATH_MS`): the canvas
is drawn in the held repaint.

The other way round too: a timer of the widget that falls due during a repaint would start its layer work
right after it, before the mouse, the keyboard and other timers (Qt runs due timers in the order they
fell due). :func:`after_repaint` makes such a callback step aside once, by :data:`HOLD_MS`, when a
repaint of the window began less than :data:`RECENT_MS` ago.

The hold relies on how napari's window repaints (its main window's update requests, its canvas a
QOpenGLWidget): it is used only with the napari versions it was tested with (:data:`NAPARI_MEASURED`:
the oldest napari the project supports, 0.8, through 0.9; ``tests/_napari/test_repaint.py`` checks that
a real napari layer change repaints the main window after due timers when held and before them when not,
in both, via ``scripts/test.sh``); with any other, layer work runs unheld (:func:`hold_supported`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from functools import wraps
from typing import Any, TypeVar, cast

from qtpy.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer
from qtpy.QtWidgets import QWidget

from ..view.repaint_policy import AFTERMATH_MS, HOLD_MS, NAPARI_MEASURED, RECENT_MS, hold_supported

__all__ = ["AFTERMATH_MS", "HOLD_MS", "NAPARI_MEASURED", "RECENT_MS", "RepaintHold", "after_repaint",
           "hold_supported", "holds_repaint", "layer_work", "repaint_hold"]

_NAME = "napari_batchseg_repaint_hold"
#: (time.perf_counter() when the last repaint let through began, how many were let through)
_last_repaint: list[float] = [-1e9, 0.0]

F = TypeVar("F", bound=Callable[..., Any])


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
        """Stop filtering (the window closes).

        No Python filter may run while Qt tears the window down: one called then crashed the process at exit.
        """
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

    def _watch_canvases(self) -> None:
        """Filter the paint events of napari's OpenGL canvas too (found on first use)."""
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


def _top_of(anchor: QObject) -> QObject:
    """The outermost QObject above ``anchor`` (napari's main window for a docked widget, floating or not)."""
    top = anchor
    while True:
        parent = top.parent()
        if not isinstance(parent, QObject):
            return top
        top = parent


def repaint_hold(anchor: QObject | None) -> RepaintHold | None:
    """The :class:`RepaintHold` of the window that holds ``anchor`` (made once); ``None`` without one.

    ``anchor``: a QObject of the widget (the dock widget, or one of its children or helpers parented to
    it); its outermost parent is napari's main window once the widget is docked.
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
    """Context for the widget's changes to napari layers: the repaint they cause is held one turn.

    ``anchor``: see :func:`repaint_hold`.
    """
    hold = repaint_hold(anchor)
    if hold is None:
        yield
        return
    with hold.work():
        yield


def holds_repaint(method: F) -> F:
    """Decorate a method of a QObject of the widget: its layer work's repaint is held one turn.

    Not for slots connected to Qt signals with arguments (the wrapper takes any).
    """

    @wraps(method)
    def held(self: QObject, *args: Any, **kwargs: Any) -> Any:
        with layer_work(self):
            return method(self, *args, **kwargs)

    return cast(F, held)


class _StepAside(QObject):
    """:func:`after_repaint`'s callback: a QObject child of the owner whose slot is a method.

    A Python closure connected to a QTimer was called at teardown while its owner's widget was being
    destroyed and the process crashed in it (SIGSEGV in the closure's frame, issue #20); a bound method
    of a QObject is disconnected by Qt with its object.
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

    It steps aside once per repaint: what fell due meanwhile (input, other timers) goes first. The later
    call is made by a timer of a :class:`_StepAside`, which ``owner`` owns (and keeps alive): none comes
    once ``owner`` is deleted.
    """
    return _StepAside(callback, owner).run
