"""Worker glue: plan, load the model and run the engine in a worker thread, yielding its events.

:func:`batch_events` is a plain generator (tests can iterate it without Qt); :class:`RunController`
runs it in a thread with superqt's worker and hands every event to the GUI thread through a queued
signal. Nothing heavy happens on the GUI thread: planning reads metadata, the model loads and the frames
are segmented in the worker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qtpy.QtCore import QObject, Signal
from superqt.utils import create_worker

from .. import engine
from ..errors import BatchSegError
from ..params import SegmentationParams


@dataclass
class Planned:
    """The batch is planned: these outputs will be produced."""

    plan: engine.Plan
    notes: list[str] = field(default_factory=list)


@dataclass
class ModelLoading:
    """The segmenter is being loaded (once for the batch)."""

    what: str


@dataclass
class ModelLoaded:
    """The segmenter is ready."""

    description: dict


@dataclass
class RunFailed:
    """The batch could not start (e.g. colliding outputs, model not found)."""

    message: str


def parallel_api():
    """``(PARALLEL_MODES, RunOptions, execute, resolve_options)`` from :mod:`..runners`, or ``None``."""
    try:
        from ..runners import PARALLEL_MODES, RunOptions, execute, resolve_options
    except ImportError:
        return None
    return PARALLEL_MODES, RunOptions, execute, resolve_options


def batch_events(
    paths: list[Path],
    params: SegmentationParams,
    cancel: threading.Event,
    segmenter_factory: Callable[[SegmentationParams], Any] | None = None,
    parallel: str = "none",
    processes: int = 1,
) -> Iterator[Any]:
    """Plan, load the segmenter and run; yield :class:`Planned`, model events and engine events."""
    try:
        the_plan = engine.plan(paths, params)
    except BatchSegError as exc:
        yield RunFailed(str(exc))
        return
    api = parallel_api()
    opts = None
    notes: list[str] = []
    if api is not None:
        _, run_options, _, resolve = api
        opts = run_options(
            parallel=parallel, processes=max(1, processes), segmenter_factory=segmenter_factory
        )
        resolved = resolve(opts, params)
        notes = list(resolved.notes)
        in_process = resolved.mode == "none"
    else:
        in_process = True
    yield Planned(the_plan, notes)
    if cancel.is_set():
        return
    segmenter = None
    if in_process and any(t.error is None for t in the_plan.tasks):
        yield ModelLoading(f"{params.method} model {params.model}")
        from ..segmenters import load_segmenter

        try:
            segmenter = (segmenter_factory or load_segmenter)(params)
        except BatchSegError as exc:
            yield RunFailed(str(exc))
            return
        yield ModelLoaded(segmenter.describe())
    if cancel.is_set():
        return
    if api is not None and opts is not None:
        execute = api[2]
        events = execute(the_plan, opts, cancel=cancel, segmenter=segmenter, keep_images=True)
    else:
        events = engine.run(the_plan, segmenter=segmenter, cancel=cancel, keep_images=True)
    yield from events


class RunController(QObject):
    """Runs :func:`batch_events` in a worker thread; re-emits each event on the GUI thread."""

    event = Signal(object)
    finished = Signal()
    errored = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.cancel_event = threading.Event()
        self._worker = None
        #: replaceable (tests): builds the segmenter in the worker thread
        self.segmenter_factory: Callable[[SegmentationParams], Any] | None = None

    @property
    def running(self) -> bool:
        """Whether a batch is in progress."""
        return self._worker is not None

    def start(self, paths: list[Path], params: SegmentationParams, parallel: str = "none",
              processes: int = 1) -> None:
        """Start a batch in a worker thread (one at a time)."""
        if self._worker is not None:
            raise RuntimeError("a batch is already running")
        self.cancel_event = threading.Event()
        worker = create_worker(
            batch_events, list(paths), params, self.cancel_event, self.segmenter_factory, parallel, processes,
            _start_thread=False,
        )
        worker.yielded.connect(self.event.emit)
        worker.errored.connect(self._on_error)
        worker.finished.connect(self._on_finished)
        self._worker = worker
        worker.start()

    def cancel(self) -> None:
        """Ask the batch to stop between frames (the current output is dropped, finished ones stay)."""
        self.cancel_event.set()

    def _on_error(self, exc: BaseException) -> None:
        self.errored.emit(f"{type(exc).__name__}: {exc}")

    def _on_finished(self) -> None:
        self._worker = None
        self.finished.emit()
