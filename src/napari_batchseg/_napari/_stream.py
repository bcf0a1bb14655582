"""The layer streamer's napari side (:class:`napari_batchseg.view.streamer.Streamer`): its one timer.

The Qt-free :class:`~napari_batchseg.live.LiveModel` says when to come back (:meth:`LiveModel.next_due`)
and what to do then (:meth:`LiveModel.take`); :class:`LiveScheduler` hands each command to the handler
registered for its type. Each turn's layer work holds the window's repaint one turn, and the timer steps
aside once after a repaint (:mod:`._repaint`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from qtpy.QtCore import QObject, QTimer, Signal

from ..live import Command, LiveModel, MoveSlider, Refresh
from ..view.streamer import Streamer
from ._jobs import Background
from ._repaint import after_repaint, layer_work

__all__ = ["LayerStreamer", "LiveScheduler"]


class LayerStreamer(Streamer):
    """The widget's layer streamer: its timer (a :class:`LiveScheduler`, child of ``parent``) and threads.

    Not a QObject itself: its Qt objects are deleted with ``parent`` (the widget).
    """

    background: Background

    def __init__(self, viewer: Any, parent: QObject | None = None) -> None:
        live = LiveModel()
        scheduler = LiveScheduler(live, parent)
        self.refreshed = scheduler.refreshed  #: the scheduler's signal, as ``message`` is
        super().__init__(viewer, live, scheduler, Background(scheduler), scheduler.message,
                         lambda: layer_work(scheduler))

    def close(self) -> None:
        """Stop following the viewer (the widget is closing); placeholder layers no output took go."""
        self.background.close()
        super().close()


class LiveScheduler(QObject):
    """Applies the live model's commands when they are due (the streamer's Qt side, its signals too)."""

    #: a batch of commands moved the slider or refreshed layers (other redraws done now share the window's
    #: next composition)
    refreshed = Signal()
    message = Signal(str)

    def __init__(self, model: LiveModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self._handlers: dict[type, Callable[[Any], None]] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(after_repaint(self._tick, self))

    def on(self, kind: type, handler: Callable[[Any], None]) -> None:
        """Apply commands of type ``kind`` with ``handler``."""
        self._handlers[kind] = handler

    def apply(self, commands: Iterable[Command]) -> None:
        """Apply ``commands`` now (in order), then wait for the next one due."""
        layers = False
        for cmd in commands:
            handler = self._handlers.get(type(cmd))
            if handler is not None:
                handler(cmd)
            layers = layers or isinstance(cmd, (Refresh, MoveSlider))
        if layers:
            self.refreshed.emit()
        self.poke()

    def poke(self) -> None:
        """The model's schedule may have changed: (re)start the timer for its next command."""
        due = self.model.next_due()
        if due is None:
            self._timer.stop()
            return
        wait_ms = max(1, math.ceil((due - self.model.clock()) * 1000))  # not 0: a 0 ms timer is a posted
        if not self._timer.isActive() or self._timer.remainingTime() > wait_ms:  # event, same pass
            self._timer.start(wait_ms)

    def _tick(self) -> None:
        with layer_work(self):
            self.apply(self.model.take())
        if not self._timer.isActive():
            self.poke()

    def close(self) -> None:
        """Apply nothing more (the widget closes)."""
        self.model.close()
        self._timer.stop()
