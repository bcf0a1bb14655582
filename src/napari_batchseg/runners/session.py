"""A Qt-free model of one run, folded from the event stream of :func:`~napari_batchseg.runners.execute`.

:class:`RunSession` holds what a front end shows: the tasks in plan order with their status
(``pending``, ``running``, ``done``, ``skipped``, ``failed``, ``cancelled``) and reason, the frames done
per task, the outputs written, the model's state and the totals. Feed it every event with
:meth:`RunSession.apply`; it returns the :class:`TaskState` the event changed (``None`` for run-level
events), so a view can redraw just that row. The napari widget and the CLI both observe a session.

>>> session = RunSession()
>>> for event in execute(paths, params):  # doctest: +SKIP
...     session.apply(event)
>>> session.finish()  # doctest: +SKIP
>>> session.counts()  # doctest: +SKIP
{'pending': 0, 'running': 0, 'done': 2, 'skipped': 1, 'failed': 0, 'cancelled': 0}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..events import (
    Event,
    FrameDone,
    ModelLoaded,
    ModelLoading,
    Plan,
    Planned,
    RunFailed,
    Task,
    TaskCancelled,
    TaskDone,
    TaskFailed,
    TaskSkipped,
    TaskStarted,
)

__all__ = ["FINAL_STATUSES", "STATUSES", "ModelState", "Phase", "RunSession", "TaskState", "TaskStatus"]

TaskStatus = Literal["pending", "running", "done", "skipped", "failed", "cancelled"]
STATUSES: tuple[TaskStatus, ...] = ("pending", "running", "done", "skipped", "failed", "cancelled")
#: statuses a task never leaves
FINAL_STATUSES: frozenset[str] = frozenset({"done", "skipped", "failed", "cancelled"})
#: ``new`` (nothing heard yet), ``planned``, ``loading`` (the model), ``running`` (tasks under way),
#: ``finished`` (:meth:`RunSession.finish` was called) or ``failed`` (a :class:`RunFailed` arrived)
Phase = Literal["new", "planned", "loading", "running", "finished", "failed"]
#: ``not loaded`` (not yet, or not in this process), ``loading``, ``loaded``
ModelState = Literal["not loaded", "loading", "loaded"]


@dataclass
class TaskState:
    """What is known of one task (output) of the run.

    Attributes
    ----------
    task
        The planned task.
    n_frames
        Frames it will segment: from the plan, then as announced by :class:`TaskStarted`.
    status
        One of :data:`STATUSES`.
    reason
        Why it was skipped, failed or cancelled (empty otherwise).
    details
        A failure's details (traceback of an unexpected error), else empty.
    frames_done
        Frames segmented so far.
    n_objects
        Objects in the latest frame (``None`` before the first).
    mask_path, log_path, extra_paths
        Outputs written (set when done; a skipped task's existing mask is in ``mask_path``, ``None`` while
        another run still produces it).
    seconds
        Time the output took (when done).
    other_parameters
        Skipped because the output there was made with other parameters (not this run's result).
    warnings
        What a person should know about a done output (e.g. the hand-corrected output it replaced is kept
        as ``.corrected``), from :class:`~..events.TaskDone`.
    """

    task: Task
    n_frames: int
    status: TaskStatus = "pending"
    reason: str = ""
    details: str = ""
    frames_done: int = 0
    n_objects: int | None = None
    mask_path: Path | None = None
    log_path: Path | None = None
    extra_paths: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    other_parameters: bool = False
    warnings: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """The task's key (:attr:`Task.key`)."""
        return self.task.key

    @property
    def finished(self) -> bool:
        """Whether the task reached a final status."""
        return self.status in FINAL_STATUSES


class RunSession:
    """The state of one run, updated by feeding it the run's events in order.

    Parameters
    ----------
    plan
        The plan, when known beforehand; otherwise the :class:`Planned` event brings it.
    """

    def __init__(self, plan: Plan | None = None) -> None:
        self.plan: Plan | None = None
        #: how the run options were changed (from :class:`Planned`)
        self.notes: tuple[str, ...] = ()
        self.phase: Phase = "new"
        self.model_state: ModelState = "not loaded"
        #: what is being loaded (from :class:`ModelLoading`)
        self.model_name = ""
        #: the segmenter's description (from :class:`ModelLoaded`)
        self.model_description: dict[str, Any] = {}
        #: why the run stopped early (from :class:`RunFailed`), else ``None``
        self.error: str | None = None
        self._states: dict[str, TaskState] = {}
        if plan is not None:
            self._set_plan(plan)

    # ------------------------------------------------------------------ reading
    @property
    def tasks(self) -> list[TaskState]:
        """Every task's state, in plan order."""
        return list(self._states.values())

    def keys(self) -> list[str]:
        """Task keys in plan order."""
        return list(self._states)

    def state(self, key: str) -> TaskState | None:
        """The state of the task with this key (``None`` when it is not part of the run)."""
        return self._states.get(key)

    def corrected(self, mask: Path, n_objects: int | None) -> TaskState | None:
        """Hand corrections were saved into ``mask``: its output's state counts ``n_objects`` (last frame).

        Returns the state changed (``None``: no output of this run wrote ``mask``).
        """
        for state in self._states.values():
            if state.mask_path is not None and Path(state.mask_path) == Path(mask):
                if n_objects is not None:
                    state.n_objects = n_objects
                return state
        return None

    def __contains__(self, key: object) -> bool:
        return key in self._states

    def __len__(self) -> int:
        return len(self._states)

    def counts(self) -> dict[str, int]:
        """Tasks per status (every status of :data:`STATUSES` present, possibly 0)."""
        out: dict[str, int] = dict.fromkeys(STATUSES, 0)
        for s in self._states.values():
            out[s.status] += 1
        return out

    def running(self) -> list[TaskState]:
        """Tasks under way, in plan order."""
        return [s for s in self._states.values() if s.status == "running"]

    @property
    def frames_done(self) -> int:
        """Frames segmented so far, over all tasks."""
        return sum(s.frames_done for s in self._states.values())

    @property
    def frames_planned(self) -> int:
        """Frames the plan asks for (fixed once planned)."""
        return sum(self.plan.frames_of(s.task) for s in self._states.values()) if self.plan else 0

    @property
    def frames_total(self) -> int:
        """Frames this run will have segmented when it ends: a finished task counts what it did."""
        return sum(s.frames_done if s.status in ("skipped", "failed", "cancelled") else s.n_frames
                   for s in self._states.values())

    @property
    def frames_settled(self) -> int:
        """Frames done, plus the planned frames of skipped and failed tasks (never to be segmented).

        With :attr:`frames_planned` as the whole, a progress bar that reaches its end when every task
        was done, skipped or failed.
        """
        return sum(
            max(s.frames_done, self.plan.frames_of(s.task) if self.plan else 0)
            if s.status in ("skipped", "failed") else s.frames_done
            for s in self._states.values()
        )

    @property
    def done(self) -> bool:
        """Whether every task is finished (or the run failed)."""
        return self.phase == "failed" or all(s.finished for s in self._states.values())

    @property
    def ok(self) -> bool:
        """Whether the run did not fail and every task is done or skipped."""
        return self.error is None and all(s.status in ("done", "skipped") for s in self._states.values())

    # ------------------------------------------------------------------ updating
    def apply(self, event: Event) -> TaskState | None:
        """Fold one event into the session; return the task state it changed (``None``: run-level).

        Raises
        ------
        KeyError
            For a task event of a task that is not part of the plan.
        TypeError
            For an object that is not an event.
        """
        if isinstance(event, Planned):
            self._set_plan(event.plan)
            self.notes = tuple(event.notes)
            return None
        if isinstance(event, ModelLoading):
            self.phase, self.model_state, self.model_name = "loading", "loading", event.what
            return None
        if isinstance(event, ModelLoaded):
            self.phase, self.model_state = "running", "loaded"
            self.model_description = dict(event.description)
            return None
        if isinstance(event, RunFailed):
            self.phase, self.error = "failed", event.message
            if self.model_state == "loading":
                self.model_state = "not loaded"
            return None
        if not isinstance(event, (TaskStarted, FrameDone, TaskDone, TaskSkipped, TaskFailed, TaskCancelled)):
            raise TypeError(f"not a run event: {event!r}")
        state = self._states.get(event.task.key)
        if state is None:
            raise KeyError(f"event for a task that is not in the plan: {event.task.key}")
        if self.phase in ("new", "planned", "loading"):
            self.phase = "running"
        if isinstance(event, TaskStarted):
            state.status, state.n_frames = "running", event.n_frames
        elif isinstance(event, FrameDone):
            state.status = "running"
            state.frames_done += 1
            state.n_frames = event.n_frames
            state.n_objects = event.n_objects
        elif isinstance(event, TaskDone):
            state.status, state.reason = "done", ""
            state.mask_path, state.log_path = event.mask_path, event.log_path
            state.extra_paths = list(event.extra_paths)
            state.warnings = tuple(event.warnings)
            state.frames_done, state.n_frames, state.seconds = event.n_frames, event.n_frames, event.seconds
        elif isinstance(event, TaskSkipped):
            state.status, state.reason = "skipped", event.reason
            state.other_parameters = event.other_parameters
            state.mask_path = event.task.names.mask if event.output_exists else None
        elif isinstance(event, TaskFailed):
            state.status, state.reason, state.details = "failed", event.reason, event.details
        else:
            state.status, state.reason = "cancelled", "cancelled: nothing written"
        return state

    def finish(self, reason: str = "not run") -> list[TaskState]:
        """The run is over: tasks still pending or running become cancelled with ``reason``.

        After a run-level failure (:attr:`error`: a model that cannot be loaded, colliding outputs) they
        become *failed* instead, with that error as the reason: nobody cancelled them.
        Returns the states this changed (none after a complete run).
        """
        changed = []
        for s in self._states.values():
            if not s.finished:
                if self.error is not None:
                    s.status, s.reason = "failed", f"{reason}: {self.error}"
                elif s.status == "running":  # under way when the run stopped: it did start
                    s.status, s.reason = "cancelled", "stopped before its end: nothing written"
                else:
                    s.status, s.reason = "cancelled", reason
                changed.append(s)
        if self.phase != "failed":
            self.phase = "finished"
        return changed

    def _set_plan(self, plan: Plan) -> None:
        self.plan = plan
        self._states = {t.key: TaskState(t, plan.frames_of(t)) for t in plan.tasks}
        self.phase = "planned"
