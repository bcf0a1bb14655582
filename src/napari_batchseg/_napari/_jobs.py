"""The one background pattern of every dock: daemon threads that never touch Qt, results polled.

The threads and their queues are Qt-free (:mod:`napari_batchseg.view.jobs`). A :class:`Background`,
owned by a dock (or a part of it), starts jobs and drains their queues with a QTimer, its child, on
the GUI thread: once the dock is deleted, no callback runs into a deleted object. :func:`close_with`
asks every job to stop when the dock is destroyed (napari closing, :func:`delete_with_dock`).
:class:`RunController` runs the widget's batch this way.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qtpy.QtCore import QEvent, QObject, QTimer, Signal
from qtpy.QtWidgets import QDockWidget, QWidget

from ..errors import describe
from ..params import SegmentationParams
from ..runners import RunOptions
from ..view.dock_jobs import run_events, run_source
from ..view.dock_layers import disconnect
from ..view.jobs import BUDGET_S, Job, JobQueue
from ..view.thread_priority import lower_this_thread
from ._repaint import after_repaint

__all__ = ["BUDGET_S", "GRACE_MS", "POLL_MS", "Background", "Job", "JobSlot", "RunController", "close_all",
           "close_with", "delete_with_dock", "disconnect", "dock_of"]

_log = logging.getLogger(__name__)

POLL_MS = 10
#: after Cancel, the widget waits this long for the run's thread to report its end, then frees itself
GRACE_MS = 400


class Background(QObject):
    """Starts daemon threads and delivers their results on the GUI thread."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.queue = JobQueue()
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(after_repaint(self.deliver, self))

    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        on_item: Callable[[Any], object] | None = None,
        on_done: Callable[[], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        name: str = "batchseg-worker",
        yield_cpu: bool = False,
        pass_job: bool = False,
    ) -> Job:
        """Run ``fn(*args)`` in a daemon thread; a generator's items (or its result) go to ``on_item``.

        ``yield_cpu``: the thread runs below the GUI thread's priority (Linux): for long compute only,
        not for short jobs that hold the GIL (the GUI thread would wait for it). ``pass_job``: ``fn``
        gets ``job=`` the :class:`Job` (:meth:`Job.report`, :attr:`Job.cancel`). After :meth:`close`,
        nothing is started (the job returned has no thread).
        """
        job = self.queue.start(fn, args, Job(name, on_item, on_done, on_error), pass_job,
                               lower_this_thread if yield_cpu else None)
        if job.thread is not None and not self._timer.isActive():
            self._timer.start()
        return job

    @property
    def busy(self) -> bool:
        """Whether some job has not ended yet (its results not all delivered)."""
        return self.queue.busy

    def deliver(self) -> None:
        """Hand queued results to their callbacks, for at most :data:`BUDGET_S` (GUI thread)."""
        self.queue.deliver(BUDGET_S)
        if not self.queue.jobs:
            self._timer.stop()

    def detach(self, job: Job) -> None:
        """Stop delivering ``job``'s results and call its ``on_done`` now (its thread may run on a while)."""
        self.queue.detach(job)

    def close(self) -> None:
        """Deliver nothing more, ask every job to stop (safe twice, and once Qt deleted this object)."""
        self.queue.close()
        with contextlib.suppress(RuntimeError):  # the timer went with its Qt parent
            self._timer.stop()


class JobSlot:
    """The one job at a time of a dock (or a part of it): :attr:`kind` while it runs, ``""`` when none."""

    def __init__(self, background: Background, changed: Callable[[], None]) -> None:
        self.background, self.changed, self.kind = background, changed, ""

    def start(self, kind: str, fn: Callable[..., Any], *args: Any, on_done: Callable[[], None] | None = None,
              **options: Any) -> Job:
        """Submit ``fn(*args)`` as job ``kind``; ``changed()`` runs as it starts and after ``on_done``."""
        self.kind = kind
        self.changed()

        def done() -> None:
            self.kind = ""
            if on_done is not None:
                on_done()
            self.changed()

        options.setdefault("name", f"batchseg-{kind}")
        return self.background.submit(fn, *args, on_done=done, **options)


def close_with(owner: QObject, *closers: Callable[[], None]) -> None:
    """Call every closer (e.g. :meth:`Background.close`) when ``owner`` is destroyed.

    The slot holds the closers, not ``owner`` (deleted by then).
    """
    owner.destroyed.connect(lambda *_: close_all(*closers))


def delete_with_dock(owner: QWidget, docked: Callable[[], None] | None = None) -> None:
    """Delete ``owner`` (so that :func:`close_with` closes it) when the napari dock holding it goes.

    napari's ``remove_dock_widget`` (the dock's × button) deletes only the dock: a widget still
    referenced lived on, its run going on unseen. The dock is looked up the turn after ``owner`` is
    made (napari docks it in the same turn) and, failing that, when shown. ``docked()`` is called the
    turn after the dock is found.
    """
    def watch() -> bool:
        dock = dock_of(owner)
        if dock is not None and not getattr(owner, "_batchseg_dock", None):
            owner._batchseg_dock = dock  # type: ignore[attr-defined]
            dock.destroyed.connect(lambda *_: _delete(owner))
            if docked is not None:
                QTimer.singleShot(0, docked)
        return dock is not None

    class OnShow(QObject):
        def eventFilter(self, obj: QObject | None, event: QEvent | None) -> bool:  # noqa: N802 - Qt
            if event is not None and event.type() == QEvent.Type.Show and watch():
                owner.removeEventFilter(self)
            return False

    def first_turn() -> None:
        with contextlib.suppress(RuntimeError):  # (deleted meanwhile)
            if not watch():
                owner.installEventFilter(OnShow(owner))

    QTimer.singleShot(0, first_turn)


def dock_of(widget: QWidget) -> QDockWidget | None:
    """The dock widget holding ``widget`` (``None``: not docked)."""
    dock = widget.parentWidget()
    while dock is not None and not isinstance(dock, QDockWidget):
        dock = dock.parentWidget()
    return dock


def _delete(owner: QWidget) -> None:
    with contextlib.suppress(RuntimeError):  # deleted with the dock already (napari closing)
        owner.deleteLater()


def close_all(*closers: Callable[[], None]) -> None:
    """Call every closer, each even if one before it raised; raise nothing.

    Closers run from Qt's ``destroyed`` signal, where an escaping exception aborts the process
    (PyQt6), and at that moment anything may be gone: their Qt side (``RuntimeError``) or, when Python
    tears down a script's closed viewer before Qt deletes its docks, the viewer's attributes
    (``AttributeError``). What one raised is logged (debug) and the next runs.
    """
    for close in closers:
        try:
            close()
        except Exception:  # noqa: BLE001 - see above: nothing may escape a closer
            _log.debug("closer %r failed at teardown", close, exc_info=True)


class RunController(QObject):
    """Runs the widget's batch (:func:`napari_batchseg.view.dock_jobs.run_events`) in a thread.

    Signals: ``run_event(Event)``, ``errored(str)``, ``finished()``. After :meth:`cancel`, the thread
    stops its compute within one torch operation (:mod:`napari_batchseg.torch_cancel`) and drops the
    output it was writing; :attr:`compute_alive` says whether it still runs.
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
        self._grace = QTimer(self)
        self._grace.setSingleShot(True)
        self._grace.setInterval(GRACE_MS)
        self._grace.timeout.connect(self._detach)
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
        """Start a batch in a thread: ``paths``, a prepared ``plan``, or ``groups`` with their parameters."""
        if self._job is not None:
            raise RuntimeError("a batch is already running")
        options = RunOptions(parallel=parallel, processes=max(1, processes),
                             segmenter_factory=self.segmenter_factory)
        self.cancel_event = threading.Event()
        source, given = run_source(paths, params, plan, groups)
        job = self.background.submit(  # after a cancelled run whose thread still ends its frame
            run_events, source, given, options, self.cancel_event, self._last_thread,
            on_item=self.run_event.emit, on_error=self._on_error, on_done=self._on_finished,
            name="batchseg-run", yield_cpu=True,
        )
        self._job = job
        self._last_thread = job.thread

    def cancel(self) -> None:
        """Stop the batch; its events are delivered for :data:`GRACE_MS` more, then ``finished`` anyway."""
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
