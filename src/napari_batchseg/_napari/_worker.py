"""Background work for the widget: plain daemon threads whose results reach the GUI thread by polling.

Why not Qt worker objects: a superqt/Qt worker emits its signals from its thread; when napari closes
while it still runs (the dock widget and the worker's signal object are deleted), that emit aborts the
process. Here a worker thread never touches a Qt object: it only puts items on a :class:`queue.Queue`.
A :class:`Background` (a QObject owned by the widget) drains the queues with a QTimer on the GUI thread,
a few milliseconds at a time, and calls the callbacks. When the widget goes away, so does the timer;
the threads finish on their own (or stop at once when cancelled) and nothing is delivered anywhere.

:class:`RunController` runs :func:`napari_batchseg.runners.execute` this way. Cancelling stops the
compute inside a frame (within the network's layers and Cellpose's flow dynamics, see
:func:`torch_cancellation`), and the output being written is dropped, as on any cancel.
"""

from __future__ import annotations

import contextlib
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qtpy.QtCore import QObject, QTimer, Signal

from ..events import Event
from ..params import SegmentationParams
from ..runners import RunOptions, execute
from ._priority import lower_this_thread
from ._repaint import after_repaint

#: the GUI thread spends at most this long per timer tick handing results over
BUDGET_S = 0.006
POLL_MS = 10
#: after Cancel, the widget waits this long for the run's thread to report its end, then frees itself
GRACE_MS = 400


class RunCancelled(BaseException):  # noqa: N818 - a control-flow signal, like GeneratorExit
    """Raised inside the compute of a cancelled run (not an ``Exception``: nothing may swallow it)."""


@dataclass
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


_DONE = "done"
_ITEM = "item"
_ERROR = "error"


def _run_job(job: Job, fn: Callable[..., Any], args: tuple[Any, ...], yield_cpu: bool = False) -> None:
    if yield_cpu:
        lower_this_thread()  # the GUI thread goes first when the cores are busy
    try:
        result = fn(*args)
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
    ) -> Job:
        """Run ``fn(*args)`` in a daemon thread; a generator's items (or its result) go to ``on_item``.

        ``yield_cpu``: the thread (and the threads and processes it starts) runs at a lower priority than
        napari's GUI thread (Linux; see :mod:`._priority`): for long compute, not for short jobs that
        hold the GIL (a GUI thread waiting for the GIL would wait for a thread that yields the CPU).
        """
        job = Job(name, on_item, on_done, on_error)
        if self._closed:
            return job
        job.thread = threading.Thread(target=_run_job, args=(job, fn, args, yield_cpu), name=name,
                                      daemon=True)
        self.jobs.append(job)
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
        """Deliver nothing more, ask every job to stop; threads end on their own (they are daemons)."""
        self._closed = True
        self._timer.stop()
        for job in self.jobs:
            job.cancel.set()
            job.on_item = job.on_done = job.on_error = None
        self.jobs.clear()


# --------------------------------------------------------------------------- cancelling compute
@contextlib.contextmanager
def torch_cancellation(cancel: threading.Event) -> Iterator[None]:
    """While active in this thread, every torch call raises :class:`RunCancelled` once ``cancel`` is set.

    A torch function mode is thread-local: only the compute of this thread is affected, and it only
    checks a flag before calling the function unchanged (the results are identical). It covers the
    network's layers (Cellpose runs them tile batch by tile batch) and Cellpose's flow dynamics, so a
    frame stops within one torch operation instead of at its end.
    """
    if "torch" not in sys.modules:  # never import torch here (the model loader does)
        yield
        return
    # torch may still be initialising in another thread (the widget's device detection): ``import
    # torch`` waits for it to finish; importing a submodule of a half-initialised torch instead breaks
    # that other import (ImportError there, KeyError: 'torch' here)
    import torch  # noqa: F401
    from torch.overrides import TorchFunctionMode

    class _CancelMode(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            if cancel.is_set():
                raise RunCancelled
            return func(*args, **(kwargs or {}))

    with _CancelMode():
        yield


def _events(paths: list[Path], params: SegmentationParams, options: RunOptions,
            cancel: threading.Event, plan: Any = None) -> Iterator[Event]:
    """The run's events, with the prepared images attached to frames for display.

    Once the model is loaded (torch imported), the rest of the run happens under
    :func:`torch_cancellation`.
    """
    if plan is not None:
        stream = execute(plan, options, cancel=cancel, keep_images=True)
    else:
        stream = execute(paths, options, params=params, cancel=cancel, keep_images=True)
    guard: contextlib.ExitStack | None = None
    try:
        for ev in stream:
            yield ev
            if guard is None and "torch" in sys.modules:
                guard = contextlib.ExitStack()
                guard.enter_context(torch_cancellation(cancel))
    finally:
        stream.close()
        if guard is not None:
            guard.close()


def _grouped_events(groups: list[tuple[list[Path], SegmentationParams]], options: RunOptions,
                    cancel: threading.Event) -> Iterator[Event]:
    """One run over groups of files that need different parameters (per-file axes of ambiguous files).

    Each group is planned and run by :func:`execute` with its own parameters, so each output's log
    records the axes its file was read with; the groups are announced as one :class:`Planned` (one
    table, one progress bar). Outputs colliding across groups stop the run before any work.
    """
    from ..engine import plan as make_plan
    from ..errors import BatchSegError
    from ..events import Plan, Planned, RunFailed
    from ..io.naming import check_collisions
    from ..params import ParameterError

    plans = []
    try:
        for files, params in groups:
            plans.append(make_plan(files, params))
        check_collisions((t.input, t.names) for p in plans for t in p.tasks)
    except (BatchSegError, ParameterError) as exc:
        yield RunFailed(str(exc), exc)
        return
    yield Planned(Plan(plans[0].params, [t for p in plans for t in p.tasks]), ())
    for one in plans:
        for ev in _events([], one.params, options, cancel, one):
            if not isinstance(ev, Planned):
                yield ev


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
        """Start a batch in a thread.

        The batch is ``paths``, a prepared :class:`~napari_batchseg.events.Plan`, or ``groups`` of
        files each with their own parameters (see :func:`_grouped_events`).
        """
        if self._job is not None:
            raise RuntimeError("a batch is already running")
        options = RunOptions(parallel=parallel, processes=max(1, processes),
                             segmenter_factory=self.segmenter_factory)
        self.cancel_event = threading.Event()
        work: tuple[Any, ...] = ((_grouped_events, groups, options, self.cancel_event) if groups else
                                 (_events, list(paths), params, options, self.cancel_event, plan))
        job = self.background.submit(
            *work,
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
        self.errored.emit(f"{type(exc).__name__}: {exc}")

    def _on_finished(self) -> None:
        self._grace.stop()
        self._job = None
        self.finished.emit()
