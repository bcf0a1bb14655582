"""The vocabulary of a run: what is planned (:class:`Task`, :class:`Plan`) and what happens (events).

Every front end (CLI, Python API, napari widget) reads one typed stream of events, :data:`Event`, from
:func:`napari_batchseg.runners.execute`:

* run lifecycle: :class:`Planned`, :class:`ModelLoading`, :class:`ModelLoaded`, :class:`RunFailed`;
* per output (task): :class:`TaskStarted`, :class:`FrameDone`, then exactly one final event,
  :class:`TaskDone`, :class:`TaskSkipped`, :class:`TaskFailed` or :class:`TaskCancelled`.

Unless a :class:`RunFailed` ends the run early, every planned task gets exactly one final event.
Events are immutable and carry what they describe (their task, their arrays): nothing is filled in later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy.typing as npt

from .errors import BatchSegError, InputError
from .io.naming import OutputNames
from .io.sources import SourceInfo
from .params import ParameterError, SegmentationParams

__all__ = [
    "FINAL_EVENTS",
    "Event",
    "Expectation",
    "FrameDone",
    "ModelLoaded",
    "ModelLoading",
    "Plan",
    "Planned",
    "RunEvent",
    "RunFailed",
    "Task",
    "TaskCancelled",
    "TaskDone",
    "TaskEvent",
    "TaskFailed",
    "TaskSkipped",
    "TaskStarted",
]


# --------------------------------------------------------------------------- plan
@dataclass(frozen=True)
class Expectation:
    """What a repeated run must find before it writes: the input and the model weights as logged.

    ``input_size`` and ``planes_sha256`` (sha256 of the planes read, see the engine) and
    ``weights_sha256`` are compared when both sides are known; a difference fails the output with a
    message naming it, or is only a warning (in the log and :attr:`TaskDone.warnings`) with ``force``.
    """

    input_size: int | None = None
    planes_sha256: str | None = None
    weights_sha256: str | None = None
    force: bool = False
    #: records the new output's log opens with (after its parameters): the log repeated and why the
    #: rerun's settings differ from it (:func:`~napari_batchseg.rerun.prepare_rerun`)
    log_lines: tuple[str, ...] = ()


@dataclass
class Task:
    """One output to produce: one input file, or one position of a multi-position file."""

    input: Path
    position: int
    n_positions: int
    names: OutputNames
    info: SourceInfo | None = None
    error: str | None = None
    #: what a re-run expects to find (``batchseg rerun``): ``None``, or an :class:`Expectation`
    expect: Expectation | None = None
    #: whether the ``axes`` parameter applies to this file (planning sets ``False`` for a file whose
    #: own axes are unambiguous: the override is for ambiguous files only)
    use_axes: bool = True

    def axes(self, params: SegmentationParams) -> str | None:
        """The axis override to open this task's file with (``None``: the file's own axes)."""
        return params.axes if self.use_axes else None

    @property
    def key(self) -> str:
        """Unique, stable identifier (input path, plus position when the file has several)."""
        return f"{self.input}" + (f" [P{self.position}]" if self.n_positions > 1 else "")

    @property
    def label(self) -> str:
        """Short display name (file name, plus position when the file has several)."""
        return self.input.name + (f" [P{self.position}]" if self.n_positions > 1 else "")

    def frame_indices(self, params: SegmentationParams) -> list[int]:
        """The time frames to segment (``start_frame``..``end_frame``, clipped to the file)."""
        assert self.info is not None
        n_t = self.info.sizes["T"]
        if params.start_frame >= n_t:
            raise InputError(
                f"{self.input}: start frame {params.start_frame} out of range; "
                f"the file has {n_t} frame(s) (0-{n_t - 1})"
            )
        last = n_t - 1 if params.end_frame is None else min(params.end_frame, n_t - 1)
        return list(range(params.start_frame, last + 1))


@dataclass
class Plan:
    """Everything a run will do, fixed before any work starts."""

    params: SegmentationParams
    tasks: list[Task]
    #: warnings found while planning (e.g. a folder named explicitly that holds no input file)
    notes: list[str] = field(default_factory=list)
    #: parameters of tasks that run with their own (a run over groups, see ``runners.execute``), by key
    task_params: dict[str, SegmentationParams] = field(default_factory=dict)
    #: files of one position that the ``positions`` parameter left whole (a note says how many)
    whole_files: tuple[Path, ...] = ()

    def params_for(self, task: Task) -> SegmentationParams:
        """The parameters ``task`` runs with (its group's, else the plan's)."""
        return self.task_params.get(task.key, self.params)

    def frames_of(self, task: Task) -> int:
        """Frames ``task`` will segment (0 when it cannot be read or its frame range is empty)."""
        if task.info is None:
            return 0
        try:
            return len(task.frame_indices(self.params_for(task)))
        except InputError:
            return 0

    @property
    def n_frames(self) -> int:
        """Total frames to segment over all readable tasks."""
        return sum(self.frames_of(t) for t in self.tasks)


# --------------------------------------------------------------------------- run lifecycle
@dataclass(frozen=True)
class Planned:
    """The batch is planned: these outputs will be produced (``notes``: how the run options changed)."""

    plan: Plan
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelLoading:
    """The segmenter is being loaded (once for the batch); ``what`` names it for people."""

    what: str


@dataclass(frozen=True)
class ModelLoaded:
    """The segmenter is ready; ``description`` is its :meth:`Segmenter.describe` (device, model...)."""

    description: dict[str, Any]


@dataclass(frozen=True)
class RunFailed:
    """The batch stopped before or outside any single output (colliding outputs, model not found...).

    ``error`` is the exception that stopped it (a :class:`~.errors.BatchSegError`, or a
    :class:`~.params.ParameterError` for a setting the model refuses); the Python API raises it again.
    """

    message: str
    error: BatchSegError | ParameterError | None = None


# --------------------------------------------------------------------------- per task
@dataclass(frozen=True)
class TaskStarted:
    """An output is being produced; ``n_frames`` frames will be segmented."""

    task: Task
    n_frames: int


@dataclass(frozen=True)
class FrameDone:
    """One frame of ``task`` is segmented (``index``: 0-based within the output, ``t``: in the file).

    ``labels`` is the frame's ``(Y, X)`` mask, or ``None`` when the arrays stayed with the worker
    processes that wrote them (``files`` and Dask modes unless ``keep_images`` is asked for: the mask
    is on disk anyway). ``image`` is the prepared input plane when ``keep_images`` was asked for, else
    ``None``.
    """

    task: Task
    index: int
    t: int
    n_frames: int
    labels: npt.NDArray[Any] | None
    image: npt.NDArray[Any] | None
    n_objects: int
    z_used: list[int]
    best_focus: int | None
    timings: dict[str, float]


@dataclass(frozen=True)
class TaskDone:
    """An output is complete on disk."""

    task: Task
    mask_path: Path
    log_path: Path
    n_frames: int
    seconds: float
    extra_paths: list[Path] = field(default_factory=list)
    #: things a person should know about this output (e.g. a re-run forced over a changed input)
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaskSkipped:
    """An output was not produced on purpose (e.g. it exists already)."""

    task: Task
    reason: str
    #: the output there was made with other parameters: it is not this run's result
    other_parameters: bool = False
    #: the output's mask file is there (not when another run is still producing it)
    output_exists: bool = True


@dataclass(frozen=True)
class TaskFailed:
    """An output could not be produced; the batch goes on. ``details``: a traceback for bugs."""

    task: Task
    reason: str
    details: str = ""


@dataclass(frozen=True)
class TaskCancelled:
    """The run was cancelled before or while this output was produced; nothing partial was kept."""

    task: Task


RunEvent = Planned | ModelLoading | ModelLoaded | RunFailed
TaskEvent = TaskStarted | FrameDone | TaskDone | TaskSkipped | TaskFailed | TaskCancelled
#: Everything a run reports, in one stream
Event = RunEvent | TaskEvent
#: The events that end a task (exactly one per task)
FINAL_EVENTS = (TaskDone, TaskSkipped, TaskFailed, TaskCancelled)
