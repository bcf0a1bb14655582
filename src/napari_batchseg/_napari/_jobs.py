"""The one background pattern of every dock: daemon threads that never touch Qt, results polled.

The threads and their queues are Qt-free (:mod:`napari_batchseg.view.jobs`: what a job may do, and the
wait for running jobs at interpreter exit). Here:

* a :class:`Background` (a QObject owned by the dock, or by a part of it) starts the jobs and drains
  their queues with a QTimer on the GUI thread, a few milliseconds per tick, calling the job's
  callbacks there. The timer is the Background's child: once the dock is deleted, no tick comes and no
  callback runs into a deleted object.
* :func:`close_with` ties Backgrounds (and any other closer) to the dock's ``destroyed`` signal: when
  napari closes or the dock is removed (:func:`delete_with_dock`), every job is asked to stop
  (:attr:`Job.cancel`) and is delivered nothing more.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Any

from qtpy.QtCore import QEvent, QObject, QTimer
from qtpy.QtWidgets import QDockWidget, QWidget

from ..view.jobs import BUDGET_S, Job, JobQueue
from ..view.thread_priority import lower_this_thread
from ._repaint import after_repaint

__all__ = ["BUDGET_S", "POLL_MS", "Background", "Job", "JobSlot", "close_all", "close_with",
           "delete_with_dock", "disconnect"]

POLL_MS = 10


class Background(QObject):
    """Starts daemon threads and delivers their results on the GUI thread (see the module docstring)."""

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

        ``yield_cpu``: the thread (and what it starts) runs below napari's GUI thread's priority (Linux;
        :mod:`napari_batchseg.view.thread_priority`): for long compute, not for short jobs that hold the GIL
        (the GUI thread would wait for a thread that yields the CPU). ``pass_job``: ``fn`` gets ``job=`` the
        :class:`Job`, to report progress (:meth:`Job.report`) and see :attr:`Job.cancel` (set when the owner
        closes). After :meth:`close`, nothing is started (the job returned has no thread).
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
        """Deliver nothing more, ask every job to stop; threads end on their own (they are daemons).

        Safe when Qt has already deleted this object (the Python side is closed first), and twice.
        """
        self.queue.close()
        with contextlib.suppress(RuntimeError):  # the timer went with its Qt parent
            self._timer.stop()


class JobSlot:
    """The one job at a time of a dock (or a part of it): :attr:`kind` while it runs, ``""`` when none."""

    def __init__(self, background: Background, changed: Callable[[], None]) -> None:
        self.background, self.changed, self.kind = background, changed, ""

    def start(self, kind: str, fn: Callable[..., Any], *args: Any, on_done: Callable[[], None] | None = None,
              **options: Any) -> Job:
        """Submit ``fn(*args)`` as job ``kind`` (``options``: :meth:`Background.submit`'s).

        ``changed()`` (the buttons follow :attr:`kind`) is called when it starts and after ``on_done``.
        """
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

    napari deletes a dock's widget when the viewer closes or the dock is removed. The slot holds the
    closers, not ``owner`` (deleted by then); a closer whose Qt side is already gone still runs its
    Python side (``RuntimeError`` from Qt is ignored).
    """
    owner.destroyed.connect(lambda *_: close_all(*closers))


def delete_with_dock(owner: QWidget) -> None:
    """Delete ``owner`` (so that :func:`close_with` closes it) when the napari dock holding it goes.

    napari's ``remove_dock_widget`` (the dock's × button) takes the widget out of its dock and deletes
    only the dock: a widget still referenced lived on, its run going on unseen. The dock is looked up
    the turn after ``owner`` is made (napari docks it in the same turn) and, failing that, when shown.
    """
    def watch() -> bool:
        dock = owner.parentWidget()
        while dock is not None and not isinstance(dock, QDockWidget):
            dock = dock.parentWidget()
        if dock is not None and not getattr(owner, "_batchseg_dock", None):
            owner._batchseg_dock = dock  # type: ignore[attr-defined]
            dock.destroyed.connect(lambda *_: _delete(owner))
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


def _delete(owner: QWidget) -> None:
    with contextlib.suppress(RuntimeError):  # deleted with the dock already (napari closing)
        owner.deleteLater()


def close_all(*closers: Callable[[], None]) -> None:
    """Call every closer, each even if one before it found its Qt side deleted."""
    for close in closers:
        with contextlib.suppress(RuntimeError):
            close()


def disconnect(events: Iterable[Any], *slots: Callable[..., Any]) -> None:
    """Disconnect ``slots`` from napari ``events`` (a closer: the dock no longer follows the viewer)."""
    for event in events:
        for slot in slots:
            with contextlib.suppress(Exception):  # never connected, or the viewer is gone already
                event.disconnect(slot)
