"""What runs inside a worker process (local pool or Dask worker): thread limits, the model, transport.

Nothing here imports torch at module level: a spawned worker must be able to cap its thread pools
before torch (or a BLAS) starts its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

from ..events import FrameDone
from .batching import BatchedFrames

if TYPE_CHECKING:
    from ..events import TaskEvent
    from ..params import SegmentationParams
    from ..segmenters import Segmenter
    from .options import SegmenterFactory

_THREAD_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)

_lock = threading.Lock()
_segmenters: dict[str, Segmenter] = {}
_threads_set: int | None = None
#: Parameters that change what the model computes; the rest (outputs, frame range) do not.
_IO_FIELDS = ("output_dir", "suffix", "existing", "start_frame", "end_frame", "positions", "axes")


def limit_threads(n: int) -> None:
    """Use ``n`` compute threads in this process: BLAS/OpenMP environment, and torch once loaded.

    Call it before the model is loaded (torch then starts with ``n`` threads) and again after
    (``torch.set_num_threads``), so it holds whichever way torch was imported.
    """
    global _threads_set
    n = max(1, int(n))
    # a worker process has filters of its own (a walk: torch's sparse notice once per Dask worker); the
    # caller's process (a sequential run with a thread count, an in-process cluster) keeps its own
    import multiprocessing

    if multiprocessing.parent_process() is not None:
        from ..quiet_import import quiet_notices

        quiet_notices()
    for var in _THREAD_VARS:
        os.environ[var] = str(n)
    if "torch" not in sys.modules:
        return
    import torch  # imported already; waits if another thread is still initialising it
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    if _threads_set is None:
        try:  # only allowed before torch runs parallel work; harmless to skip afterwards
            torch.set_num_interop_threads(1)
        except RuntimeError:
            pass
    _threads_set = n


def ignore_interrupts() -> None:
    """Let Ctrl-C and SIGTERM reach only the coordinator, which stops workers cleanly between frames.

    A batch system sends SIGTERM to every process of a job; the coordinator then cancels the run and
    closes its workers itself (it kills any that do not stop).
    """
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(sig, signal.SIG_IGN)
        except (ValueError, OSError):  # not the main thread, or no such signal here
            pass
    if hasattr(signal, "pthread_sigmask"):  # started blocked (:func:`signals_blocked`): now ignored
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)


_STOP_SIGNALS = {2, 15}  # SIGINT, SIGTERM (the same numbers on every POSIX system)


@contextlib.contextmanager
def signals_blocked() -> Iterator[None]:
    """Block SIGINT and SIGTERM in this thread while worker processes are started here.

    A spawned process inherits the mask, so a signal sent to the whole process group (Ctrl-C, a batch
    system's SIGTERM) while a worker is still importing cannot kill it half-started (which breaks a
    process pool); the worker ignores both (:func:`ignore_interrupts`) before unblocking them. Here a
    signal that arrives meanwhile waits and is handled as soon as the block ends: none is lost.
    multiprocessing's own resource tracker is started the same way.
    """
    import signal

    if not hasattr(signal, "pthread_sigmask"):  # Windows: no process groups to signal
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


_PR_SET_PDEATHSIG = 1
_WATCH_S = 0.5


def die_with_parent() -> Callable[[], bool]:
    """End this worker process when the process that started it ends; return a "parent gone" check.

    On Linux the kernel kills the worker (``prctl(PR_SET_PDEATHSIG, SIGKILL)``) the moment its parent
    dies, even with ``kill -9``. Everywhere, a daemon thread also polls the parent pid every half
    second and exits the process when it changed. The returned check is part of a worker's cancel
    test, so a worker never commits an output once the run that asked for it is gone.
    """
    import multiprocessing
    import signal

    starter = multiprocessing.parent_process()  # the pid of the process that started us, even if it
    parent = starter.pid if starter is not None and starter.pid else os.getppid()  # died meanwhile
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # no prctl here: the watch thread does it
            pass

    def gone() -> bool:
        return os.getppid() != parent

    if gone():  # the parent died before the watch was set up
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(_WATCH_S)
            if gone():
                os._exit(1)

    threading.Thread(target=watch, name="batchseg-parent-watch", daemon=True).start()
    return gone


def build_segmenter(params: SegmentationParams, factory: SegmenterFactory | None) -> Segmenter:
    """Load the segmenter ``params`` ask for (``factory(params)`` when given)."""
    if factory is not None:
        return factory(params)
    from ..segmenters import load_segmenter

    return load_segmenter(params)


def frame_segmenter_for(
    segmenter: Segmenter, params: SegmentationParams, batch_frames: int | None
) -> BatchedFrames:
    """The engine frame segmenter for this worker: one frame per call unless the fast mode is named.

    :func:`~.options.frames_per_call` decides, the same on every device (``params`` no longer
    matters: a GPU does not batch by default, so masks equal frame-by-frame ``eval``). Always a
    :class:`BatchedFrames`, so the run log records ``frames_per_call`` (1 by default).
    """
    from .options import frames_per_call

    del params  # the device no longer changes the frames per call (kept for the callers' signature)
    return BatchedFrames(segmenter, frames_per_call(batch_frames))


def model_key(params: SegmentationParams, factory: SegmenterFactory | None) -> str:
    """Identity of the model a worker needs (parameters that only name outputs are left out)."""
    data = params.to_dict()
    for name in _IO_FIELDS:
        data.pop(name, None)
    name = "" if factory is None else f"{factory.__module__}.{getattr(factory, '__qualname__', factory)}"
    return name + "|" + json.dumps(data, sort_keys=True, default=str)


def cached_segmenter(params: SegmentationParams, factory: SegmenterFactory | None) -> Segmenter:
    """The segmenter of this process for ``params``, loaded on first use and then kept (one model)."""
    key = model_key(params, factory)
    with _lock:
        seg = _segmenters.get(key)
        if seg is None:
            _segmenters.clear()  # a new model replaces the old one: never hold two
            seg = build_segmenter(params, factory)
            _segmenters[key] = seg
        return seg


def for_transport(event: TaskEvent, keep_arrays: bool) -> TaskEvent:
    """``event`` as sent to the coordinator: a :class:`FrameDone` without arrays unless asked for.

    ``FrameDone.labels`` is then ``None`` (the mask is on disk); everything else travels as is.
    """
    if isinstance(event, FrameDone) and not keep_arrays:
        return replace(event, labels=None, image=None)
    return event
