"""Run a batch on a Dask distributed cluster: one Dask task per output, written by the workers.

Each output (a file, or one position of a multi-position file) becomes one task that runs
:func:`napari_batchseg.engine.run_task` on a worker, so outputs are written by the workers with the
same atomic rules as a local run (the workers must see the input and output folders, e.g. on a shared
file system). A worker loads the model once and keeps it for every task it runs.

Progress: workers publish a small message per started output and per finished frame (Dask's
``log_event``); the client turns them into engine events as they arrive. The complete events of an
output (without the large arrays unless ``keep_images``) come back as the task's result; per-output
failures are ordinary :class:`~..engine.TaskFailed` events. A re-run skips outputs that exist
(``existing="skip"``). Cancelling sets a Dask ``Event`` that workers check between frames (at most
every half second): running outputs stop and leave no partial file; tasks not started return at once.
A task the scheduler released (its client was killed or lost) stops the same way.

Connect with ``dask_scheduler`` (an address such as ``tcp://head:8786``, or a ``distributed.Client``),
or start a local cluster of ``dask_local`` worker processes (one thread each). For SLURM see
``docs/performance.md`` (dask-jobqueue recipe).
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy.typing as npt

from .. import engine
from ..errors import BatchSegError, ModelError, describe
from ._worker import cached_segmenter, for_transport, frame_segmenter_for, limit_threads

if TYPE_CHECKING:
    from ..engine import CancelCheck, Plan, Task, TaskEvent
    from ..params import SegmentationParams
    from ..segmenters import Segmenter, SegmentOutput
    from .options import RunOptions, SegmenterFactory

_CHECK_EVERY_S = 0.5
#: how long a run waits with no worker at all before it gives up on the outputs not finished: a local
#: cluster's nanny replaces a dead worker within seconds (an external cluster may be waiting for its
#: workers, so it is only given up on once the run is cancelled)
_NO_WORKERS_S = 30.0
_NO_WORKERS_CANCELLED_S = 2.0


def _host(address: str) -> str:
    rest = address.split("://", 1)[-1]
    return rest.rsplit(":", 1)[0]


class _Throttled:
    """Ask ``check()`` at most every ``period`` seconds; once true, stay true."""

    def __init__(self, check: Any, period: float) -> None:
        self._check = check
        self._period = period
        self._last = 0.0
        self._value = False

    def __call__(self) -> bool:
        now = time.monotonic()
        if not self._value and now - self._last >= self._period:
            self._last = now
            self._value = bool(self._check())
        return self._value


class _WorkerWatch:
    """Whether the cluster has had no worker for too long to wait on (checked at most once a second).

    A Ctrl-C in a terminal reaches the whole process group: a local cluster's workers die of it, their
    nannies do not replace them, and the tasks they held wait for a worker forever (so did the run).
    """

    def __init__(self, client: Any, local: bool) -> None:
        self._client = client
        self._local = local
        self._next = 0.0
        self._since: float | None = None

    def gone(self, cancelled: bool) -> bool:
        limit = _NO_WORKERS_CANCELLED_S if cancelled else _NO_WORKERS_S if self._local else None
        now = time.monotonic()
        if limit is None or now < self._next:
            return False
        self._next = now + 1.0
        try:
            workers = len(self._client.nthreads())
        except Exception:  # noqa: BLE001 - the scheduler is gone too: no worker either
            workers = 0
        if workers:
            self._since = None
            return False
        self._since = now if self._since is None else self._since
        return now - self._since >= limit


class _Locked:
    """Serialise one segmenter between the threads of this process (its Dask workers' and theirs)."""

    _locks: dict[int, threading.Lock] = {}

    def __init__(self, segmenter: Segmenter) -> None:
        self._seg = segmenter
        self._lock = self._locks.setdefault(id(segmenter), threading.Lock())
        self.name = segmenter.name
        self.batch_size = segmenter.batch_size
        self._here = threading.local()  # each worker thread names its own frames

    @property
    def volume_modes(self) -> tuple[str, ...]:
        """The segmenter's Z modes, asked when a volume run checks them (micro-sam finds its own lazily)."""
        return tuple(getattr(self._seg, "volume_modes", ()))

    def describe(self) -> dict[str, Any]:
        return self._seg.describe()

    def set_context(self, file_key: str, frame_key: str) -> None:
        self._here.context = (file_key, frame_key)  # handed over under the lock, with the call it names

    def _name_frames(self) -> None:
        context = getattr(self._here, "context", None)
        if context is not None:
            self._seg.set_context(*context)

    def segment(self, image: npt.NDArray[Any]) -> SegmentOutput:
        with self._lock:
            self._name_frames()
            return self._seg.segment(image)

    def segment_batch(self, images: Sequence[npt.NDArray[Any]]) -> list[SegmentOutput]:
        with self._lock:
            self._name_frames()
            return self._seg.segment_batch(images)

    def segment_volume(self, volume: npt.NDArray[Any], mode: str, anisotropy: float | None,
                       stitch_threshold: float) -> SegmentOutput:
        with self._lock:
            self._name_frames()
            seg: Any = self._seg  # (a VolumeSegmenter: the run checked volume_modes)
            out: SegmentOutput = seg.segment_volume(volume, mode, anisotropy, stitch_threshold)
            return out


def dask_task(
    index: int,
    task: Task,
    params: SegmentationParams,
    factory: SegmenterFactory | None,
    threads: int | None,
    workers_per_host: dict[str, int],
    topic: str,
    cancel_name: str,
    keep_arrays: bool,
    batch_frames: int | None = None,
) -> list[TaskEvent] | ModelError:
    """Worker side: produce one output; return its events (arrays dropped unless ``keep_arrays``).

    A model that cannot be loaded is returned, not raised: the client raises it and the run stops (a
    raised one was also logged by the worker as "Compute Failed", with the task and a traceback).
    """
    from distributed import Event as DaskEvent
    from distributed import get_worker

    from .options import usable_cores

    worker = get_worker()
    flag = DaskEvent(cancel_name)
    if flag.is_set():
        return []
    n_threads = threads or max(1, usable_cores() // max(1, workers_per_host.get(_host(worker.address), 1)))
    limit_threads(n_threads)
    try:
        seg = cached_segmenter(params, factory)
    except ModelError as exc:
        return exc
    limit_threads(n_threads)
    # always: the threads of a multi-threaded worker share the process's model, and so do the workers of
    # a cluster of threads (LocalCluster(processes=False)), each of one thread: two of them in one Cellpose
    # model at once failed an output ("Can't redefine method: __getstate__", its MKLDNN conversion)
    seg = _Locked(seg)
    released = _released_check(worker)
    out: list[TaskEvent] = []
    stop = _Throttled(lambda: released() or flag.is_set(), _CHECK_EVERY_S)
    for event in engine.run_task(task, params, seg, cancel=stop,
                                 keep_images=keep_arrays,
                                 frame_segmenter=frame_segmenter_for(seg, params, batch_frames)):
        if isinstance(event, engine.TaskStarted):
            worker.log_event(topic, {"i": index, "kind": "started", "n": event.n_frames})
        elif isinstance(event, engine.FrameDone) and not keep_arrays:
            worker.log_event(topic, {
                "i": index, "kind": "frame", "index": event.index, "t": event.t, "n": event.n_frames,
                "objects": event.n_objects, "z": list(event.z_used), "focus": event.best_focus,
                "timings": dict(event.timings),
            })
        out.append(for_transport(event, keep_arrays))
    return out


def _released_check(worker: Any) -> Any:
    """A check, true once the scheduler no longer wants the task this thread runs.

    The scheduler releases the tasks of a client that is gone (killed with ``kill -9``, or its
    connection lost) or that cancelled them; Dask lets a running task finish, so without this check
    an external cluster's worker went on to produce and commit an output for a run that no longer
    exists (and a re-run found it "being produced" meanwhile).
    """
    from distributed import worker as dask_worker

    key = getattr(getattr(dask_worker, "thread_state", None), "key", None)

    def released() -> bool:
        if key is None:
            return False
        state = worker.state.tasks.get(key)
        return state is None or state.state not in ("executing", "long-running")

    return released


def _connect(options: RunOptions) -> tuple[Any, Any, bool]:
    from distributed import Client, LocalCluster

    if options.dask_local is not None:
        cluster = LocalCluster(
            n_workers=options.dask_local, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
        client = Client(cluster)
        client.run(_own_worker_exits_quickly)
        return client, cluster, True
    if isinstance(options.dask_scheduler, Client):
        return options.dask_scheduler, None, False
    try:
        return Client(options.dask_scheduler), None, True
    except (OSError, ValueError, TypeError) as exc:  # refused, timed out, not an address
        raise BatchSegError(_unreachable(options.dask_scheduler, exc)) from exc


def _own_worker_exits_quickly() -> None:
    """In a worker process of the run's own local cluster: no slow exit, no traceback on Ctrl-C.

    Python's normal exit of a process that imported torch and Cellpose takes seconds (their modules'
    teardown): the nanny closing the cluster gave up after 4 s, printed "Worker process still alive after
    4.0 seconds, killing" and killed it, at the end of every run. A Ctrl-C in the terminal reaches the
    workers too, and each printed a ``KeyboardInterrupt`` traceback. The worker has nothing of its own to
    finish at either point (outputs are committed or swept by the client), so it ends at once.
    """
    import atexit
    import os
    import signal
    import sys

    def exit_now(code: int) -> None:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)

    # (exit functions the tasks' imports register later still run first; the slow teardown after them is
    # what is skipped)
    atexit.register(exit_now, 0)
    with contextlib.suppress(ValueError):  # (only the main thread may set it: Dask runs this there)
        signal.signal(signal.SIGINT, lambda _sig, _frame: exit_now(128 + signal.SIGINT))


def _unreachable(address: object, exc: BaseException) -> str:
    """One line: the scheduler that did not answer, why, and what to check."""
    return (f"cannot connect to the Dask scheduler {address} ({describe(exc)}): check that the scheduler "
            "is running, that the address and port are the ones it prints, and that this machine can reach "
            "it (how long to wait is Dask's setting distributed.comm.timeouts.connect)")


def run_dask(
    plan: Plan, options: RunOptions, cancel: CancelCheck = None, keep_images: bool = False
) -> Iterator[TaskEvent]:
    """Send one task per output to a Dask cluster; yield events as they come back."""
    from distributed import Event as DaskEvent
    from distributed import TimeoutError as DaskTimeoutError
    from distributed import wait

    params = plan.params
    todo: list[Task] = []
    for event_or_task in engine.screen_tasks(plan, cancel):  # existing outputs are checked again on workers
        if isinstance(event_or_task, engine.Task):
            todo.append(event_or_task)
        else:
            yield event_or_task
    if not todo:
        return

    client, cluster, own = _connect(options)
    run_id = uuid.uuid4().hex[:12]
    topic = f"batchseg-progress-{run_id}"
    cancel_name = f"batchseg-cancel-{run_id}"
    flag = DaskEvent(cancel_name, client=client)
    live: queue.Queue[Any] = queue.Queue()
    futures: dict[Any, int] = {}
    try:
        client.subscribe_topic(topic, live.put)
        per_host: dict[str, int] = {}
        for address in client.nthreads():
            per_host[_host(address)] = per_host.get(_host(address), 0) + 1
        for i, task in enumerate(todo):
            fut = client.submit(
                dask_task, i, task, params, options.segmenter_factory, options.threads_per_process,
                per_host, topic, cancel_name, keep_images, options.batch_frames,
                key=f"batchseg-{run_id}-{i}", pure=False,
            )
            futures[fut] = i
        started: set[int] = set()
        frames_seen: dict[int, set[int]] = {i: set() for i in range(len(todo))}
        finished: set[int] = set()
        pending = set(futures)
        cancelled = False
        watch = _WorkerWatch(client, local=cluster is not None)
        while pending:
            if not cancelled and engine.is_cancelled(cancel):
                cancelled = True
                flag.set()
            yield from _live_events(live, todo, started, frames_seen, finished)
            if watch.gone(cancelled):  # nothing left to run them: they would wait forever
                client.cancel(list(pending))
                for fut in pending:
                    idx = futures[fut]
                    finished.add(idx)
                    yield (engine.TaskCancelled(todo[idx]) if cancelled else engine.TaskFailed(
                        todo[idx], f"{todo[idx].input}: no Dask worker left to run it (the cluster's "
                        "workers died and none came back)"))
                break
            try:
                done, pending = wait(pending, timeout=0.2, return_when="FIRST_COMPLETED")
            except DaskTimeoutError:
                continue
            for fut in done:
                idx = futures[fut]
                finished.add(idx)
                yield from _result_events(fut, idx, todo[idx], started, frames_seen[idx], cancelled)
    finally:
        if pending_left := [f for f in futures if not f.done()]:
            flag.set()
            client.cancel(pending_left)
        try:
            client.unsubscribe_topic(topic)
        except Exception:  # noqa: BLE001 - best effort on shutdown
            pass
        if own:
            client.close()
            if cluster is not None:
                cluster.close()
        _sweep_after(todo)


def _sweep_after(todo: list[Task]) -> None:
    """Remove the lock and temporary files of outputs whose worker died with them.

    A process-group SIGTERM (SLURM, systemd, ``docker stop``) kills a local cluster's workers inside
    an output: their own cleanup never runs. Once the cluster is closed their locks are stale, so the
    summary's "nothing partial was kept" holds; a live holder's files are never touched.
    """
    from .._commit import sweep_leftovers

    for task in todo:
        sweep_leftovers(task)


def _live_events(
    live: queue.Queue[Any], todo: list[Task], started: set[int], frames_seen: dict[int, set[int]],
    finished: set[int],
) -> Iterator[TaskEvent]:
    while True:
        try:
            _stamp, msg = live.get_nowait()
        except queue.Empty:
            return
        idx = msg.get("i")
        if idx is None or idx in finished or not 0 <= idx < len(todo):
            continue
        task = todo[idx]
        if msg["kind"] == "started" and idx not in started:
            started.add(idx)
            yield engine.TaskStarted(task, msg["n"])
        elif msg["kind"] == "frame" and msg["index"] not in frames_seen[idx]:
            frames_seen[idx].add(msg["index"])
            yield engine.FrameDone(
                task, msg["index"], msg["t"], msg["n"], None, None, msg["objects"], list(msg["z"]),
                msg["focus"], dict(msg["timings"]),
            )


def _result_events(
    fut: Any, idx: int, task: Task, started: set[int], seen: set[int], cancelled: bool
) -> Iterator[TaskEvent]:
    from distributed import CancelledError

    try:
        events = fut.result()
    except CancelledError:
        if cancelled:
            yield engine.TaskCancelled(task)
        else:
            yield engine.TaskFailed(task, f"{task.input}: the Dask task was cancelled")
        return
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: this output fails, the batch goes on
        yield engine.TaskFailed(task, f"{task.input}: Dask task failed: {describe(exc)}")
        return
    if isinstance(events, ModelError):  # the worker could not load the model: the run stops
        raise events
    final = False
    for event in events:
        if isinstance(event, engine.TaskStarted):
            if idx in started:
                continue
        elif isinstance(event, engine.FrameDone) and event.index in seen:
            continue
        final = final or isinstance(event, engine.FINAL_EVENTS)
        yield event
    if not final:  # the worker saw the cancel flag before starting
        yield engine.TaskCancelled(task)
