"""The one background pattern of every dock: daemon threads that never touch Qt, results polled.

Every job of the plugin (segment, reopen, measure, export, evaluate, train, save a correction, metadata)
runs this way:

* a :class:`Background` (a QObject owned by the dock, or by a part of it) starts a daemon thread per
  job; the thread only puts items on a :class:`queue.Queue` (its results, its progress through
  :meth:`Job.report`, its error, its end). It never emits a signal nor calls a Qt object: when napari
  closes while it runs, there is nothing for it to emit into.
* the Background drains the queues with a QTimer on the GUI thread, a few milliseconds per tick, and
  calls the job's callbacks there. The timer is the Background's child: once the dock is deleted, no
  tick comes and no callback runs into a deleted object.
* :func:`close_with` ties Backgrounds (and any other closer) to the dock's ``destroyed`` signal: when
  napari closes or the dock is removed, every job is asked to stop (:attr:`Job.cancel`) and is
  delivered nothing more.
* at interpreter exit, jobs still running are asked to stop and waited for a little
  (:data:`EXIT_WAIT_S`), so that a thread inside torch or writing a file is not frozen half-way while
  Python shuts down (its atomic write finishes or is dropped, never left half-written).
"""

from __future__ import annotations

import atexit
import contextlib
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from qtpy.QtCore import QObject, QTimer

from ..torch_cancel import RunCancelled
from ._priority import lower_this_thread
from ._repaint import after_repaint

__all__ = ["BUDGET_S", "EXIT_WAIT_S", "POLL_MS", "Background", "Job", "close_all", "close_with", "disconnect"]

#: the GUI thread spends at most this long per timer tick handing results over
BUDGET_S = 0.006
POLL_MS = 10
#: at interpreter exit, how long in all the jobs still running are waited for after being cancelled. A
#: daemon thread still inside C++ code when Python finalizes (torch's import in the device probe, a
#: torch operation) aborts the process ("terminate called without an active exception"): the import of
#: torch and Cellpose takes 10-20 s on a loaded 2-core machine, so the wait covers that
EXIT_WAIT_S = 30.0

_DONE = "done"
_ITEM = "item"
_ERROR = "error"


@dataclass(eq=False)
class Job:
    """One function running in a daemon thread; its items are handed to ``on_item`` on the GUI thread."""

    name: str
    on_item: Callable[[Any], object] | None
    on_done: Callable[[], None] | None
    on_error: Callable[[BaseException], None] | None
    cancel: threading.Event = field(default_factory=threading.Event)
    items: queue.SimpleQueue[tuple[str, Any]] = field(default_factory=queue.SimpleQueue)
    thread: threading.Thread | None = None
    ended: bool = False

    @property
    def alive(self) -> bool:
        """Whether the thread still runs."""
        return self.thread is not None and self.thread.is_alive()

    def report(self, item: object) -> None:
        """Hand ``item`` to ``on_item`` on the GUI thread (called from the job's thread, e.g. progress)."""
        self.items.put((_ITEM, item))


#: jobs whose thread may still run (waited for at exit)
_RUNNING: set[Job] = set()
_RUNNING_LOCK = threading.Lock()


def _run_job(job: Job, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
             yield_cpu: bool) -> None:
    if yield_cpu:
        lower_this_thread()  # the GUI thread goes first when the cores are busy
    try:
        result = fn(*args, **kwargs)
        if isinstance(result, Iterator):
            for item in result:
                job.items.put((_ITEM, item))
        elif result is not None:
            job.items.put((_ITEM, result))
    except RunCancelled:
        pass
    except BaseException as exc:  # noqa: BLE001 - handed to the GUI thread
        job.items.put((_ERROR, exc))
    finally:
        job.items.put((_DONE, None))
        with _RUNNING_LOCK:
            _RUNNING.discard(job)


class Background(QObject):
    """Starts daemon threads and delivers their results on the GUI thread (see the module docstring)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs: list[Job] = []
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(after_repaint(self.deliver, self))
        self._closed = False

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

        ``yield_cpu``: the thread (and the threads and processes it starts) runs at a lower priority than
        napari's GUI thread (Linux; see :mod:`._priority`): for long compute, not for short jobs that
        hold the GIL (a GUI thread waiting for the GIL would wait for a thread that yields the CPU).
        ``pass_job``: ``fn`` is called with ``job=`` the :class:`Job`, to report progress
        (:meth:`Job.report`) and to see :attr:`Job.cancel` (set when the owner closes).
        After :meth:`close`, nothing is started (the job returned has no thread).
        """
        job = Job(name, on_item, on_done, on_error)
        if self._closed:
            return job
        kwargs = {"job": job} if pass_job else {}
        job.thread = threading.Thread(target=_run_job, args=(job, fn, args, kwargs, yield_cpu), name=name,
                                      daemon=True)
        self.jobs.append(job)
        with _RUNNING_LOCK:
            _RUNNING.add(job)
        job.thread.start()
        if not self._timer.isActive():
            self._timer.start()
        return job

    @property
    def busy(self) -> bool:
        """Whether some job has not ended yet (its results not all delivered)."""
        return any(not j.ended for j in self.jobs)

    def deliver(self) -> None:
        """Hand queued results to their callbacks, for at most :data:`BUDGET_S` (GUI thread)."""
        deadline = time.perf_counter() + BUDGET_S
        for job in list(self.jobs):
            while not job.ended:
                try:
                    kind, value = job.items.get_nowait()
                except queue.Empty:
                    break
                if kind == _ITEM and job.on_item is not None:
                    job.on_item(value)
                elif kind == _ERROR and job.on_error is not None:
                    job.on_error(value)
                elif kind == _DONE:
                    self._end(job)
                if time.perf_counter() > deadline:
                    return
        if not self.jobs:
            self._timer.stop()

    def detach(self, job: Job) -> None:
        """Stop delivering ``job``'s results and call its ``on_done`` now (its thread may run on a while)."""
        if not job.ended:
            job.cancel.set()
            self._end(job)

    def _end(self, job: Job) -> None:
        job.ended = True
        if job in self.jobs:
            self.jobs.remove(job)
        if job.on_done is not None:
            job.on_done()

    def close(self) -> None:
        """Deliver nothing more, ask every job to stop; threads end on their own (they are daemons).

        Safe when Qt has already deleted this object (the Python side is closed first) and when called
        twice.
        """
        self._closed = True
        for job in self.jobs:
            job.cancel.set()
            job.on_item = job.on_done = job.on_error = None
        self.jobs.clear()
        with contextlib.suppress(RuntimeError):  # the timer went with its Qt parent
            self._timer.stop()


def close_with(owner: QObject, *closers: Callable[[], None]) -> None:
    """Call every closer (e.g. :meth:`Background.close`) when ``owner`` is destroyed.

    napari deletes a dock's widget when the viewer closes or the dock is removed. The slot holds the
    closers, not ``owner`` (deleted by then); a closer whose Qt side is already gone still runs its
    Python side (``RuntimeError`` from Qt is ignored).
    """
    owner.destroyed.connect(lambda *_: close_all(*closers))


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


def _stop_running_jobs(wait_s: float = EXIT_WAIT_S) -> None:
    """At exit: cancel the jobs still running and wait for them (at most ``wait_s`` in all)."""
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for job in running:
        job.cancel.set()
    deadline = time.monotonic() + wait_s
    for job in running:
        if job.thread is not None and job.thread is not threading.current_thread():
            job.thread.join(max(0.0, deadline - time.monotonic()))
    left = [job.name for job in running if job.alive]
    if left:
        print(f"napari-batchseg: {len(left)} job(s) still running at exit after {wait_s:.0f} s: "
              f"{', '.join(left)}", file=sys.stderr, flush=True)


atexit.register(_stop_running_jobs)
