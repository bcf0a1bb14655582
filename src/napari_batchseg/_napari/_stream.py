"""Show results as they come: each finished frame lands in the Labels layer of its own output.

Layers are found by the task key stored in ``layer.metadata["batchseg"]``, never by name, selection or
position, so a result always reaches its own layer whatever the user does meanwhile. Only the output
being viewed holds layers and a ``(T, Y, X)`` buffer; other outputs are on disk and open on request.

Keeping the GUI thread free: adding a napari layer costs far more than updating one, so one pair of
layers (prepared input + labels) is created, hidden, when the widget opens and then reused from output
to output (same-shape buffers are even reused in place). Frames are written into the buffer at once, but the
screen is refreshed at most every ``REFRESH_MS`` and only when the updated frame is the one on screen;
following the newest frame moves napari's slider at most every ``FOLLOW_MS``, and following the run
switches the layers to another output at most every ``FOLLOW_MS`` too (short outputs in a row, e.g. a
plate of single images on a GPU: an output started sooner waits in its own buffers; one overtaken by a
later output is never shown; the run's last output is shown as soon as the run ends).
A reopened result's input frames are prepared ahead in a worker.

An output of frames 40-44 sits at T = 40-44 (``translate`` of both layers), over its input's frames,
while it streams and when it is reopened, as the reader places it (File > Open). A finished output is
always reopened from its mask file (the layer then knows the file, so its corrections can be saved).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from qtpy.QtCore import QObject, QTimer, Signal

from ..events import FrameDone, Task, TaskEvent, TaskStarted
from ..io.sources import PixelSize, SourceInfo
from ..runners.session import RunSession, TaskState
from ._buffers import TaskView, buffer_shape, first_frame_of
from ._layerops import (
    AXES,
    EDITED,
    LABELS_DTYPE,
    PLACEHOLDER,
    _extent,
    _is_buffer,
    _quick_range,
    _release,
    _retarget,
    _set_contrast,
    _set_units,
    frame_translate,
    layer_meta,
    mark_edited,
    mark_saved,
)
from ._lazy import PlaneArray
from ._placeholders import PREPARE_STEP_MS, PlaceholderLayers
from ._reader import META_KEY, yx_scale
from ._reopen import LoadedResult, load_result, prefetch_planes
from ._repaint import after_repaint, holds_repaint, layer_work
from ._results import ResultShowing, _layer_label, _t_offset
from ._worker import Background

__all__ = [  # names other modules and the tests import from here
    "EDITED", "LABELS_DTYPE", "PLACEHOLDER", "PREPARE_STEP_MS", "LayerStreamer", "LoadedResult", "TaskView",
    "buffer_shape", "layer_meta", "load_result", "mark_edited", "mark_saved", "prefetch_planes",
]

REFRESH_MS = 40
#: following the run moves napari's frame slider at most this often (each move re-slices every layer:
#: 25-35 ms of napari's work here); frames arriving faster are all stored, the newest one is shown
FOLLOW_MS = 1000
#: pause between the labels and the image layer's halves of pointing the stream layers elsewhere
SPLIT_MS = 20
#: an output shown late (it waited for its turn) moves the slider to its newest frame this long after
#: the switch (the frames it kept meanwhile are there already; the move re-slices every layer again)
SWITCH_MOVE_MS = 250
#: suffix of a cancelled output's layer name (nothing of it was written)
CANCELLED = " (cancelled, not saved)"


def _follow_wait_ms(since: float) -> float:
    """Milliseconds left of the ``FOLLOW_MS`` that follow ``since`` (a ``time.perf_counter()``)."""
    return FOLLOW_MS - (time.perf_counter() - since) * 1000


class LayerStreamer(PlaceholderLayers, ResultShowing, QObject):
    """Owns the streamed layers of the viewer; fed by the widget with engine events."""

    message = Signal(str)
    #: the layers were just refreshed (other redraws done now share the window's next composition)
    refreshed = Signal()

    def __init__(self, viewer: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.viewer = viewer
        #: follow the run: show each output as it starts, and its newest frame
        self.follow = True
        #: the output whose layers are shown (key), and buffers of outputs being produced and shown
        self.viewed_key: str | None = None
        self.views: dict[str, TaskView] = {}
        self._closed: set[str] = set()
        #: the run being shown (which outputs are running comes from it)
        self.session: RunSession | None = None
        self._pending: dict[int, tuple[Any, int | None]] = {}
        #: where following the run moves the frame slider next (a T position in world coordinates)
        self._move_to: float | None = None
        self._move_axis = 0
        self._moved_at = 0.0
        #: the image layer's half of the last _show_arrays, due in the next turn of the event loop
        self._image_step: Callable[[], None] | None = None
        #: following the run switches the layers to another output at most every FOLLOW_MS: an output
        #: started sooner waits (its frames kept in its buffers) in ``_next_key``, shown when due
        self._next_key: str | None = None
        self._switched_at = -1e9
        self._switch_timer = QTimer(self)
        self._switch_timer.setSingleShot(True)
        self._switch_timer.timeout.connect(after_repaint(self._switch_now, self))
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(after_repaint(self.flush, self))
        #: outputs being read from disk by a worker (to be shown when read)
        self.loading: set[str] = set()
        #: the stream layers exist (see :meth:`prepare_layers_later`)
        self.prepared = False
        self._prepare_steps: list[Callable[[], None]] = []
        self._closing = False
        self.background = Background(self)
        self._prefetching: PlaneArray | None = None
        #: the output last asked for (a result read from disk for another one is not shown)
        self._wanted: str | None = None
        viewer.layers.events.removed.connect(self._on_removed)
        viewer.dims.events.current_step.connect(self._on_step)

    def close(self) -> None:
        """Stop following the viewer (the widget is closing)."""
        self._closing = True
        self._image_step = None
        self._next_key = None
        self._switch_timer.stop()
        self._timer.stop()
        self.background.close()
        with contextlib.suppress(Exception):
            self.viewer.layers.events.removed.disconnect(self._on_removed)
        with contextlib.suppress(Exception):
            self.viewer.dims.events.current_step.disconnect(self._on_step)

    # ------------------------------------------------------------------ layer lookup
    def layers_for(self, key: str | None) -> tuple[Any, Any]:
        """``(labels_layer, image_layer)`` of an output (``None`` where absent)."""
        labels = image = None
        if key is None:
            return None, None
        for layer in self.viewer.layers:
            m = layer_meta(layer)
            if m.get("task_key") != key:
                continue
            if m.get("role") == "mask" and labels is None:
                labels = layer
            elif m.get("role") == "prepared" and image is None:
                image = layer
        return labels, image

    def _reusable_pair(self, key: str) -> tuple[Any, Any]:
        """Layers to show ``key`` in: its own, else the viewed output's if unedited, else ``None``."""
        labels, image = self.layers_for(key)
        if labels is not None and not layer_meta(labels).get("dirty"):
            return labels, image
        if self.viewed_key is not None and self.viewed_key != key:
            old_labels, old_image = self.layers_for(self.viewed_key)
            if old_labels is not None and not layer_meta(old_labels).get("dirty"):
                return old_labels, old_image
        return None, None

    def _detach(self, key: str, keep: tuple[Any, ...] = (), stale: str | None = None) -> None:
        """Layers of ``key`` (but those in ``keep``) that hold edits stay as they are, apart from its frames.

        ``stale``: the output's file is about to be rewritten (a new run of it): their edits can no longer
        be saved into it (that would silently replace the new result); the reason goes in their metadata.
        """
        for layer in list(self.viewer.layers):
            m = layer_meta(layer)
            if m.get("task_key") != key or any(layer is k for k in keep):
                continue
            m["task_key"] = None
            m["stream"] = False
            if m.get("role") == "prepared" and layer.name.endswith(" (input)") and EDITED not in layer.name:
                # named with its edited mask (napari would call the next input layer "... (input) [1]")
                layer.name = f"{layer.name[: -len(' (input)')]}{EDITED} (input)"
            if m.get("role") == "mask":
                if not layer.name.endswith(EDITED):
                    layer.name = f"{layer.name}{EDITED}"
                if stale and m.get("mask_path"):
                    m["mask_path"], m["stale"] = None, stale

    @holds_repaint
    def _show_arrays(self, key: str, label: str, labels: Any, image: Any, scale: tuple[float, ...],
                     pixel_size: PixelSize, mask_path: Path | None, contrast: tuple[float, float] | None,
                     first_frame: int = 0, t_offset: float = 0.0) -> None:
        """Show ``labels`` and ``image`` of output ``key`` in the stream layers (reused, else added).

        ``first_frame``: the input frame of their first frame (both layers are placed at that T, plus
        ``t_offset``: where the input's frame 0 sits, for a napari layer moved along T).
        """
        self.finish_image_step()
        self._next_key = None  # any output shown replaces one waiting for its turn
        self._switch_timer.stop()
        self._wanted = key
        # buffers of finished outputs no longer shown are dropped (shown again, they are read from disk)
        self.views = {k: v for k, v in self.views.items() if k == key or self._is_running(k)}
        lab_layer, img_layer = self._reusable_pair(key)
        self._detach(key, keep=(lab_layer, img_layer))  # other layers of it hold edits: they stay apart
        old_extent = _extent(lab_layer)
        units = "µm" if pixel_size.x else "pixel"
        translate = frame_translate(first_frame, t_offset)
        labels_meta = {
            "role": "mask",
            "task_key": key,
            "stream": True,
            "mask_path": str(mask_path) if mask_path else None,
            "pixel_size": pixel_size.as_dict(),
            "dirty": False,
            "units": units,
            "first_frame": int(first_frame),
        }
        image_meta = {"role": "prepared", "task_key": key, "stream": True, "units": units}
        # units first, on both layers at once, before any change that can make napari draw
        for layer in (img_layer, lab_layer):
            if layer is not None:
                _set_units(layer, units)

        def show_image() -> Any:
            if img_layer is not None:
                _retarget(img_layer, image, scale, f"{label} (input)", image_meta, units, translate)
                return img_layer
            return self.viewer.add_image(
                image, name=f"{label} (input)", scale=scale, translate=translate,
                metadata={META_KEY: image_meta}, units=units, axis_labels=AXES,
            )

        def show_labels() -> Any:
            if lab_layer is not None:
                _retarget(lab_layer, labels, scale, label, labels_meta, units, translate)
                return lab_layer
            layer = self.viewer.add_labels(
                labels, name=label, scale=scale, translate=translate, metadata={META_KEY: labels_meta},
                units=units, axis_labels=AXES,
            )
            layer.events.paint.connect(lambda _e, lay=layer: mark_edited(lay))
            return layer

        def framed(lab: Any) -> None:
            if _extent(lab) != old_extent:
                self.viewer.reset_view()  # a new size (or a new layer): show it whole

        if img_layer is None or lab_layer is None:  # a layer to add: both now, the image one first (below)
            img = show_image()
            if contrast is not None:
                _set_contrast(img, contrast)
            framed(show_labels())
            self.viewed_key = key
            self._closed.discard(key)
            return
        # both layers exist: the labels one now, the image one a moment later (SPLIT_MS): each napari
        # data/scale setter costs 25-50 ms here, two in one turn are one long stall. Their units changed
        # together above (napari warns when it draws layers whose units differ).
        show_labels()
        self.viewed_key = key
        self._closed.discard(key)

        def image_step() -> None:
            if self._image_step is not image_step:
                return  # done already, or replaced by a later change
            self._image_step = None
            if not any(lay is img_layer for lay in self.viewer.layers):
                return  # the user closed it meanwhile
            with layer_work(self):
                show_image()
                view = self.views.get(key)
                if contrast is not None:
                    _set_contrast(img_layer, contrast)
                elif view is not None and view.frames_seen and view.last_index is not None:
                    _set_contrast(img_layer, _quick_range(view.image[view.last_index]))
                framed(lab_layer)
                self._refresh_soon((lab_layer, img_layer), None)

        self._image_step = image_step
        QTimer.singleShot(SPLIT_MS, after_repaint(image_step))  # not 0: Qt would run it in the same pass

    @property
    def settled(self) -> bool:
        """Nothing is being read for display and no layer change is left for a later turn."""
        return not self.loading and self._image_step is None and self._next_key is None

    def finish_image_step(self) -> None:
        """Retarget the image layer now if :meth:`_show_arrays` left that for the next turn."""
        if self._image_step is not None:
            self._image_step()

    def _is_running(self, key: str | None) -> bool:
        state = self.session.state(key) if self.session is not None and key is not None else None
        return state is not None and state.status == "running"

    # ------------------------------------------------------------------ run events
    @holds_repaint
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

    @holds_repaint
    def prepare_run(self, first: SourceInfo | None = None, n_frames: int = 1, first_frame: int = 0) -> None:
        """Make sure a pair of stream layers exists before the run (layer creation is the slow part).

        With the first file's metadata, the buffers get its shape, so its frames need no layer change;
        with the run's first frame (``start_frame``), they sit at that T already.
        """
        if not self.follow:
            return
        labels, _ = self._reusable_pair(self.viewed_key or "")
        if labels is not None:
            return
        steps, self._prepare_steps = self._prepare_steps, []
        for step in steps[:-1]:  # Run clicked before the idle steps ended: the rest now (not the hiding)
            step()
        steps.clear()
        self.after_prepare()
        self._raise_placeholders()
        shape = buffer_shape(first, n_frames)[0] if first is not None else (1, 1, 1)
        scale = (1.0, *yx_scale(first.pixel_size)) if first is not None else (1.0, 1.0, 1.0)
        ps = first.pixel_size if first is not None else PixelSize()
        key = f"{PLACEHOLDER}"
        labels, image = self.layers_for(PLACEHOLDER)
        hidden = labels is None or not labels.visible
        # buffers given their shape ahead (shape_placeholders_later) are kept: no napari setter then
        lab = labels.data if labels is not None and _is_buffer(labels.data, shape, LABELS_DTYPE) else None
        img = image.data if image is not None and _is_buffer(image.data, shape, np.float32) else None
        old_extent = _extent(labels)
        self._show_arrays(key, PLACEHOLDER, np.zeros(shape, LABELS_DTYPE) if lab is None else lab,
                          np.zeros(shape, np.float32) if img is None else img, scale, ps, None, None,
                          first_frame)
        if hidden and _extent(labels) == old_extent:
            self.viewer.reset_view()  # shaped while hidden: frame them now that they are shown

    def _first_frame(self, task: Task) -> int:
        """The input frame an output's first frame comes from (the run's ``start_frame``; 0 if unknown)."""
        plan = self.session.plan if self.session is not None else None
        return first_frame_of(task, plan.params if plan is not None else None)

    def task_started(self, task: Task, n_frames: int) -> None:
        """Prepare display buffers for an output that starts, and show it when following the run.

        While the viewed output is still running (parallel modes), a new one does not take its place.
        Layers of an earlier result of the same output that hold unsaved edits are set apart: this run
        rewrites the file they would be saved into.
        """
        labels, _ = self.layers_for(task.key)
        if labels is not None and layer_meta(labels).get("dirty"):
            self._detach(task.key, stale=f"a later run rewrote {task.names.mask.name}")
        viewed_busy = self.viewed_key != task.key and self._is_running(self.viewed_key)
        if task.key == self.viewed_key or (self.follow and not viewed_busy):
            wait_ms = _follow_wait_ms(self._switched_at)
            if task.key != self.viewed_key and wait_ms > 1:
                # switched a moment ago (short outputs in a row): shown when due, or not at all when
                # a later output starts meanwhile; its frames go to its buffers until then
                self._start_view(task, n_frames, show=False)
                self._next_key = task.key
                if not self._switch_timer.isActive():
                    self._switch_timer.start(int(wait_ms))
                return
            self._start_view(task, n_frames)
            self._switched_at = time.perf_counter()

    @holds_repaint
    def _switch_now(self) -> None:
        """Show the output that waited for its turn (see :meth:`task_started`), from its buffers."""
        key, self._next_key = self._next_key, None
        view = self.views.get(key) if key is not None else None
        if key is None or view is None:
            return
        if not self.follow or self._closing:  # the user chose what to look at meanwhile
            if key != self.viewed_key and not self._is_running(key):
                self.views.pop(key, None)  # its buffers were kept only to be shown
            return
        labels, image = view.labels, view.image
        old_labels, old_image = self._reusable_pair(key)
        if (
            old_labels is not None and old_image is not None
            and _is_buffer(old_labels.data, labels.shape, labels.dtype)
            and _is_buffer(old_image.data, image.shape, image.dtype)
        ):  # same shape as the layers' buffers: reused in place (no napari setter), as in _start_view
            seen = 0 if view.last_index is None else view.last_index + 1  # frames arrive in order
            for old, new in ((old_labels.data, labels), (old_image.data, image)):
                old[:seen] = new[:seen]
                old[seen:] = 0
            view.labels, view.image = old_labels.data, old_image.data
        self._show_arrays(key, view.label, view.labels, view.image, view.scale, view.pixel_size,
                          view.mask_path, None, view.first_frame, view.t_offset)
        self._switched_at = time.perf_counter()
        self._pending.clear()
        new_labels, new_image = self.layers_for(key)
        self._refresh_soon((new_labels, new_image), None)
        if view.last_index is not None and new_labels is not None and view.labels.shape[0] > 1:
            axis = self.viewer.dims.ndim - new_labels.ndim  # on its newest frame, as if followed all along
            if axis >= 0:
                self._aim_slider(new_labels, axis, view.last_index)
                # SWITCH_MOVE_MS after the switch: both re-slice every layer, together one long stall
                self._moved_at = time.perf_counter() - (FOLLOW_MS - SWITCH_MOVE_MS) / 1000

    def _start_view(self, task: Task, n_frames: int, show: bool = True) -> TaskView:
        info = task.info
        if info is None:  # callers pass started tasks, which have their file's metadata
            raise RuntimeError(f"{task.label}: no metadata to show it with")
        shape, latest_only = buffer_shape(info, n_frames)
        scale = (1.0, *yx_scale(info.pixel_size))
        # drop buffers of outputs no longer viewed (their layers keep their own data)
        self.views = {k: v for k, v in self.views.items() if self._is_running(k) and k != task.key}
        labels = image = None
        if show:
            old_labels, old_image = self._reusable_pair(task.key)
            if (
                old_labels is not None and old_image is not None
                and _is_buffer(old_labels.data, shape, LABELS_DTYPE)
                and _is_buffer(old_image.data, shape, np.float32)
            ):
                labels, image = old_labels.data, old_image.data  # reuse in place: no layer change
                labels.fill(0)
                image.fill(0)
        if labels is None or image is None:
            labels, image = np.zeros(shape, LABELS_DTYPE), np.zeros(shape, np.float32)
        label = _layer_label(task) + (" (latest frame)" if latest_only else "")
        view = TaskView(task.key, label, max(int(n_frames), 1), labels, image, scale, info.pixel_size,
                        latest_only, first_frame=self._first_frame(task), t_offset=_t_offset(task))
        self.views[task.key] = view
        if show:
            self._show_arrays(task.key, label, labels, image, scale, info.pixel_size, None, None,
                              view.first_frame, view.t_offset)
            self._pending.clear()
            self._refresh_soon(self.layers_for(task.key), None)
        return view

    def frame_done(self, event: FrameDone) -> None:
        """Store a finished frame in its output's buffer; refresh its layers soon if it is on screen."""
        view = self.views.get(event.task.key)
        if view is None:
            return
        i = event.index
        slot = 0 if view.latest_only else i
        if event.labels is not None and event.labels.shape == view.labels.shape[-2:]:
            if view.labels.dtype == LABELS_DTYPE and event.labels.size and int(event.labels.max()) > 65535:
                self._widen(view)
            view.labels[slot] = event.labels
        if event.image is not None and event.image.shape == view.image.shape[-2:]:
            view.image[slot] = event.image
        first = view.frames_seen == 0
        view.frames_seen += 1
        if event.task.key in self._closed:
            view.last_index = slot
            return
        labels, image = self.layers_for(event.task.key)
        if labels is None and image is None:
            view.last_index = slot
            return
        if first and image is not None and event.image is not None:
            _set_contrast(image, _quick_range(event.image))
        if first and not view.latest_only and event.t - i != view.first_frame:
            self._place(view, event.t - i)  # the plan said otherwise (not expected): where it really is
        if self.follow and labels is not None and view.labels.shape[0] > 1:
            axis = self.viewer.dims.ndim - labels.ndim
            current = self._slider_index(labels, axis)
            # follow only while the slider sits on the newest frame (a move may still be pending)
            at_newest = self._move_to is not None or view.last_index is None or current == view.last_index
            if axis >= 0 and at_newest and current != slot:
                self._aim_slider(labels, axis, slot)  # done in flush: one move per burst
        view.last_index = slot
        self._refresh_soon((labels, image), slot)

    def _follow_to_last(self, view: TaskView, labels: Any) -> None:
        """An output is done: when following, the slider ends on its last frame.

        Unless the user took the slider elsewhere: it is left alone when more than one frame back.
        """
        if not self.follow or labels is None or view.last_index is None or view.labels.shape[0] < 2:
            return
        axis = self.viewer.dims.ndim - labels.ndim
        current = self._slider_index(labels, axis)
        if axis >= 0 and current is not None and view.last_index - 1 <= current < view.last_index:
            self._aim_slider(labels, axis, view.last_index)

    def _aim_slider(self, labels: Any, axis: int, index: int) -> None:
        """The next move of napari's slider (done in :meth:`flush`) goes to frame ``index`` of ``labels``.

        A position in world coordinates: the layers sit at their first frame's T.
        """
        self._move_to = float(labels.translate[0] + index * labels.scale[0])
        self._move_axis = axis

    def _slider_index(self, layer: Any, axis: int) -> int | None:
        """Index along T of ``layer``'s frame at napari's slider position (``None``: no such axis)."""
        if axis < 0:
            return None
        point = self.viewer.dims.point[axis]
        return int(round((point - layer.translate[0]) / layer.scale[0]))

    def _place(self, view: TaskView, first_frame: int) -> None:
        """Move an output's layers (both: they stay aligned) to T = ``first_frame``."""
        view.first_frame = first_frame
        translate = frame_translate(first_frame, view.t_offset)
        for layer in self.layers_for(view.key):
            if layer is not None and tuple(layer.translate) != translate:
                layer.translate = translate
                layer_meta(layer)["first_frame"] = first_frame

    def _widen(self, view: TaskView) -> None:
        """A frame has ids above 65535: the output's buffer (and its layer) become uint32."""
        view.labels = view.labels.astype(np.uint32)
        labels, _ = self.layers_for(view.key)
        if labels is not None:
            labels.data = view.labels

    def _refresh_soon(self, layers: tuple[Any, Any], index: int | None) -> None:
        for layer in layers:
            if layer is not None:
                self._pending[id(layer)] = (layer, index)
        if self._pending and not self._timer.isActive():
            self._timer.start(REFRESH_MS)

    def _displayed_index(self, layer: Any) -> int | None:
        dims = self.viewer.dims
        if dims.ndisplay == 3 or layer.ndim < 3:
            return None
        axis = dims.ndim - layer.ndim
        return int(round((dims.point[axis] - layer.translate[0]) / layer.scale[0]))

    def refresh_due_ms(self) -> float | None:
        """Milliseconds until the layers are next refreshed on screen (``None``: no refresh pending)."""
        if not self._timer.isActive() or (self._move_to is None and not self._pending):
            return None
        due = float(self._timer.remainingTime())
        if self._move_to is not None:  # a move waits for FOLLOW_MS after the last one (see flush)
            due = max(due, _follow_wait_ms(self._moved_at))
        return due

    @holds_repaint
    def flush(self, now: bool = False) -> None:
        """Follow the newest frame, or refresh the layers whose on-screen frame changed.

        A move within ``FOLLOW_MS`` of the last one waits, unless ``now`` (an output's last frame).
        """
        if self._move_to is not None and not now:
            wait_ms = _follow_wait_ms(self._moved_at)
            if wait_ms > 1:  # moved a moment ago: the next move (and refreshes meanwhile) a bit later
                self._timer.start(int(wait_ms))
                return
        pending, self._pending = self._pending, {}
        if self._move_to is not None:
            move_to, self._move_to = self._move_to, None
            if self._move_axis < self.viewer.dims.ndim:
                self.viewer.dims.set_point(self._move_axis, move_to)  # re-slices every layer
                self._moved_at = time.perf_counter()
                self.refreshed.emit()
                return
        present = {id(layer) for layer in self.viewer.layers}
        for key, (layer, index) in pending.items():
            if key not in present or not layer.visible:
                continue
            shown = self._displayed_index(layer)
            if index is None or shown is None or shown == index:
                layer.refresh(thumbnail=False, highlight=False, extent=False)
        if pending:
            self.refreshed.emit()

    def task_done(self, task: Task, mask_path: Path) -> None:
        """An output is on disk: its layer can now be corrected and saved.

        Its display buffers are dropped unless on screen: shown again later, it is read from its file
        (which corrections may have changed meanwhile), never from memory.
        """
        labels, image = self.layers_for(task.key)
        if labels is not None:
            layer_meta(labels)["mask_path"] = str(mask_path)
        view = self.views.get(task.key)
        if view is not None:
            view.mask_path = mask_path
            if labels is None and image is None and task.key != self._next_key:
                del self.views[task.key]
            else:
                self._follow_to_last(view, labels)
        self.flush(now=True)
        if labels is not None and labels.visible:
            labels.refresh(highlight=False, extent=False)  # its thumbnail too (the layer list shows it)

    def task_ended(self, task: Task, status: str) -> None:
        """An output failed or was cancelled: say so on its layers (nothing was written).

        One waiting for its turn keeps waiting (shown when due, or when the run ends, then named).
        """
        labels, _ = self.layers_for(task.key)
        if labels is not None and status == "cancelled" and not labels.name.endswith(CANCELLED):
            labels.name = f"{labels.name}{CANCELLED}"
        if task.key not in (self.viewed_key, self._next_key):
            self.views.pop(task.key, None)
        self.flush()

    def run_finished(self) -> None:
        """The run is over: outputs it ended without telling (see below) say so, then as the mixin.

        After Cancel, the widget frees itself once the run's thread has had ``GRACE_MS`` to report its
        end; a thread still inside a frame then reports nothing more, and the outputs the session marks
        cancelled at the end never reach :meth:`update`.
        """
        if self._next_key is not None:  # the run's last output waited for its turn: shown now
            self._switch_timer.stop()
            self._switch_now()
        self._switched_at = -1e9  # the next run's first output is shown at once
        if self.session is not None:
            for state in self.session.tasks:
                if state.status in ("failed", "cancelled") and any(self.layers_for(state.key)):
                    self.task_ended(state.task, state.status)
        super().run_finished()

    # ------------------------------------------------------------------ user closed a layer
    def _on_removed(self, event: Any) -> None:
        m = layer_meta(event.value)
        if m.get("stream"):
            _release(event.value.data)
        key = m.get("task_key")
        if key and m.get("stream"):
            labels, image = self.layers_for(key)
            if labels is None and image is None:
                self._closed.add(key)


