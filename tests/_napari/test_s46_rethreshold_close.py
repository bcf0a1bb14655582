"""Closing the Re-threshold dock while it computes leaves nothing behind (GUI trial 46).

The trial closed the dock (napari's ``remove_dock_widget``, what its × button does) while its preview
said "computing…": the preview job, ending later, added a "Re-threshold preview" layer no dock managed
(opened again, the dock made "Re-threshold preview [1]"), and the jobs computing ahead went on. napari
deletes the dock turns later (never while a script drives Qt with ``processEvents``): the dock stops
when it is taken out, not when deleted.
"""

from __future__ import annotations

import time

import pytest
from qtpy.QtWidgets import QApplication

from napari_batchseg.view.rethreshold import LAYER_NAME

from .test_rethreshold_widget import _dock, kept_logs  # noqa: F401  (a fixture)


def _pump_until(cond, timeout_s: float, must: bool = True) -> None:
    """Drive Qt as a script does (``processEvents``, no event loop) until ``cond()`` (``must``: it came)."""
    end = time.monotonic() + timeout_s
    while not cond() and time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.01)
    assert cond() or not must


@pytest.mark.cp3
def test_closing_the_dock_mid_preview_leaves_no_layer(make_napari_viewer, qtbot, kept_logs) -> None:  # noqa: F811
    viewer, w = _dock(make_napari_viewer)
    qtbot.wait(50)  # the dock is found (the widget is deleted with it)
    w.add_logs([kept_logs[0]])
    job = w._running
    assert job is not None and not job.ended and w.preview_status.text() == "computing…"
    viewer.window.remove_dock_widget(w)
    assert job.cancel.is_set()
    _pump_until(lambda: not job.alive, 120)
    _pump_until(lambda: not job.items.empty(), 5)  # its result waits: never delivered
    _pump_until(lambda: False, 0.3, must=False)  # a few more turns
    assert LAYER_NAME not in viewer.layers and w.last_preview is None
    # opened again: one preview layer, its own name
    w2 = _dock_again(viewer)
    w2.add_logs([kept_logs[0]])
    qtbot.waitUntil(lambda: w2.last_preview is not None, timeout=120000)
    assert [layer.name for layer in viewer.layers] == [LAYER_NAME]


def _dock_again(viewer):
    from napari_batchseg._napari._rethreshold_widget import RethresholdWidget

    w = RethresholdWidget(viewer)
    viewer.window.add_dock_widget(w, name="Re-threshold")
    return w


@pytest.mark.cp3
def test_closing_the_dock_stops_the_jobs_computing_ahead(make_napari_viewer, qtbot, kept_logs) -> None:  # noqa: F811
    viewer, w = _dock(make_napari_viewer)
    w.add_logs([kept_logs[1]])
    preview = w._running
    end = time.monotonic() + 120
    while preview.alive and time.monotonic() < end:  # no Qt turn: its result waits, undelivered
        time.sleep(0.02)
    while w._running is not None and time.monotonic() < end:
        w.background.deliver()  # (what the dock's timer does) shown, then the job computing ahead starts
    assert w.last_preview is not None and w._ahead is not None and LAYER_NAME in viewer.layers
    ahead = w._ahead
    viewer.window.remove_dock_widget(w)
    assert ahead.cancel.is_set()  # it stops after the threshold it computes
    assert LAYER_NAME not in viewer.layers  # the preview shown goes with the dock at once
    _pump_until(lambda: not ahead.alive, 120)
    _pump_until(lambda: False, 0.3, must=False)  # a few more turns
    assert w._ahead is ahead and not w.busy  # its end was not delivered: no job ahead of it started
