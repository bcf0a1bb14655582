"""Worker glue: run :func:`napari_batchseg.runners.execute` in a worker thread, events to the GUI thread.

:class:`RunController` runs the one orchestration of the package (plan, load the model only when some
output has work, run) in a thread with superqt's worker and hands every event to the GUI thread
through a queued signal. Nothing heavy happens on the GUI thread: planning reads metadata, the model
loads and the frames are segmented in the worker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from qtpy.QtCore import QObject, Signal
from superqt.utils import create_worker

from ..events import Event
from ..params import SegmentationParams
from ..runners import RunOptions, execute


def _events(paths: list[Path], params: SegmentationParams, options: RunOptions,
            cancel: threading.Event) -> Iterator[Event]:
    """The run's events, with the prepared images attached to frames for display."""
    yield from execute(paths, options, params=params, cancel=cancel, keep_images=True)


class RunController(QObject):
    """Runs :func:`~napari_batchseg.runners.execute` in a thread; re-emits its events on the GUI thread."""

    event = Signal(object)
    finished = Signal()
    errored = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.cancel_event = threading.Event()
        self._worker: Any = None
        #: replaceable (tests): builds the segmenter (module-level for worker processes)
        self.segmenter_factory: Callable[[SegmentationParams], Any] | None = None

    @property
    def running(self) -> bool:
        """Whether a batch is in progress."""
        return self._worker is not None

    def start(self, paths: list[Path], params: SegmentationParams, parallel: str = "none",
              processes: int = 1) -> None:
        """Start a batch in a worker thread (one at a time).

        Raises :class:`~napari_batchseg.params.ParameterError` for bad parallel options.
        """
        if self._worker is not None:
            raise RuntimeError("a batch is already running")
        options = RunOptions(parallel=parallel, processes=max(1, processes),
                             segmenter_factory=self.segmenter_factory)
        self.cancel_event = threading.Event()
        worker = create_worker(_events, list(paths), params, options, self.cancel_event, _start_thread=False)
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
