"""Where a planned batch runs: in this process, over local worker processes, or on a Dask cluster.

Every front end (CLI, widget, Python API) calls :func:`execute` with paths and parameters (or a
:class:`~..events.Plan`, or :class:`RunGroup` s of paths that each need their own parameters) and
:class:`RunOptions`: it is the only place that plans, loads the model (only when some task has work,
once for all the groups that share it) and runs. It yields one :data:`~..events.Event` stream (lifecycle
events, then the engine's task events) whichever way the work is spread, and the masks are the same
pixel for pixel. :class:`~.session.RunSession` folds that stream into the state of the run.

Modes
-----
``parallel="none"`` (default)
    One process: frames are read and prepared by a background thread while the model segments the
    previous ones (:func:`napari_batchseg.engine.run`). One frame per network call on every device
    (masks identical to frame-by-frame ``eval``); ``batch_frames`` > 1 is the named fast mode that
    groups frames of equal shape in one call (:mod:`.batching`; on a GPU masks may differ).
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
With a GPU, ``files``/``frames`` fall back to one process that owns the GPU (with mask workers):
several processes contending for one GPU are slower, and each would hold its own copy of the model.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from .. import engine
from ..errors import BatchSegError
from ..events import Event, ModelLoaded, ModelLoading, Plan, Planned, RunFailed, Task, TaskCancelled
from ..io.arrays import one_path
from ..io.naming import check_collisions
from ..params import ParameterError, SegmentationParams
from ..runnable import one_position_note

if TYPE_CHECKING:
    from ..discovery import FileFilter
    from ..engine import CancelCheck
    from ..segmenters import Segmenter

from .options import PARALLEL_MODES, RunOptions, SegmenterFactory, gpu_in_use, resolve_options, usable_cores
from .session import RunSession, TaskState

__all__ = [
    "PARALLEL_MODES", "RunGroup", "RunOptions", "RunSession", "SegmenterFactory", "TaskState", "execute",
    "gpu_in_use", "resolve_options", "usable_cores",
]

log = logging.getLogger(__name__)

class RunGroup(NamedTuple):
    """Files that run with their own parameters, e.g. ambiguous files read with the axes chosen for them."""

    paths: Sequence[str | Path]
    params: SegmentationParams


def _model_name(params: SegmentationParams) -> str:
    return f"{params.method} model {params.model}"


def _refused(exc: BatchSegError | ParameterError) -> RunFailed:
    return RunFailed(str(exc), exc)


def execute(
    source: Plan | Iterable[str | Path] | str | Path | Sequence[RunGroup],
    options: RunOptions | None = None,
    *,
    params: SegmentationParams | None = None,
    file_filter: FileFilter | None = None,
    recursive: bool = False,
    cancel: CancelCheck = None,
    segmenter: Segmenter | None = None,
    keep_images: bool = False,
) -> Generator[Event, None, None]:
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
        plan with ``params``, ``file_filter`` and ``recursive``, or :class:`RunGroup` s (files and
        folders each with their own parameters: each output's log records its group's). Groups are
        announced as one :class:`~..events.Planned` (``Plan.task_params`` holds each task's
        parameters); outputs colliding across groups stop the run before any work; a model is loaded
        once for all the groups that need the same one (in this process).
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
    source = one_path(source)  # (np.array("a.tif") is one path)
    groups = _groups(source)
    if groups is not None:
        if params is not None:
            raise TypeError("groups carry their parameters: give params only with paths")
        yield from _execute_groups(groups, options, file_filter, recursive, cancel, segmenter, keep_images)
        return
    if isinstance(source, Plan):
        if params is not None:
            raise TypeError("a plan carries its parameters: give params only with paths")
        the_plan = source
    else:
        paths: list[str | Path] = []
        for item in [source] if isinstance(source, (str, Path)) else source:
            if isinstance(item, RunGroup):
                raise TypeError("give either paths or run groups, not both")
            paths.append(item)
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
    for note in (*the_plan.notes, *opts.notes):
        log.warning(note)
    yield Planned(the_plan, (*the_plan.notes, *opts.notes))
    if engine.is_cancelled(cancel):  # before any model load: every task is accounted for
        for task in the_plan.tasks:
            yield TaskCancelled(task)
        return
    try:
        yield from _run_mode(the_plan, opts, cancel, segmenter, keep_images)
    except (BatchSegError, ParameterError) as exc:  # e.g. a model that cannot be found or loaded
        yield _refused(exc)


def _groups(source: object) -> list[RunGroup] | None:
    """``source`` as groups, when it is a non-empty sequence of :class:`RunGroup` (else ``None``)."""
    if isinstance(source, RunGroup) or not isinstance(source, (list, tuple)) or not source:
        return None
    return list(source) if all(isinstance(g, RunGroup) for g in source) else None


def _each_file_once(groups: list[RunGroup], plans: list[Plan]) -> list[str]:
    """Keep each output of several groups in one group's plan (changed in place); the note, if any.

    A file in several groups (named in one, found in another's folder, say) whose output would be the
    same runs once: in the group that names it itself, else the first that finds it. Outputs that
    differ (another suffix or folder: two parameter sets compared) all run.
    """
    named = [{Path(p).resolve() for p in g.paths} for g in groups]

    def key(task: Task) -> tuple[Path, int, Path]:
        return Path(task.input).resolve(), task.position, Path(task.names.mask).absolute()

    owner: dict[tuple[Path, int, Path], int] = {}
    for i, one in enumerate(plans):
        for task in one.tasks:
            k = key(task)
            if k not in owner or (k[0] in named[i] and k[0] not in named[owner[k]]):
                owner[k] = i
    twice: list[str] = []
    for i, one in enumerate(plans):
        mine = [owner[key(t)] == i for t in one.tasks]
        twice += [t.input.name for t, m in zip(one.tasks, mine, strict=True) if not m]
        one.tasks = [t for t, m in zip(one.tasks, mine, strict=True) if m]
    twice = list(dict.fromkeys(twice))  # (a file of several positions: named once)
    if not twice:
        return []
    shown = ", ".join(twice[:5]) + (", ..." if len(twice) > 5 else "")
    return [f"{len(twice)} file(s) in several groups with the same output run once, with the parameters "
            f"of the group naming them (else the first): {shown}"]


def _own_position_notes(plans: list[Plan]) -> set[str]:
    """Each group's note on the files of one position its ``positions`` left whole (one per group)."""
    return {one_position_note(p.params.positions, len(p.whole_files)) for p in plans} - {""}


def _position_notes(plans: list[Plan]) -> list[str]:
    """:func:`_own_position_notes` over all groups: one per ``positions`` value, each file counted once."""
    whole: dict[tuple[int | str, ...], set[Path]] = {}
    for p in plans:
        if p.params.positions is not None:
            whole.setdefault(tuple(p.params.positions), set()).update(p.whole_files)
    return [note for key, files in whole.items() if (note := one_position_note(list(key), len(files)))]


def _execute_groups(
    groups: list[RunGroup], options: RunOptions | None, file_filter: FileFilter | None, recursive: bool,
    cancel: CancelCheck, segmenter: Segmenter | None, keep_images: bool,
) -> Iterator[Event]:
    """:func:`execute` over groups: plan each, announce them as one plan, run each, sharing models."""
    plans: list[Plan] = []
    opts: list[RunOptions] = []
    try:
        for group in groups:
            plans.append(engine.plan(list(group.paths), group.params, file_filter, recursive=recursive))
            opts.append(resolve_options(options or RunOptions(), plans[-1].params))
        once = _each_file_once(groups, plans)
        check_collisions((t.input, t.names) for p in plans for t in p.tasks)
    except (BatchSegError, ParameterError) as exc:
        yield _refused(exc)
        return
    own = _own_position_notes(plans)
    notes = list(dict.fromkeys(n for p, o in zip(plans, opts, strict=True) for n in (*p.notes, *o.notes)
                               if n not in own))
    notes += [*_position_notes(plans), *once]
    for note in notes:
        log.warning(note)
    everything = Plan(plans[0].params, [t for p in plans for t in p.tasks], notes,
                      {t.key: p.params for p in plans[1:] for t in p.tasks})
    yield Planned(everything, tuple(notes))
    if engine.is_cancelled(cancel):
        for task in everything.tasks:
            yield TaskCancelled(task)
        return
    models = _SharedModel(segmenter)
    try:
        for one, opt in zip(plans, opts, strict=True):
            for ev in _run_mode(one, opt, cancel, None, keep_images, models):
                yield ev
                if isinstance(ev, RunFailed):
                    return
    except (BatchSegError, ParameterError) as exc:
        yield _refused(exc)


class _SharedModel:
    """The segmenter loaded in this process for a run over groups: loaded again only for another model.

    Groups whose parameters differ only in how files are read and prepared (axes, channel choice, Z,
    frames) or named share it; one model is held at a time.
    """

    def __init__(self, given: Segmenter | None = None) -> None:
        self.given = given
        self.key: str | None = None
        self.segmenter: Segmenter | None = None

    def get(self, params: SegmentationParams, opts: RunOptions) -> Segmenter | None:
        """The segmenter already loaded for ``params``; ``None``: load it (then :meth:`keep` it)."""
        if self.given is not None:
            return self.given
        key = _model_identity(params, opts)
        if key != self.key:
            self.key, self.segmenter = key, None  # never hold two models
        return self.segmenter

    def keep(self, segmenter: Segmenter) -> None:
        """Remember the segmenter just loaded for the parameters last asked for."""
        self.segmenter = segmenter


def _model_identity(params: SegmentationParams, opts: RunOptions) -> str:
    """What the loaded model depends on: the parameters less those of reading and preparing files."""
    from ._worker import model_key

    channels = params.channel if isinstance(params.channel, list) else [params.channel]
    shape = params.replace(channel=list(range(len(channels))) if len(channels) > 1 else 0, z_range="all",
                           z_projection="mean")
    return model_key(shape, opts.segmenter_factory)


def _run_mode(
    the_plan: Plan, opts: RunOptions, cancel: CancelCheck, segmenter: Segmenter | None, keep_images: bool,
    shared: _SharedModel | None = None,
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
        if segmenter is None and work and shared is not None:
            segmenter = shared.get(params, opts)
        if segmenter is None and work:
            yield ModelLoading(_model_name(params))
            segmenter = build_segmenter(params, opts.segmenter_factory)
            if shared is not None:
                shared.keep(segmenter)
            if opts.threads_per_process is not None:  # again: torch may have started only now
                limit_threads(opts.threads_per_process)
            yield ModelLoaded(segmenter.describe())
        yield from run_sequential(the_plan, opts, cancel=cancel, segmenter=segmenter,
                                  keep_images=keep_images)
