"""Background jobs without Qt: daemon threads that only put items on a queue, handed over by the GUI.

Every job of the plugin (segment, reopen, measure, export, evaluate, train, save a correction, metadata)
runs this way:

* a :class:`JobQueue` starts a daemon thread per job; the thread only puts items on a
  :class:`queue.SimpleQueue` (its results, its progress through :meth:`Job.report`, its error, its
  end). It never emits a signal nor calls a Qt object: when napari closes while it runs, there is
  nothing for it to emit into.
* :meth:`JobQueue.deliver`, called on the GUI thread (by the timer of ``_napari._jobs.Background``,
  owned by the dock), drains the queues for a few milliseconds and calls the job's callbacks there;
  :meth:`JobQueue.close` (when the dock is destroyed) asks every job to stop (:attr:`Job.cancel`) and
  drops its callbacks: nothing runs into a deleted object.
* at interpreter exit, jobs still running are asked to stop and waited for a little
  (:data:`EXIT_WAIT_S`), so that a thread inside torch or writing a file is not frozen half-way while
  Python shuts down (its atomic write finishes or is dropped, never left half-written).
"""

from __future__ import annotations

import atexit
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..torch_cancel import RunCancelled

#: the GUI thread spends at most this long per call of :meth:`JobQueue.deliver` handing results over
BUDGET_S = 0.006
#: at interpreter exit, how long in all the jobs still running are waited for after being cancelled. A
#: daemon thread still inside C++ code when Python finalizes (torch's import in the device probe, a
#: torch operation) aborts the process ("terminate called without an active exception"): the import of
#: torch and Cellpose takes 10-20 s on a loaded 2-core machine and over 30 s at load average 16 (the crash
#: harness saw a training job still importing after a 30 s wait abort the process), so the wait covers that.
#: A job that honours its cancel event ends well before; only an import or a C++ call can take this long
EXIT_WAIT_S = 120.0

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
             before: Callable[[], object] | None) -> None:
    if before is not None:
        before()  # e.g. lower this thread's priority
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


class JobQueue:
    """Jobs started in daemon threads whose items :meth:`deliver` hands to their callbacks."""

    def __init__(self) -> None:
        self.jobs: list[Job] = []
        self.closed = False

    def start(self, fn: Callable[..., Any], args: tuple[Any, ...], job: Job, pass_job: bool = False,
              before: Callable[[], object] | None = None) -> Job:
        """Run ``fn(*args)`` for ``job`` in a daemon thread (``job=job`` too when ``pass_job``).

        A generator's items, or the result when not ``None``, go to ``job.on_item``; ``before`` runs
        first in the thread. After :meth:`close`, nothing is started (the job has no thread).
        """
        if self.closed:
            return job
        kwargs = {"job": job} if pass_job else {}
        job.thread = threading.Thread(target=_run_job, args=(job, fn, args, kwargs, before), name=job.name,
                                      daemon=True)
        self.jobs.append(job)
        with _RUNNING_LOCK:
            _RUNNING.add(job)
        job.thread.start()
        return job

    @property
    def busy(self) -> bool:
        """Whether some job has not ended yet (its results not all delivered)."""
        return any(not j.ended for j in self.jobs)

    def deliver(self, budget_s: float = BUDGET_S) -> None:
        """Hand queued results to their callbacks, for at most ``budget_s`` (GUI thread)."""
        deadline = time.perf_counter() + budget_s
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
        """Deliver nothing more, ask every job to stop; threads end on their own (they are daemons)."""
        self.closed = True
        for job in self.jobs:
            job.cancel.set()
            job.on_item = job.on_done = job.on_error = None
        self.jobs.clear()


def stop_running_jobs(wait_s: float = EXIT_WAIT_S) -> list[str]:
    """At exit: cancel the jobs still running and wait for them (at most ``wait_s`` in all).

    Returns the names of those still running after the wait (also said on stderr).
    """
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
    return left


atexit.register(stop_running_jobs)
