"""The widget's run in a background thread (the pattern of every dock: :mod:`._jobs`).

:class:`RunController` runs :func:`napari_batchseg.runners.execute` this way. Cancelling stops the
compute inside a frame (within the network's layers and Cellpose's flow dynamics, see
:func:`napari_batchseg.torch_cancel.torch_cancellation`), and the output being written is dropped, as
on any cancel. What the thread runs is Qt-free: :func:`napari_batchseg.view.dock_jobs.run_events`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qtpy.QtCore import QObject, Signal

from ..errors import describe
from ..params import SegmentationParams
from ..runners import RunOptions
from ..view.dock_jobs import run_events, run_source
from ._jobs import Background, Job
from ._qtutil import single_shot

__all__ = ["GRACE_MS", "RunController"]

#: after Cancel, the widget waits this long for the run's thread to report its end, then frees itself
GRACE_MS = 400


class RunController(QObject):
    """Runs :func:`~napari_batchseg.runners.execute` in a thread; hands its events to the GUI thread.

    Signals: ``run_event(Event)``, ``errored(str)``, ``finished()``. :meth:`cancel` frees the widget at
    once (``finished`` is emitted right away) while the thread stops its compute within one torch
    operation and drops the output it was writing; :attr:`compute_alive` says whether it still runs.
    """

    #: not named ``event``: that would hide ``QObject.event``, which Qt calls (e.g. for child objects)
    run_event = Signal(object)
    finished = Signal()
    errored = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.cancel_event = threading.Event()
        self.background = Background(self)
        self._job: Job | None = None
        self._last_thread: threading.Thread | None = None
        self._grace = single_shot(self, GRACE_MS, self._detach)
        #: replaceable (tests): builds the segmenter (module-level for worker processes)
        self.segmenter_factory: Callable[[SegmentationParams], Any] | None = None

    @property
    def running(self) -> bool:
        """Whether a batch is in progress (from the widget's point of view)."""
        return self._job is not None

    @property
    def compute_alive(self) -> bool:
        """Whether the thread of the last run still runs (e.g. finishing a cancel)."""
        return self._last_thread is not None and self._last_thread.is_alive()

    def start(self, paths: list[Path], params: SegmentationParams, parallel: str = "none",
              processes: int = 1, plan: Any = None,
              groups: list[tuple[list[Path], SegmentationParams]] | None = None) -> None:
        """Start a batch in a thread.

        The batch is ``paths``, a prepared :class:`~napari_batchseg.events.Plan`, or ``groups`` of
        files each with their own parameters (:class:`~napari_batchseg.runners.RunGroup`).
        """
        if self._job is not None:
            raise RuntimeError("a batch is already running")
        options = RunOptions(parallel=parallel, processes=max(1, processes),
                             segmenter_factory=self.segmenter_factory)
        self.cancel_event = threading.Event()
        source, given = run_source(paths, params, plan, groups)
        job = self.background.submit(
            run_events, source, given, options, self.cancel_event,
            on_item=self.run_event.emit, on_error=self._on_error, on_done=self._on_finished,
            name="batchseg-run", yield_cpu=True,
        )
        self._job = job
        self._last_thread = job.thread

    def cancel(self) -> None:
        """Stop the batch: the compute stops within a torch operation (or between frames without torch).

        The run's last events are still delivered if its thread ends within :data:`GRACE_MS`; after
        that the widget is freed anyway (``finished``) and the thread's remaining events are dropped.
        """
        self.cancel_event.set()
        if self._job is not None:
            self._grace.start()

    def _detach(self) -> None:
        if self._job is not None:
            self.background.detach(self._job)

    def close(self) -> None:
        """The widget goes away: stop the run, deliver nothing more."""
        self.cancel_event.set()
        self.background.close()
        self._job = None

    def _on_error(self, exc: BaseException) -> None:
        self.errored.emit(f"{describe(exc)}")

    def _on_finished(self) -> None:
        self._grace.stop()
        self._job = None
        self.finished.emit()
