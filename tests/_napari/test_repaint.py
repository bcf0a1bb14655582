"""The repaint hold: the window's repaint after the widget's layer work waits for what fell due meanwhile."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from qtpy.QtCore import QEvent, QObject, QTimer
from qtpy.QtWidgets import QLabel, QMainWindow, QVBoxLayout, QWidget

from napari_batchseg._napari._repaint import after_repaint, layer_work, repaint_hold


class LoggingWindow(QMainWindow):
    """A main window that logs its repaints (``UpdateRequest``: Qt composes the window)."""

    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self.log = log
        self.composing = False

    def event(self, e: QEvent | None) -> bool:  # noqa: D102 - Qt override
        if e is None or e.type() != QEvent.Type.UpdateRequest:
            return super().event(e)
        self.log.append("repaint")
        self.composing = True
        try:
            return super().event(e)
        finally:
            self.composing = False


def _window(qtbot, log: list[str]) -> tuple[LoggingWindow, QLabel]:
    win = LoggingWindow(log)
    label = QLabel("before")
    win.setCentralWidget(label)
    qtbot.addWidget(win)
    win.resize(300, 200)
    win.show()
    qtbot.waitExposed(win)
    qtbot.wait(50)
    return win, label


def _heavy_work_in_a_timer(qtbot, log: list[str], label: QLabel, held: bool) -> list[str]:
    """A timer callback changes ``label`` and works 30 ms; what the event loop did next, in order."""
    probe = QTimer()
    probe.setInterval(5)
    probe.timeout.connect(lambda: log.append("tick"))
    probe.start()

    def work() -> None:
        if held:
            with layer_work(label):
                label.setText("after")
                time.sleep(0.03)  # the probe falls due meanwhile
        else:
            label.setText("after")
            time.sleep(0.03)
        log.append("work done")

    QTimer.singleShot(20, work)
    qtbot.waitUntil(lambda: "work done" in log and "repaint" in log[log.index("work done"):], timeout=3000)
    probe.stop()
    return log[log.index("work done") + 1:]


def test_repaint_after_layer_work_comes_after_due_timers(qtbot):
    log: list[str] = []
    _, label = _window(qtbot, log)
    after = _heavy_work_in_a_timer(qtbot, log, label, held=True)
    # the probe (waiting since the work began) ticks before the window is composed: two short stalls
    assert "tick" in after and after.index("tick") < after.index("repaint")


def test_without_the_hold_qt_composes_first(qtbot):
    """The control: Qt handles the posted repaint before due timers, so work and repaint form one stall."""
    log: list[str] = []
    _, label = _window(qtbot, log)
    after = _heavy_work_in_a_timer(qtbot, log, label, held=False)
    assert after[0] == "repaint"


def test_held_repaint_is_posted_once_work_ends(qtbot):
    log: list[str] = []
    win, label = _window(qtbot, log)
    hold = repaint_hold(label)
    assert hold is not None and repaint_hold(label) is hold  # one per window
    log.clear()
    with layer_work(label), layer_work(label):  # nested: released once, at the outer end
        label.setText("changed")
        qtbot.wait(20)  # events are handled meanwhile (e.g. a nested event loop): no repaint yet
        assert "repaint" not in log and hold.holding
    assert hold.holding  # until HOLD_MS later
    qtbot.waitUntil(lambda: "repaint" in log, timeout=1000)
    assert not hold.holding
    assert label.grab().width() > 0 and win.isVisible()


def test_timer_callback_steps_aside_once_after_a_repaint(qtbot):
    log: list[str] = []
    _, label = _window(qtbot, log)
    repaint_hold(label)  # watches the window's repaints from now on
    calls: list[float] = []
    callback: Callable[[], None] = after_repaint(lambda: calls.append(time.perf_counter()), label)
    callback()
    assert len(calls) == 1  # no repaint since: at once
    log.clear()
    label.setText("repaint me")
    qtbot.waitUntil(lambda: "repaint" in log, timeout=1000)
    callback()
    assert len(calls) == 1  # a repaint began a moment ago: what fell due meanwhile goes first
    qtbot.waitUntil(lambda: len(calls) == 2, timeout=500)
    callback()
    assert len(calls) == 3  # once per repaint


def test_step_aside_is_dropped_with_its_owner(qtbot):
    """A callback stepping aside for an owner (the widget's result pump) never runs once it is deleted."""
    from qtpy import sip
    from qtpy.QtCore import QObject

    log: list[str] = []
    _, label = _window(qtbot, log)
    repaint_hold(label)
    owner = QObject()
    calls: list[int] = []
    callback = after_repaint(lambda: calls.append(1), owner)
    log.clear()
    label.setText("repaint me")
    qtbot.waitUntil(lambda: "repaint" in log, timeout=1000)
    callback()  # steps aside: due HOLD_MS later, by a timer the owner owns
    sip.delete(owner)
    qtbot.wait(30)
    assert calls == []


def test_no_window_no_hold():
    assert repaint_hold(None) is None
    with layer_work(None):
        pass


def _gl_widget_class():
    try:
        from qtpy.QtOpenGLWidgets import QOpenGLWidget
    except ImportError:  # pragma: no cover - depends on the Qt build
        pytest.skip("no QOpenGLWidget")

    class Canvas(QOpenGLWidget):
        def __init__(self, win: LoggingWindow) -> None:
            super().__init__()
            self.win = win
            self.draws: list[bool] = []  # one per draw: was it inside a composition of the window?

        def paintGL(self) -> None:  # noqa: N802 - Qt override
            self.draws.append(self.win.composing)

    return Canvas


@pytest.mark.parametrize("held", [True, False])
def test_canvas_resized_by_layer_work_is_drawn_in_the_repaint(qtbot, held):
    """napari's canvas (a QOpenGLWidget) draws at once when resized; held, it draws in the repaint."""
    canvas_class = _gl_widget_class()
    log: list[str] = []
    win = LoggingWindow(log)
    central = QWidget()
    lay = QVBoxLayout(central)
    bar = QLabel("slider")
    canvas = canvas_class(win)
    lay.addWidget(canvas, 1)
    lay.addWidget(bar)
    win.setCentralWidget(central)
    qtbot.addWidget(win)
    win.resize(300, 300)
    win.show()
    qtbot.waitExposed(win)
    qtbot.wait(100)
    if not canvas.isValid():
        pytest.skip("no OpenGL context on this platform")
    repaint_hold(bar)
    canvas.draws.clear()
    height = canvas.height()
    if held:
        with layer_work(bar):
            bar.setFixedHeight(60)  # like napari's dims slider appearing: the canvas shrinks
    else:
        bar.setFixedHeight(60)
    qtbot.waitUntil(lambda: canvas.height() < height and bool(canvas.draws), timeout=2000)
    qtbot.wait(50)
    if held:
        assert canvas.draws and all(canvas.draws)  # only inside the window's repaint
    else:
        assert not all(canvas.draws)  # the control: drawn during the resize itself


@pytest.mark.skipif(not os.environ.get("DISPLAY") or os.environ.get("QT_QPA_PLATFORM") != "offscreen",
                    reason="needs an X display (xvfb-run), while this process runs Qt offscreen")
def test_canvas_draws_under_a_display():
    """Qt's offscreen platform has no OpenGL and orders a window's repaint after due timers: the canvas
    tests and the no-hold control run again in a process on the X display."""
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb"}
    tests = [f"{Path(__file__)}::test_canvas_resized_by_layer_work_is_drawn_in_the_repaint",
             f"{Path(__file__)}::test_napari_layer_change_repaints_its_window_after_due_timers[False]"]
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "3 passed" in done.stdout, done.stdout[-3000:] + done.stderr[-2000:]


@pytest.mark.parametrize("floating", [False, True])
def test_hold_is_on_napari_main_window_docked_or_floating(make_napari_viewer, qtbot, floating):
    viewer = make_napari_viewer()
    panel = QLabel("a plugin's widget")
    dock = viewer.window.add_dock_widget(panel, name="test panel", area="right")
    dock.setFloating(floating)
    qtbot.wait(20)
    hold = repaint_hold(panel)
    assert hold is not None and hold.parent() is viewer.window._qt_window


def test_hold_lets_go_of_a_closing_window(qtbot):
    """No Python filter may run while Qt tears a closed window down (a filter then crashed napari at exit)."""
    log: list[str] = []
    win, label = _window(qtbot, log)
    hold = repaint_hold(label)
    assert hold is not None and hold.attached
    win.close()
    assert not hold.attached
    with layer_work(label):  # the window stays (its close was refused, or it is shown again): held again
        assert hold.attached and hold.holding


def test_window_closed_during_work_leaves_the_hold_working(qtbot):
    log: list[str] = []
    win, label = _window(qtbot, log)
    hold = repaint_hold(label)
    assert hold is not None
    with layer_work(label):
        win.close()  # e.g. from a nested event loop inside the work
        assert not hold.attached and hold.holding
    qtbot.waitUntil(lambda: not hold.holding, timeout=1000)
    win.show()
    with layer_work(label):
        assert hold.attached and hold.holding  # held again, and released again after
    qtbot.waitUntil(lambda: not hold.holding, timeout=1000)


def test_hold_only_with_the_napari_versions_it_was_measured_with(qtbot, monkeypatch):
    """The hold filters napari's window events: with a napari outside the measured versions, layer work
    runs unheld (the window composes first, as without the hold)."""
    import napari

    from napari_batchseg._napari import _repaint

    assert _repaint.hold_supported(napari.__version__)  # the napari the tests run with
    assert not _repaint.hold_supported("0.7.1") and not _repaint.hold_supported("0.10.0")
    assert _repaint.hold_supported("0.8.0") and _repaint.hold_supported("0.9.2rc1")
    log: list[str] = []
    _win, label = _window(qtbot, log)
    monkeypatch.setattr(_repaint, "hold_supported", lambda: False)
    assert repaint_hold(label) is None
    assert _heavy_work_in_a_timer(qtbot, log, label, held=True)[0] == "repaint"


class _RepaintSpy(QObject):
    """Logs the repaints of a window that reach it (made before the hold: sees only those let through)."""

    def __init__(self, window: QObject, log: list[str]) -> None:
        super().__init__(window)
        self.window, self.log = window, log
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject | None, event: QEvent | None) -> bool:  # noqa: N802 - Qt override
        if watched is self.window and event is not None and event.type() == QEvent.Type.UpdateRequest:
            self.log.append("repaint")
        return False


@pytest.mark.parametrize("held", [True, False])
def test_napari_layer_change_repaints_its_window_after_due_timers(make_napari_viewer, qtbot, held):
    """What the hold relies on, with the napari installed (run with the oldest and the newest supported):
    a layer change repaints napari's main window through an update request, which the hold defers past
    what fell due meanwhile; without the hold, Qt composes the window first."""
    import numpy as np

    from napari_batchseg._napari import _repaint

    if not held and os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        pytest.skip("the control needs a window system: Qt's offscreen platform repaints after due timers "
                    "(run again on the X display by test_canvas_draws_under_a_display)")
    viewer = make_napari_viewer(show=True)
    layer = viewer.add_image(np.zeros((64, 64), np.float32))
    panel = QLabel("a plugin's widget")
    viewer.window.add_dock_widget(panel, name="test panel", area="right")
    window = viewer.window._qt_window
    qtbot.waitExposed(window)
    qtbot.wait(100)
    log: list[str] = []
    spy = _RepaintSpy(window, log)
    if held:
        hold = repaint_hold(panel)
        assert hold is not None and hold.parent() is window  # this napari is one the hold supports
    else:
        assert _repaint.hold_supported()
    rng = np.random.default_rng(0)
    probe = QTimer()
    probe.setInterval(5)
    probe.timeout.connect(lambda: log.append("tick"))

    def work() -> None:
        with layer_work(panel if held else None):
            layer.data = rng.random((64, 64), np.float32)
            time.sleep(0.03)  # the probe falls due meanwhile
        log.append("work done")

    def after_work() -> list[str]:  # what the event loop did after the layer change, in order
        log.clear()
        probe.start()
        QTimer.singleShot(20, work)
        qtbot.waitUntil(lambda: "work done" in log and "repaint" in log[log.index("work done"):],
                        timeout=3000)
        probe.stop()
        return log[log.index("work done") + 1:]

    if held:  # the hold: always
        after = after_work()
        assert "tick" in after and after.index("tick") < after.index("repaint")
    else:  # the control, Qt's own order: on a loaded machine a due timer can come first now and then, so
        # it is shown by one of three tries (CI failed 2 of 6 single tries at load 5-7 on 2 cores)
        tries = [after_work() for _ in range(3)]
        assert any(after[0] == "repaint" for after in tries), tries
    spy.deleteLater()
