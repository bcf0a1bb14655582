"""Show results as they come: each finished frame lands in the Labels layer of its own output, without Qt.

Only the output viewed holds layers and a ``(T, Y, X)`` buffer (``(T, Z, Y, X)`` for a volume run); others
are on disk and open on request. What is shown when is decided by :class:`napari_batchseg.live.LiveModel`,
whose commands a :class:`Scheduler` applies when due on the pooled pair of layers (:class:`.LayerPool`).
The napari side (``_napari._stream``) gives the timer, the threads and the repaint hold.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

from ..events import FrameDone, Task, TaskEvent, TaskStarted
from ..io.sources import SourceInfo
from ..live import Command, Drop, FinishShow, LiveModel, MoveSlider, Refresh, Show
from ..live.volumes import Stored
from ..params import SegmentationParams
from ..results import quick_range
from ..runners.session import RunSession, TaskState
from . import buffers, layer_ops
from .buffers import TaskView
from .early_input import read_first_input
from .layer_files import layer_meta
from .layer_pool import LayerPool
from .repaint_policy import within
from .result_showing import ResultShowing, layer_label, layer_output, skipped_to_show, t_offset
from .slider import slider_slot
from .stream_layers import PLACEHOLDER, cancelled_name, reusable_pair, streamed_label
from .volume_store import Submitter, VolumeStore

__all__ = ["Scheduler", "Streamer"]


class Scheduler(Protocol):
    """Applies the live model's commands when they are due (the napari side's one timer)."""

    def on(self, kind: type, handler: Callable[[Any], None]) -> None:
        """Apply commands of type ``kind`` with ``handler``."""

    def apply(self, commands: Iterable[Command]) -> None:
        """Apply ``commands`` now, then wait for the next one due."""

    def poke(self) -> None:
        """The model's schedule may have changed."""

    def close(self) -> None:
        """Apply nothing more."""


#: the method's layer changes run in the streamer's ``work`` context (napari: the repaint hold)
_held = within(lambda streamer: streamer.work())


class Streamer:
    """Owns the streamed layers of the viewer; fed by the widget with engine events.

    ``scheduler`` applies the commands of ``live``; ``background`` runs the reads and volume stores;
    ``message.emit(text)`` tells the user; ``work()`` is the context of every layer change.
    """

    def __init__(self, viewer: Any, live: LiveModel, scheduler: Scheduler, background: Submitter,
                 message: Any, work: Callable[[], contextlib.AbstractContextManager[None]]) -> None:
        self.viewer, self.live, self.scheduler = viewer, live, scheduler
        self.message, self.work, self.background = message, work, background
        self.pool = LayerPool(viewer, message.emit)
        handlers: tuple[tuple[type, Any], ...] = (
            (Show, self._show_cmd), (FinishShow, lambda _c: self._next_part()),
            (MoveSlider, lambda c: self.pool.move_slider(c.key, c.index)),
            (Refresh, lambda c: self.pool.refresh(c.frames)), (Drop, self._drop_cmd))
        for kind, handler in handlers:
            scheduler.on(kind, handler)
        self.results = ResultShowing(self)
        #: buffers of outputs being produced and shown
        self.views: dict[str, TaskView] = {}
        self._closed: set[str] = set()
        self.session: RunSession | None = None  #: the run shown (which outputs are running)
        self.loading: set[str] = set()  #: outputs being read from disk by a worker (shown when read)
        self._closing = False
        #: the pair of layers was made at this run's Run and nothing of the run was shown in it yet (no
        #: frame, no result read): a run ending so removes it (:meth:`run_finished`)
        self.unfilled = False
        #: volumes stored into their output's buffers by a worker, in order (see ``live.volumes``)
        self.volumes = VolumeStore(live, background, self._stored, self.task_done, message.emit,
                                   scheduler.poke)
        viewer.layers.events.removed.connect(self._on_removed)
        viewer.dims.events.current_step.connect(self.results.on_step)

    @property
    def follow(self) -> bool:
        """Follow the run: show each output as it starts, and its newest frame."""
        return self.live.follow

    @follow.setter
    def follow(self, on: bool) -> None:
        self.live.follow = on

    def close(self) -> None:
        """Stop following the viewer (the widget is closing); placeholder layers no output took go.

        The run is cancelled with the widget: the layers of outputs still running say so, as after Cancel;
        the pair made at Run goes if the run showed nothing in it.
        """
        self._closing = True
        unfilled = self._run_keys() if self.unfilled else set()
        for key in list(self.live.running):
            labels, _ = self.layers_for(key)
            with contextlib.suppress(Exception):  # napari may be tearing down
                if labels is not None:
                    labels.name = cancelled_name(labels.name)
        self.pool.drop_image_step()
        self.scheduler.close()
        with contextlib.suppress(Exception):  # never connected, or the viewer is gone already
            self.viewer.layers.events.removed.disconnect(self._on_removed)
        with contextlib.suppress(Exception):
            self.viewer.dims.events.current_step.disconnect(self.results.on_step)
        with contextlib.suppress(Exception):  # napari may be tearing down
            self.pool.remove_placeholders(unfilled)

    def layers_for(self, key: str | None) -> tuple[Any, Any]:
        """``(labels_layer, image_layer)`` of an output (``None`` where absent)."""
        return self.pool.layers_for(key)

    @_held
    def show_arrays(self, view: TaskView, contrast: tuple[float, float] | None = None) -> None:
        """Show ``view``'s arrays as its output in the stream layers (:meth:`LayerPool.show`)."""
        key = view.key
        self.finish_image_step()
        self.results.wanted = key
        # buffers of finished outputs no longer shown are dropped (shown again, they are read from disk)
        self.views = {k: v for k, v in self.views.items() if k == key or k in self.live.running}
        split = self.pool.show(view, self.live.viewed, contrast,
                               lambda: buffers.latest_contrast(self.views.get(key)))
        if split is not None:  # (``None``: not shown beside layers kept in other units; the pool said so)
            self.unfilled = self.unfilled and not (view.frames_seen or view.mask_path is not None)
            self.live.shown(key, split)
            self._closed.discard(key)
        self.scheduler.poke()

    @property
    def settled(self) -> bool:
        """Nothing is being read or stored for display and no layer change is left for a later turn."""
        return not self.loading and not self.live.switching and not self.volumes.busy

    def _next_part(self) -> None:
        """The next part of the last switch of the layers (:class:`FinishShow`; one per turn)."""
        key, more = self.pool.next_part()
        if more:
            self.live.split_more()
            self.scheduler.poke()
        else:
            self._switched(key)

    def finish_image_step(self) -> None:
        """Do the rest of the last switch of the layers now if :meth:`show_arrays` left it for later."""
        self._switched(self.pool.finish_image())

    def _switched(self, key: str | None) -> None:  # the layers show output ``key`` wholly now
        self.live.split_done()
        if key == PLACEHOLDER:  # made at Run: on the run's first frame (not a user layer's later one)
            self.pool.move_slider(PLACEHOLDER, 0)
        self.results.select(key)
        if key is not None:
            self.live.refresh(key)
            self.scheduler.poke()

    @_held
    def update(self, state: TaskState, event: TaskEvent) -> None:
        """Follow one task event, already applied to :attr:`session` (``state``: its task's state)."""
        if isinstance(event, FrameDone):
            self.frame_done(event)
        elif isinstance(event, TaskStarted):
            self.task_started(state.task, state.n_frames)
        elif state.status == "done" and state.mask_path is not None:
            self.task_done(state.task, state.mask_path)
        elif state.status in ("failed", "cancelled"):
            self.task_ended(state.task, state.status)
        self.scheduler.poke()

    @_held
    def prepare_run(self, first: SourceInfo | None = None, params: SegmentationParams | None = None,
                    plan: Any = None) -> None:
        """Make sure a pair of stream layers is there for the run: reused, else placeholders made now.

        Shaped and placed for the first file's output, added in turns after this one (see
        :meth:`LayerPool.placeholders`): the Run click itself adds no layer.
        """
        self.live.run_started()
        self.unfilled = False
        if self.follow and not self._output_pair():
            split = self.pool.placeholders(first, params, plan)
            if split is not None:  # (``None``: not shown beside layers kept in other units)
                self.unfilled = True
                self.live.shown(PLACEHOLDER, split)
                self.scheduler.poke()

    def drop_placeholders(self, also: set[str] | frozenset[str] = frozenset()) -> None:
        """Remove the placeholder pair (and the layers of outputs ``also``: a run that showed nothing)."""
        if self.live.viewed == PLACEHOLDER or self.live.viewed in also:  # a part left is not done
            self.pool.drop_image_step()
            self.live.split_done()
            self.live.viewed = None
        for key in also:
            self.views.pop(key, None)
        self.pool.remove_placeholders(also)

    def _run_keys(self) -> set[str]:  # the outputs of the run shown (the layers may be pointed at)
        keys = {state.key for state in self.session.tasks} if self.session is not None else set()
        return keys | ({self.live.viewed} if self.live.viewed is not None else set())

    def _output_pair(self) -> bool:  # an output's unedited layers are there, to be reused by the next run
        viewed = self.live.viewed
        return viewed != PLACEHOLDER and reusable_pair(self.viewer.layers, "", viewed)[0] is not None

    def _params(self, task: Task) -> SegmentationParams | None:  # ``None``: no plan known
        plan = self.session.plan if self.session is not None else None
        return plan.params_for(task) if plan is not None else None

    def task_started(self, task: Task, n_frames: int) -> None:
        """Prepare display buffers for an output that starts; show it now, later or not (see ``live``)."""
        labels, _ = self.layers_for(task.key)
        if labels is not None and layer_meta(labels).get("dirty"):  # this run rewrites their file
            stale = f"a later run rewrote {task.names.mask.name}"
            layer_ops.set_apart(self.viewer.layers, task.key, stale=stale)
        n_slots = n_frames if task.info is None else \
            buffers.display_shape(task.info, n_frames, self._params(task))[0][0]
        decision = self.live.output_started(task.key, n_slots)
        if decision != "skip":
            # "wait": switched a moment ago (short outputs in a row): its frames go to its buffers
            view = self.start_view(task, n_frames, show=decision == "show")
            if decision == "show" and view.labels.ndim == 3 and not layer_output(task):
                self._early_input(task, view)

    def _early_input(self, task: Task, view: TaskView) -> None:
        """Read the output's first input frame in a worker; shown until the engine's first frame comes."""
        params = self._params(task)

        @_held
        def shown(self: Streamer, image: Any) -> None:
            late = view.frames_seen or image.shape != view.image.shape[1:]
            if late or self.views.get(task.key) is not view:
                return  # its first frame came first (or another output is shown now)
            view.image[0] = image
            _, layer = self.layers_for(task.key)
            if layer is not None:
                layer_ops.set_contrast(layer, quick_range(image))
            self.pool.refresh([(task.key, None)])

        if params is not None:
            self.background.submit(read_first_input, task, params, on_item=lambda image: shown(self, image),
                                   on_error=lambda _exc: None, name="batchseg-early-input")

    def _show_cmd(self, cmd: Show) -> None:  # the output that waited for its turn, from its buffers
        view = self.views.get(cmd.key)
        if view is None:
            return
        self.finish_image_step()  # the layers to reuse are complete
        if view.labels.ndim == 3:  # (a volume movie is not copied on the GUI thread: its own buffers go)
            reused = buffers.same_buffers(self.viewer.layers, cmd.key, self.live.viewed, view.labels.shape,
                                          view.labels.dtype)
            if reused is not None:
                buffers.take_over(view, reused)
        self.show_arrays(view)
        self.live.shown_late(cmd.key)  # on its newest frame, as if followed all along (a moment later)

    def _drop_cmd(self, cmd: Drop) -> None:  # its buffers were kept only to be shown
        if cmd.key != self.live.viewed and cmd.key not in self.live.running:
            self.views.pop(cmd.key, None)

    def start_view(self, task: Task, n_frames: int, show: bool = True) -> TaskView:
        """Display buffers for a running output (shown now when ``show``)."""
        info = task.info
        if info is None:  # callers pass started tasks, which have their file's metadata
            raise RuntimeError(f"{task.label}: no metadata to show it with")
        params = self._params(task)
        shape, latest_only = buffers.display_shape(info, n_frames, params)
        scale = buffers.display_scale(info.pixel_size, len(shape))
        # drop buffers of outputs no longer viewed (their layers keep their own data)
        self.views = {k: v for k, v in self.views.items() if k in self.live.running and k != task.key}
        if show:
            self.finish_image_step()  # the layers to reuse are complete (the placeholders' labels too)
        reused = None  # a 2D run's buffers are reused (cleared); a volume run's are new
        if show and len(shape) == 3:
            reused = buffers.same_buffers(self.viewer.layers, task.key, self.live.viewed, shape)
        labels, image = buffers.new_buffers(shape, reused)
        view = TaskView(task.key, streamed_label(layer_label(task), len(shape), latest_only),
                        max(int(n_frames), 1), labels, image, scale, info.pixel_size, latest_only,
                        first_frame=buffers.first_frame_of(task, params), t_offset=t_offset(task),
                        first_z=buffers.first_slice_of(params, len(shape)))
        self.views[task.key] = view
        if show:
            self.show_arrays(view)
            self.pool.move_slider(task.key, 0)  # its first frame is the first to come (followed from there)
            self.live.refresh(task.key)
        return view

    def frame_done(self, event: FrameDone) -> None:
        """Store a finished frame in its output's buffer; its layers follow the live model's schedule."""
        view = self.views.get(event.task.key)
        if view is None:
            return
        if view.labels.ndim == 4 and event.labels is not None:
            # the run shows it (its layers are there): their pair stays when the run ends before it is stored
            self.unfilled = self.unfilled and not any(self.layers_for(event.task.key))
            self.volumes.store(event, view)  # a (Z, Y, X) volume: stored by a worker, then shown (_stored)
            return
        buffers.store_frame(view, event, self.layers_for(event.task.key)[0])
        first = event.image if view.frames_seen == 0 else None  # its contrast is the layer's
        self._shown_frame(event, view, quick_range(first) if first is not None else None)

    def _stored(self, event: FrameDone, view: TaskView, stored: Stored | None) -> None:
        if stored is None or self._closing:  # (it could not be stored)
            return
        if stored.labels is not None:  # ids above 65535: the buffer became uint32
            view.labels = stored.labels
            labels, _ = self.layers_for(event.task.key)
            if labels is not None and labels.data is not stored.labels and self.views.get(view.key) is view:
                labels.data = stored.labels
        self._shown_frame(event, view, stored.contrast)

    def _shown_frame(self, event: FrameDone, view: TaskView, contrast: tuple[float, float] | None) -> None:
        """A frame (or volume) is in ``view``'s buffers: placed, and its layers refreshed."""
        i = event.index
        slot = 0 if view.latest_only else i
        first = view.frames_seen == 0
        view.frames_seen += 1
        labels, image = (None, None) if event.task.key in self._closed else self.layers_for(event.task.key)
        if first and image is not None and contrast is not None:
            layer_ops.set_contrast(image, contrast)
        if first and labels is not None and not view.latest_only and event.t - i != view.first_frame:
            buffers.place(view, (labels, image), event.t - i)  # the plan said otherwise (not expected)
        on_screen = labels is not None or image is not None
        self.unfilled = self.unfilled and not on_screen
        self.live.frame(event.task.key, slot, slider_slot(self.viewer.dims, labels), on_screen)
        view.last_index = slot

    def task_done(self, task: Task, mask_path: Path) -> None:
        """An output is on disk: its layer can now be corrected and saved.

        Its buffers are dropped unless on screen: shown again, it is read from its (maybe corrected) file.
        """
        if self.live.done_waits(task.key):  # volumes of it are still being stored: done once they are
            self.volumes.done_later(task.key, mask_path)
            return
        labels, image = self.layers_for(task.key)
        if labels is not None:
            layer_meta(labels)["mask_path"] = str(mask_path)
        view = self.views.get(task.key)
        if view is not None:
            view.mask_path = mask_path
            if labels is None and image is None and task.key != self.live.waiting:
                del self.views[task.key]
        on_screen = view is not None and labels is not None
        if on_screen and view is not None and (view.volume or view.latest_only and view.labels.ndim == 4):
            # volumes it had no buffers for, or only the latest one: the whole result, from its mask file
            self.results.load_later(task, mask_path, None, "done")
        slot = slider_slot(self.viewer.dims, labels)
        self.scheduler.apply(self.live.output_done(task.key, slot, on_screen))
        if labels is not None and labels.visible:
            labels.refresh(highlight=False, extent=False)  # its thumbnail too (the layer list shows it)

    def task_ended(self, task: Task, status: str) -> None:
        """An output failed or was cancelled: say so on its layers (one waiting for its turn still waits)."""
        labels, _ = self.layers_for(task.key)
        if labels is not None and status == "cancelled":
            labels.name = cancelled_name(labels.name)  # (napari ignores setting the same name)
        if task.key not in (self.live.viewed, self.live.waiting):
            self.views.pop(task.key, None)
        self.scheduler.apply(self.live.output_ended(task.key))

    @_held
    def run_finished(self) -> None:
        """The run is over: the output that waited is shown, what is pending too.

        The pair made at Run goes if no output took it, or if nothing of the run was shown in it and no
        output was cancelled (every file failed): no layer of this tool is left that shows nothing. A
        Cancel keeps its output's pair, renamed. An existing output the run skipped is shown instead,
        while following.
        """
        self.scheduler.apply(self.live.run_finished())
        if self.session is not None:
            for state in self.session.tasks:
                if state.status in ("failed", "cancelled") and any(self.layers_for(state.key)):  # untold
                    self.task_ended(state.task, state.status)
        untaken = self.live.viewed == PLACEHOLDER  # no output took the placeholders
        # a Cancel keeps its output's pair, "(cancelled, not saved)": removing layers is napari's slowest
        # change (~1 s here), and the dock must be free at once after a Cancel (issue 20)
        cancelled = self.session is not None and any(s.status == "cancelled" for s in self.session.tasks)
        shown_nothing = self.unfilled and not cancelled
        if untaken or shown_nothing:
            self.drop_placeholders(self._run_keys() if shown_nothing else frozenset())
        self.unfilled = False
        if untaken:
            kept = skipped_to_show(self.session.tasks) if self.follow and self.session is not None else None
            if kept is not None and kept.mask_path is not None:
                self.results.load_later(kept.task, kept.mask_path, self._params(kept.task), "skipped", True)
        self.finish_image_step()
        self.scheduler.apply(self.live.settle())

    def show(self, task: Task, status: str, params: Any) -> bool:
        """Show an output chosen in the status table (see :meth:`ResultShowing.show`)."""
        return self.results.show(task, status, params)

    def _on_removed(self, event: Any) -> None:
        m = layer_meta(event.value)
        if m.get("stream"):
            layer_ops.release(event.value.data)
        key = m.get("task_key")
        if key and m.get("stream"):
            labels, image = self.layers_for(key)
            if labels is None and image is None:
                self._closed.add(key)
                if key == PLACEHOLDER and self.live.viewed == PLACEHOLDER:
                    self.live.viewed = None

