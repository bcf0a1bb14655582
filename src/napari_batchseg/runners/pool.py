"""Local worker processes: one file per worker (``files``) or the frames of a file spread (``frames``).

Workers are started with the ``spawn`` method (safe with threads, torch and Qt; the same on Linux,
macOS and Windows), cap their compute threads before torch starts, and load the model once each.

``files``: each worker runs :func:`napari_batchseg.engine.run_task` for whole outputs and writes them
itself (same atomic rules as a sequential run); its events stream back through a pipe of its own. The
coordinator hands an output to a worker only when it is idle, so it always knows who does what: a
worker that dies (killed, out of memory) fails only the output it was producing, and a fresh worker
takes its place for the rest. Nothing the workers share holds a lock a dying worker could keep: each
has its own pipe (a ``multiprocessing.Queue`` shared by all of them has one write lock, and a worker
killed while its feeder thread held it blocked every other worker and the run forever), and the stop
flag is a lock-free shared byte.

``frames``: this process reads, prepares and writes (the engine, unchanged); the prepared frames go to
a pool of workers, two per worker in flight, and the results come back in order. A worker that dies
fails the output in progress; the next output starts a fresh pool.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_for_connections
from typing import TYPE_CHECKING, Any

from .. import engine
from ..errors import BatchSegError, ModelError, describe
from ._procs import result_unless_cancelled, stop_pool
from ._worker import (
    build_segmenter,
    die_with_parent,
    for_transport,
    frame_segmenter_for,
    ignore_interrupts,
    limit_threads,
    signals_blocked,
)

if TYPE_CHECKING:
    from ..engine import CancelCheck, Plan, Task, TaskEvent
    from ..params import SegmentationParams
    from ..prepare import PreparedFrame
    from ..segmenters import SegmentOutput
    from .options import RunOptions, SegmenterFactory

_POLL_S = 0.1


# --------------------------------------------------------------------------- worker side
class _StopFlag:
    """A stop flag shared with worker processes, without a lock (one shared byte).

    ``multiprocessing.Event`` takes a lock in :meth:`is_set`: a worker killed while holding it would
    block the coordinator's next check forever.
    """

    def __init__(self, ctx: Any) -> None:
        self._flag = ctx.RawValue(ctypes.c_bool, False)

    def set(self) -> None:
        """Ask every worker to stop (between frames)."""
        self._flag.value = True

    def is_set(self) -> bool:
        """Whether :meth:`set` was called."""
        return bool(self._flag.value)


_state: dict[str, Any] = {}


def _init_worker(params: SegmentationParams, threads: int, factory: SegmenterFactory | None) -> None:
    ignore_interrupts()
    die_with_parent()
    limit_threads(threads)
    _state.update(segmenter=None, error=None)
    try:
        _state["segmenter"] = build_segmenter(params, factory)
        limit_threads(threads)  # again: torch may have been imported by the model only now
    except BaseException as exc:  # noqa: BLE001 - reported by the first job (a failing initializer
        _state["error"] = exc  # would break the whole pool with no message)


def _worker_describe() -> dict[str, Any]:
    if _state.get("error") is not None:
        raise _state["error"]
    described: dict[str, Any] = _state["segmenter"].describe()
    return described


def _files_worker_main(
    wid: int,
    params: SegmentationParams,
    threads: int,
    factory: SegmenterFactory | None,
    inbox: Any,
    outbox: Any,
    stop: _StopFlag,
    keep_arrays: bool,
    batch_frames: int | None,
) -> None:
    """A ``files`` worker: load the model once, then produce the outputs the coordinator sends.

    It dies with the coordinator (:func:`die_with_parent`) and never commits once it is gone.
    """
    ignore_interrupts()
    parent_gone = die_with_parent()

    def cancelled() -> bool:
        return bool(stop.is_set() or parent_gone())

    try:
        limit_threads(threads)
        segmenter = build_segmenter(params, factory)
        limit_threads(threads)
        frame_segmenter = frame_segmenter_for(segmenter, params, batch_frames)
    except BaseException as exc:  # noqa: BLE001 - the coordinator reports it
        ours = isinstance(exc, BatchSegError)  # its whole message is for the user (e.g. an offline recipe)
        outbox.send(("init-error", wid, str(exc) if ours else describe(exc), ours))
        return
    outbox.send(("ready", wid))
    while True:
        item = inbox.get()
        if item is None:
            return
        idx, task = item
        try:
            if stop.is_set():
                outbox.send(("event", wid, idx, engine.TaskCancelled(task)))
            else:
                for event in engine.run_task(
                    task, params, segmenter, cancel=cancelled, keep_images=keep_arrays,
                    frame_segmenter=frame_segmenter,
                ):
                    outbox.send(("event", wid, idx, for_transport(event, keep_arrays)))
        except BaseException as exc:  # noqa: BLE001 - run_task handles input problems; this is a bug
            import traceback

            reason = f"{task.input}: worker error: {describe(exc)}"
            failed = engine.TaskFailed(task, reason, traceback.format_exc())
            outbox.send(("event", wid, idx, failed))
        finally:
            outbox.send(("end", wid, idx))

def _frame_job(image: Any, context: tuple[str, str] | None) -> tuple[SegmentOutput, float]:
    if _state.get("error") is not None:
        raise _state["error"]
    seg = _state["segmenter"]
    if context is not None:
        seg.set_context(*context)
    t0 = time.perf_counter()
    out = seg.segment(image)
    return out, time.perf_counter() - t0


def _new_pool(workers: int, initargs: tuple[Any, ...]) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=mp.get_context("spawn"),
        initializer=_init_worker, initargs=initargs,
    )


# --------------------------------------------------------------------------- files
class _FilesCoordinator:
    """Start and watch ``files`` workers; hand each idle worker the next output; replace dead ones."""

    def __init__(self, plan: Plan, options: RunOptions, todo: list[Task], keep_images: bool) -> None:
        self.ctx = mp.get_context("spawn")
        self.todo = todo
        self.workers = min(options.processes, len(todo))
        self.stop = _StopFlag(self.ctx)
        self.args = (plan.params, options.threads(self.workers), options.segmenter_factory)
        self.keep = keep_images
        self.batch_frames = options.batch_frames
        self.procs: dict[int, Any] = {}
        self.inboxes: dict[int, Any] = {}
        self.outboxes: dict[int, Connection] = {}  # worker -> the read end of its pipe (until it is closed)
        self.idle: list[int] = []
        self.assigned: dict[int, int] = {}  # worker -> output index
        self.finished: set[int] = set()
        self.next = 0
        self._wid = 0
        self.restarts = 0

    def spawn(self) -> None:
        wid = self._wid
        self._wid += 1
        inbox = self.ctx.Queue()
        reader, writer = self.ctx.Pipe(duplex=False)
        proc = self.ctx.Process(
            target=_files_worker_main, name=f"batchseg-files-{wid}", daemon=True,
            args=(wid, *self.args, inbox, writer, self.stop, self.keep, self.batch_frames),
        )
        with signals_blocked():  # a signal to the process group cannot kill it half-started
            proc.start()
        writer.close()  # the worker holds the only write end: its death ends the pipe (EOF)
        self.procs[wid], self.inboxes[wid], self.outboxes[wid] = proc, inbox, reader

    def receive(self, timeout: float) -> list[tuple[Any, ...]]:
        """The messages the workers sent, waiting up to ``timeout`` s for one; each worker's in order.

        A pipe whose worker is gone (or that a dying worker left with half a message) is closed and
        dropped; :meth:`check_workers` then accounts for its worker.
        """
        if not self.outboxes:
            time.sleep(timeout)
            return []
        messages: list[tuple[Any, ...]] = []
        ready = wait_for_connections(list(self.outboxes.values()), timeout)
        for wid, conn in list(self.outboxes.items()):
            if conn not in ready:
                continue
            try:
                messages.append(conn.recv())
            except (EOFError, OSError):
                self.outboxes.pop(wid).close()
        return messages

    def dispatch(self) -> None:
        while self.idle and self.next < len(self.todo) and not self.stop.is_set():
            wid = self.idle.pop()
            self.assigned[wid] = self.next
            self.inboxes[wid].put((self.next, self.todo[self.next]))
            self.next += 1

    @property
    def done(self) -> bool:
        if self.stop.is_set():  # cancelled: wait only for the outputs in progress
            return not self.assigned
        return len(self.finished) >= len(self.todo)

    def handle(self, msg: tuple[Any, ...]) -> Iterator[TaskEvent]:
        kind, wid = msg[0], msg[1]
        if kind == "ready":
            self.idle.append(wid)
        elif kind == "init-error":
            self.stop.set()
            if msg[3]:  # as a run in this process reports it, every line of it
                raise ModelError(msg[2])
            raise RuntimeError(f"cannot load the model in a worker process: {msg[2]}")
        elif kind == "event":
            idx, event = msg[2], msg[3]
            if idx not in self.finished:
                yield event
        elif kind == "end":
            idx = msg[2]
            self.finished.add(idx)
            if self.assigned.get(wid) == idx:
                del self.assigned[wid]
                self.idle.append(wid)

    def check_workers(self) -> Iterator[TaskEvent]:
        dead = [wid for wid, p in self.procs.items() if not p.is_alive()]
        if not dead:
            return
        yield from self.drain(0.3)  # what the dead workers sent before dying
        for wid in dead:
            proc = self.procs.pop(wid)
            self.inboxes.pop(wid).close()
            outbox = self.outboxes.pop(wid, None)  # read up to its end by the drain above
            if outbox is not None:
                outbox.close()
            if wid in self.idle:
                self.idle.remove(wid)
            idx = self.assigned.pop(wid, None)
            if idx is not None and idx not in self.finished:
                self.finished.add(idx)
                task = self.todo[idx]
                yield engine.TaskFailed(
                    task, f"{task.input}: the worker process died while producing this output "
                    f"(exit code {proc.exitcode}; out of memory?)",
                )
            if self.next < len(self.todo) and not self.stop.is_set():
                self.restarts += 1
                if self.restarts > len(self.todo) + self.workers:
                    raise RuntimeError("worker processes keep dying; giving up")
                self.spawn()

    def drain(self, seconds: float) -> Iterator[TaskEvent]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            messages = self.receive(0.02)
            if not messages:
                return
            for msg in messages:
                yield from self.handle(msg)

    def close(self) -> None:
        if not self.done:
            self.stop.set()  # the consumer went away: running outputs stop between frames
        for inbox in self.inboxes.values():
            inbox.put(None)
        deadline = time.monotonic() + 60  # an output in progress stops at its next frame
        while any(p.is_alive() for p in self.procs.values()) and time.monotonic() < deadline:
            self.receive(0.05)  # keep the pipes flowing: a worker cannot exit with unread messages
        for proc in self.procs.values():
            if proc.is_alive():
                proc.kill()  # workers ignore SIGTERM (it is meant for the coordinator)
            proc.join(timeout=5)


def run_files(
    plan: Plan, options: RunOptions, cancel: CancelCheck = None, keep_images: bool = False
) -> Iterator[TaskEvent]:
    """One output per worker process at a time; events stream back as the workers go."""
    todo: list[Task] = []
    for event_or_task in engine.screen_tasks(plan, cancel):
        if isinstance(event_or_task, engine.Task):
            todo.append(event_or_task)
        else:
            yield event_or_task
    if not todo:
        return
    co = _FilesCoordinator(plan, options, todo, keep_images)
    try:
        for _ in range(co.workers):
            co.spawn()
        while not co.done:
            if not co.stop.is_set() and engine.is_cancelled(cancel):
                co.stop.set()
            co.dispatch()
            for msg in co.receive(_POLL_S):
                yield from co.handle(msg)
            yield from co.check_workers()
        for idx in range(co.next, len(todo)):  # cancelled before they were started: say so
            yield engine.TaskCancelled(todo[idx])
    finally:
        co.close()


# --------------------------------------------------------------------------- frames
_CLOSE_GRACE_S = 2.0  # an idle worker leaves at once; one still computing a frame is killed after this


class _StopFrames(Exception):
    """The run was cancelled while waiting on the workers (the pool is closed; nothing more to yield)."""


class PoolFrames:
    """An engine frame segmenter that spreads frames over worker processes, results in order.

    Up to ``2 * processes`` frames are in flight; each worker holds the model. Waits on the workers
    check ``cancel`` every :data:`_POLL_S` seconds, so a cancelled run (first Ctrl-C or SIGTERM) stops
    at once, even inside a long frame: the pool is closed and its workers killed. Workers are started
    with SIGINT/SIGTERM blocked (:func:`~._worker.signals_blocked`): a signal sent to the whole process
    group cannot kill one half-started. A worker that dies fails the output in progress (the other
    workers are killed: :class:`ProcessPoolExecutor` would only send them a SIGTERM they ignore and
    wait for them forever); the next output starts a fresh pool.
    """

    def __init__(self, params: SegmentationParams, options: RunOptions, cancel: CancelCheck = None) -> None:
        self.processes = options.processes
        self.window = 2 * options.processes
        self.cancel = cancel
        self._initargs = (params, options.threads(options.processes), options.segmenter_factory)
        self._pool: ProcessPoolExecutor | None = None
        self._described: dict[str, Any] = {}

    def start(self) -> PoolFrames:
        """Start the workers and check that the model loads (raises its error otherwise).

        When the run is cancelled meanwhile, the workers are stopped and the pool is left closed (the
        engine then reports every output as cancelled).
        """
        self._pool = _new_pool(self.processes, self._initargs)
        try:
            self._described = self._wait(self._submit_to_pool(_worker_describe))
        except _StopFrames:
            self.close()
        except BrokenProcessPool:
            self.close()
            raise ModelError("a worker process died while loading the model (out of memory?)") from None
        except BaseException:
            self.close()  # no workers left behind when the model cannot load
            raise
        return self

    def close(self) -> None:
        """Stop the workers: idle ones leave at once, any still busy are killed; never blocks for long."""
        pool, self._pool = self._pool, None
        if pool is not None:
            stop_pool(pool, grace_s=_CLOSE_GRACE_S)

    def describe(self) -> dict[str, Any]:
        """The workers' segmenter description (for the run log)."""
        return self._described

    def _submit_to_pool(self, fn: Any, *args: Any) -> Future[Any]:
        assert self._pool is not None
        with signals_blocked():  # submit() may start a worker process
            return self._pool.submit(fn, *args)

    def _submit(self, image: Any, context: tuple[str, str]) -> Future[Any]:
        if engine.is_cancelled(self.cancel):
            raise _StopFrames
        if self._pool is None:
            self.start()
            if self._pool is None:  # cancelled while starting
                raise _StopFrames
        try:
            return self._submit_to_pool(_frame_job, image, context)
        except BrokenProcessPool:
            self.close()
            self.start()
            if self._pool is None:
                raise _StopFrames from None
            return self._submit_to_pool(_frame_job, image, context)

    def _wait(self, fut: Future[Any]) -> Any:
        """``fut``'s result, checking ``cancel`` meanwhile: :class:`_StopFrames` once it is set."""
        try:
            return result_unless_cancelled(fut, self.cancel, _StopFrames)
        except BrokenProcessPool:
            time.sleep(_POLL_S)  # a signal to the process group: let this process's handler run first
            if engine.is_cancelled(self.cancel):
                raise _StopFrames from None
            raise

    def _result(
        self, task: Task, item: tuple[PreparedFrame, Future[Any]]
    ) -> tuple[PreparedFrame, SegmentOutput, float]:
        frame, fut = item
        try:
            out, seconds = self._wait(fut)
        except BrokenProcessPool:
            self.close()  # the next task starts a fresh pool
            raise BatchSegError(
                f"{task.input}: a worker process died while segmenting frame t={frame.t} "
                "(out of memory?); the next output starts fresh workers"
            ) from None
        return frame, out, seconds

    def __call__(
        self, task: Task, frames: Iterable[PreparedFrame]
    ) -> Iterator[tuple[PreparedFrame, SegmentOutput, float]]:
        """Segment ``frames`` on the workers; yield ``(frame, output, seconds)`` in order.

        Stops early (the engine then cancels the output) when the run is cancelled.
        """
        key = engine.file_key(task)
        pending: deque[tuple[PreparedFrame, Future[Any]]] = deque()
        try:
            for frame in frames:
                pending.append((frame, self._submit(frame.image, (key, f"T{frame.t}"))))
                while pending and (len(pending) >= self.window or pending[0][1].done()):
                    yield self._result(task, pending.popleft())
                    if engine.is_cancelled(self.cancel):
                        return
            while pending:
                if engine.is_cancelled(self.cancel):
                    return
                yield self._result(task, pending.popleft())
        except _StopFrames:
            return
        finally:
            for _, fut in pending:
                fut.cancel()
            if pending and engine.is_cancelled(self.cancel):
                self.close()  # frames still computing: stop them now, not after the longest one


def run_frames(
    plan: Plan,
    options: RunOptions,
    frames: PoolFrames | None,
    cancel: CancelCheck = None,
    keep_images: bool = False,
) -> Iterator[TaskEvent]:
    """Read, prepare and write here; segment the frames of each output on worker processes.

    ``frames`` is the started pool (:meth:`PoolFrames.start`, done by
    :func:`~napari_batchseg.runners.execute`); ``None`` only when no task has work.
    """
    yield from engine.run(
        plan, cancel=cancel, keep_images=keep_images,
        prefetch=options.prefetch or 2 * options.processes, frame_segmenter=frames,
    )
