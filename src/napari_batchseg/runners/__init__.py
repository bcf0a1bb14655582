"""Where a planned batch runs: in this process, over local worker processes, or on a Dask cluster.

Every front end (CLI, widget, Python API) calls :func:`execute` with paths and parameters (or a
:class:`~..events.Plan`) and :class:`RunOptions`: it is the only place that plans, loads the model
(only when some task has work) and runs. It yields one :data:`~..events.Event` stream (lifecycle
events, then the engine's task events) whichever way the work is spread, and the masks are the same
pixel for pixel. :class:`~.session.RunSession` folds that stream into the state of the run.

Modes
-----
``parallel="none"`` (default)
    One process: frames are read and prepared by a background thread while the model segments the
    previous ones (:func:`napari_batchseg.engine.run`). On a GPU, frames of equal shape are grouped and
    segmented together (one network call for several frames; see :mod:`.batching`).
``parallel="files"``
    ``processes`` worker processes, one file (output) each at a time; each worker loads the model once
    and writes its own outputs (same atomic rules). Best for many files.
``parallel="frames"``
    This process reads, prepares and writes; the time frames of each file are spread over ``processes``
    worker processes that each hold the model. Best for a few long movies.
``dask_scheduler`` / ``dask_local``
    One Dask task per output on a distributed cluster (see :mod:`.dask_runner`).

Threads: each worker process gets ``threads_per_process`` compute threads (default: the usable cores
divided by the number of processes, at least 1), so processes never oversubscribe the cores.
With a GPU, ``files``/``frames`` fall back to one process that owns the GPU and batches frames:
several processes contending for one GPU are slower, and each would hold its own copy of the model.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import engine
from ..errors import BatchSegError
from ..events import Event, ModelLoaded, ModelLoading, Plan, Planned, RunFailed, TaskCancelled
from ..params import ParameterError, SegmentationParams

if TYPE_CHECKING:
    from ..discovery import FileFilter
    from ..engine import CancelCheck
    from ..segmenters import Segmenter

from .session import RunSession, TaskState

__all__ = [
    "PARALLEL_MODES", "RunOptions", "RunSession", "TaskState", "execute", "gpu_in_use", "resolve_options",
    "usable_cores",
]

log = logging.getLogger(__name__)

PARALLEL_MODES: tuple[str, ...] = ("none", "files", "frames")

#: Builds the segmenter in a worker process: ``factory(params) -> Segmenter``. It must be importable
#: by name (a module-level function) so that it can be sent to spawned processes and Dask workers.
SegmenterFactory = Callable[["SegmentationParams"], "Segmenter"]


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@dataclass
class RunOptions:
    """How to spread a batch over processes, GPUs or a cluster.

    Parameters
    ----------
    parallel
        ``"none"`` (one process), ``"files"`` (one file per worker process) or ``"frames"`` (frames of
        a file spread over worker processes).
    processes
        Worker processes for ``files``/``frames`` (``1`` runs in this process, like ``"none"``).
    threads_per_process
        Compute threads of each worker (torch, BLAS); ``None``: usable cores // processes, at least 1.
    batch_frames
        Frames segmented together in one :meth:`Segmenter.segment_batch` call (frames of equal shape
        only). ``None``: ``params.batch_size`` frames when the model runs on a GPU, 1 (no grouping) on
        a CPU, where grouping brings nothing (decided on each Dask worker for its own hardware).
    prefetch
        Frames read and prepared ahead of the segmenter (``None``: enough to keep every worker or
        batch fed).
    dask_scheduler
        Address of a running Dask scheduler (``tcp://host:8786``) or a ``distributed.Client``.
    dask_local
        Start a local Dask cluster of this many worker processes (one thread each).
    segmenter_factory
        Builds the segmenter in each worker process (default: :func:`~..segmenters.load_segmenter`);
        must be a module-level function. Used by tests and benchmarks.
    """

    parallel: str = "none"
    processes: int = 1
    threads_per_process: int | None = None
    batch_frames: int | None = None
    prefetch: int | None = None
    dask_scheduler: Any = None
    dask_local: int | None = None
    segmenter_factory: SegmenterFactory | None = None
    notes: list[str] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`~..params.ParameterError` naming the first bad option."""
        if self.parallel not in PARALLEL_MODES:
            raise ParameterError(
                f"parallel {self.parallel!r} unknown; choose one of {', '.join(PARALLEL_MODES)}"
            )
        for name in ("processes", "threads_per_process", "batch_frames", "prefetch", "dask_local"):
            value = getattr(self, name)
            if value is None:
                continue
            low = 0 if name == "prefetch" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ParameterError(f"{name} must be a positive integer, got {value!r}")
        if self.dask_scheduler is not None and self.dask_local is not None:
            raise ParameterError("give either dask_scheduler or dask_local, not both")

    @property
    def uses_dask(self) -> bool:
        """Whether the batch goes to a Dask cluster."""
        return self.dask_scheduler is not None or self.dask_local is not None

    @property
    def mode(self) -> str:
        """``"dask"``, ``"files"``, ``"frames"`` or ``"none"`` (what will actually run)."""
        if self.uses_dask:
            return "dask"
        if self.parallel != "none" and self.processes > 1:
            return self.parallel
        return "none"

    def threads(self, workers: int | None = None) -> int:
        """Compute threads for each of ``workers`` processes (default ``processes``)."""
        if self.threads_per_process is not None:
            return self.threads_per_process
        n = workers if workers is not None else self.processes
        return max(1, usable_cores() // max(1, n))


def gpu_in_use(params: SegmentationParams) -> bool:
    """Whether the run's model will sit on a GPU: the rule of :func:`~..devices.pick_device`.

    ``params.gpu`` and a usable CUDA or Apple MPS device (the same check the segmenters make).
    """
    if not params.gpu:
        return False
    from ..devices import pick_device

    return pick_device(True).is_gpu


def resolve_options(options: RunOptions, params: SegmentationParams) -> RunOptions:
    """The options that will really run: GPU runs stay in one process, batch size filled in.

    The returned copy's ``notes`` explain every change (front ends may print them).
    """
    opts = replace(options, notes=list(options.notes))
    if opts.uses_dask:  # the workers' hardware decides (batch_frames=None: batch on GPU workers)
        return opts
    on_gpu = gpu_in_use(params)
    if on_gpu and opts.mode in ("files", "frames"):
        opts.notes.append(
            f"GPU in use: --parallel {opts.parallel} with {opts.processes} processes replaced by one "
            "process that owns the GPU and segments frames in batches (processes would contend for it)"
        )
        opts = replace(opts, parallel="none", processes=1)
    if opts.batch_frames is None:
        opts = replace(opts, batch_frames=params.batch_size if on_gpu else 1)
    if opts.prefetch is None:
        workers = opts.processes if opts.mode == "frames" else 1
        opts = replace(opts, prefetch=max(2, 2 * workers, (opts.batch_frames or 1) + 1))
    return opts


def _model_name(params: SegmentationParams) -> str:
    return f"{params.method} model {params.model}"


def _refused(exc: BatchSegError | ParameterError) -> RunFailed:
    return RunFailed(str(exc), exc)


def execute(
    source: Plan | Iterable[str | Path] | str | Path,
    options: RunOptions | None = None,
    *,
    params: SegmentationParams | None = None,
    file_filter: FileFilter | None = None,
    recursive: bool = False,
    cancel: CancelCheck = None,
    segmenter: Segmenter | None = None,
    keep_images: bool = False,
) -> Iterator[Event]:
    """The one orchestration of a run: plan, load the model only when there is work, run; yield events.

    Every front end (CLI, Python API, napari widget) is a thin adapter over this generator. The
    stream (:data:`~..events.Event`) is, in order: :class:`~..events.Planned` (the plan and the notes
    of :func:`resolve_options`); when this process loads the model, :class:`~..events.ModelLoading`
    and :class:`~..events.ModelLoaded`; then the task events of the engine, whichever way the work
    is spread (every task ends with exactly one of ``TaskDone``, ``TaskSkipped``, ``TaskFailed``,
    ``TaskCancelled``). A problem that stops the whole run (colliding outputs, an unwritable output
    folder, a model that cannot be loaded, bad options) is reported as one :class:`~..events.RunFailed`
    that ends the stream; it is never raised.

    Parameters
    ----------
    source
        A :class:`~..events.Plan` (from :func:`napari_batchseg.engine.plan`), or files and folders to
        plan with ``params``, ``file_filter`` and ``recursive``.
    options
        How to spread the work (default: this process only).
    params
        Run parameters when ``source`` is paths (default :class:`~..params.SegmentationParams`); a
        plan carries its own (giving both is an error).
    file_filter, recursive
        Filters for files found in folders (files named explicitly are always taken).
    cancel
        :class:`threading.Event` or callable; work stops between frames, no partial file is kept, and
        every task not finished is reported as cancelled.
    segmenter
        An already loaded segmenter, used when the work runs in this process; worker processes
        always load their own.
    keep_images
        Attach the prepared image to each :class:`~..events.FrameDone`. In ``files`` and Dask modes
        the arrays stay with the workers (``FrameDone.labels`` is ``None``) unless this is set, since
        the masks are on disk anyway.
    """
    if options is not None and not isinstance(options, RunOptions):
        raise TypeError(f"options must be RunOptions, got {type(options).__name__} (params= is a keyword)")
    if isinstance(source, Plan):
        if params is not None:
            raise TypeError("a plan carries its parameters: give params only with paths")
        the_plan = source
    else:
        paths = [source] if isinstance(source, (str, Path)) else list(source)
        try:
            the_plan = engine.plan(paths, params or SegmentationParams(), file_filter, recursive=recursive)
        except (BatchSegError, ParameterError) as exc:
            yield _refused(exc)
            return
    params = the_plan.params
    try:
        opts = resolve_options(options or RunOptions(), params)
    except ParameterError as exc:
        yield _refused(exc)
        return
    for note in opts.notes:
        log.warning(note)
    yield Planned(the_plan, tuple(opts.notes))
    if engine.is_cancelled(cancel):  # before any model load: every task is accounted for
        for task in the_plan.tasks:
            yield TaskCancelled(task)
        return
    try:
        yield from _run_mode(the_plan, opts, cancel, segmenter, keep_images)
    except (BatchSegError, ParameterError) as exc:  # e.g. a model that cannot be found or loaded
        yield _refused(exc)


def _run_mode(
    the_plan: Plan, opts: RunOptions, cancel: CancelCheck, segmenter: Segmenter | None, keep_images: bool
) -> Iterator[Event]:
    """Load the model where this process needs it (with its events), then run in ``opts.mode``."""
    params = the_plan.params
    mode = opts.mode
    work = engine.has_work(the_plan)  # no model is loaded when every output is skipped or unreadable
    if mode == "dask":
        from .dask_runner import run_dask

        yield from run_dask(the_plan, opts, cancel=cancel, keep_images=keep_images)
    elif mode == "files":
        from .pool import run_files

        yield from run_files(the_plan, opts, cancel=cancel, keep_images=keep_images)
    elif mode == "frames":
        from .pool import PoolFrames, run_frames

        frames = None
        if work:
            yield ModelLoading(f"{_model_name(params)} in {opts.processes} worker processes")
            frames = PoolFrames(params, opts, cancel).start()
            yield ModelLoaded(frames.describe())
        try:
            yield from run_frames(the_plan, opts, frames, cancel=cancel, keep_images=keep_images)
        finally:
            if frames is not None:
                frames.close()
    else:
        from ._worker import build_segmenter, limit_threads
        from .sequential import run_sequential

        if opts.threads_per_process is not None:
            limit_threads(opts.threads_per_process)
        if segmenter is None and work:
            yield ModelLoading(_model_name(params))
            segmenter = build_segmenter(params, opts.segmenter_factory)
            if opts.threads_per_process is not None:  # again: torch may have started only now
                limit_threads(opts.threads_per_process)
            yield ModelLoaded(segmenter.describe())
        yield from run_sequential(the_plan, opts, cancel=cancel, segmenter=segmenter,
                                  keep_images=keep_images)
