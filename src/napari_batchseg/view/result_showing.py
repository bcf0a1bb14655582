"""Showing an output the user asks for (status table, scripts): from its display buffers or its mask file.

Without Qt: used by the napari plugin's layer streamer (``_napari._stream.LayerStreamer``, see
:class:`Streams`), whose background jobs read the files. A running output is shown from its
buffers; any other is read from its mask file by a worker and shown when read, so that its layer knows
the file (corrections can be saved) and shows what the file holds now; only the output asked for last
is shown. The frames of a reopened input are prepared ahead, in a worker, as the user moves through
them.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from ..events import Task
from ..io.lazy import PlaneArray
from ..params import SegmentationParams
from ..results import LoadedResult, load_result, prefetch_planes
from ..runners.session import TaskState
from .buffers import TaskView
from .slider import displayed_index, into_frames

#: frames of a reopened input prepared ahead of the one on screen, in a worker (its cache holds 8)
PREFETCH = 4


def _extra(task: Task) -> dict[str, Any]:
    """What the input's source recorded beyond its metadata (a napari layer's name, its T translate)."""
    extra = task.info.extra if task.info is not None else None
    return extra if isinstance(extra, dict) else {}


def layer_output(task: Task) -> bool:
    """Whether ``task`` segments a napari layer (its input is in memory), not a file."""
    return bool(_extra(task).get("napari_layer"))


#: what the stream labels layer of a napari layer's output adds to its name
MASK_SUFFIX = " mask"


def layer_label(task: Task) -> str:
    """The stream layers' name for an output: its file's name, or ``<layer> mask`` for a napari layer's.

    The user's own layer keeps its name (napari would call ours ``<layer> [1]``).
    """
    return f"{task.label}{MASK_SUFFIX}" if layer_output(task) else task.label


def image_layer_name(label: str) -> str:
    """The stream image layer's name beside the labels layer ``label``.

    ``<file> (input)``; ``<layer> (input)`` for a napari layer's output (not ``<layer> mask (input)``).
    """
    return f"{label.removesuffix(MASK_SUFFIX)} (input)"


def t_offset(task: Task) -> float:
    """Where a napari layer's frame 0 sits along T (its own ``translate``; 0 for files)."""
    return float(_extra(task).get("t_translate", 0.0) or 0.0)


def skipped_to_show(states: Iterable[TaskState]) -> TaskState | None:
    """The output to show when a run ended without producing one: the first it skipped whose mask exists.

    Pressing Run again on a file segmented before skips it (the default): its mask, not empty
    placeholder layers, is what the user wants to look at (and correct).
    """
    return next((s for s in states if s.status == "skipped" and s.mask_path is not None), None)


class Streams(Protocol):
    """What :class:`ResultShowing` needs of the layer streamer (``_napari._stream.LayerStreamer``)."""

    viewer: Any
    views: dict[str, TaskView]
    loading: set[str]
    background: Any
    message: Any
    live: Any  #: the live model (:attr:`~napari_batchseg.live.LiveModel.viewed`: the output shown)

    def layers_for(self, key: str | None) -> tuple[Any, Any]:
        """The ``(labels, image)`` layers showing output ``key`` (``None`` where there is none)."""

    def start_view(self, task: Task, n_frames: int, show: bool = True) -> TaskView:
        """Display buffers for a running output's frames from now on."""

    def show_arrays(self, view: TaskView, contrast: tuple[float, float] | None = None) -> None:
        """Show ``view``'s arrays as its output in the stream layers."""

    def finish_image_step(self) -> None:
        """Apply the pending image change now (scripts)."""


class ResultShowing:
    """Showing outputs on request, in the layers of a :class:`Streams` (the layer streamer)."""

    def __init__(self, stream: Streams) -> None:
        self.stream = stream
        self.prefetching: PlaneArray | None = None
        #: the output last asked for (a result read from disk for another one is not shown)
        self.wanted: str | None = None
        #: the output the user asked to see whose labels layer becomes napari's active layer once it is in
        #: the layers (the Correct tab works on the active layer)
        self.selecting: str | None = None

    def show(self, task: Task, status: str, params: SegmentationParams | None) -> bool:
        """Show an output chosen in the status table; return whether something is (or will be) shown.

        A running output is shown from its display buffers; any other is read from its mask file by a
        worker and shown when read (:attr:`loading`), so that its layer knows the file (corrections
        can be saved) and shows what the file holds now. Each case replaces the message line.
        """
        self.wanted = self.selecting = task.key
        labels, _ = self.stream.layers_for(task.key)
        if labels is not None:
            self.select(task.key)
            labels.visible = True
            if (point := into_frames(self.stream.viewer.dims, labels)) is not None:
                self.stream.viewer.dims.set_point(*point)  # (another layer's frames held the slider)
            self.stream.live.viewed = task.key
            self.stream.message.emit(f"{task.label}: shown")
            return True
        view = self.stream.views.get(task.key)
        if view is not None and status != "running":
            del self.stream.views[task.key]  # finished: its file is the truth (maybe corrected since)
            view = None
        if view is not None:
            self.stream.message.emit(f"{task.label}: showing its frames as they come")
        elif status == "running" and task.info is not None and params is not None:
            view = self.stream.start_view(task, len(task.frame_indices(params)), show=False)
            self.stream.message.emit(
                f"{task.label}: showing frames from now on (earlier ones open when it is done)")
        if view is not None:
            self.stream.show_arrays(view)
            self.select(task.key)
            return True
        self.load_later(task, task.names.mask, params, status)
        return True

    def load_later(self, task: Task, mask_path: Path, params: SegmentationParams | None, status: str,
                   quiet: bool = False) -> None:
        """Read an output's mask file in a worker and show it when read (unless another was asked for).

        Also how a volume output (``z_mode`` 3d/stitch) is shown once written: its ``(Z, Y, X)`` frames
        do not stream into the run's ``(T, Y, X)`` layers, its mask file shows ``(T, Z, Y, X)``.
        ``quiet``: the message line is left as it is unless something went wrong (the run's own
        message stays when it shows an existing output it skipped).
        """
        self.wanted = task.key
        self.stream.loading.add(task.key)
        if not quiet:
            self.stream.message.emit(f"{task.label}: opening its result…")

        def shown(result: LoadedResult) -> None:
            if self.wanted == task.key:  # not if another output was asked for meanwhile
                self._show_loaded(task, result, quiet)

        def failed(exc: BaseException) -> None:
            self.stream.message.emit(f"{task.label}: cannot open its result ({exc})")

        self.stream.background.submit(load_result, task, mask_path, params, status, on_item=shown,
                                      on_error=failed, on_done=lambda: self.stream.loading.discard(task.key),
                                      name="batchseg-open")

    def open_from_disk(self, task: Task, mask_path: Path, params: SegmentationParams | None) -> None:
        """Show a finished output now, reading it on the calling thread (scripts; the table uses a worker)."""
        self.wanted = task.key
        self._show_loaded(task, load_result(task, mask_path, params, "done"))
        self.stream.finish_image_step()

    def _show_loaded(self, task: Task, result: LoadedResult, quiet: bool = False) -> None:
        if result.labels is None:
            self.stream.message.emit(result.note)
            return
        name = result.mask_path.name if result.mask_path is not None else "its mask"
        if result.note or not quiet:
            self.stream.message.emit(result.note or f"{task.label}: shown from {name}")
        self.stream.views.pop(task.key, None)
        labels = result.labels
        self.stream.show_arrays(TaskView(task.key, layer_label(task), len(labels), labels, result.image,
                                         result.scale, result.pixel_size, first_frame=result.first_frame,
                                         mask_path=result.mask_path, first_z=result.first_z,
                                         t_offset=t_offset(task)), result.contrast)
        self.select(task.key)
        if isinstance(result.image, PlaneArray):
            self._prefetch(result.image, 0)

    def select(self, key: str | None) -> None:
        """Make output ``key``'s labels layer napari's active layer if the user asked to see it.

        Called when it is shown, and again once the layers show it wholly (a labels layer added in a
        later turn); the user's own selection is left alone for the outputs a run shows as it follows.
        """
        labels, _ = self.stream.layers_for(key)
        if key is None or key != self.selecting or labels is None:
            return
        self.selecting = None
        self.stream.viewer.layers.selection.active = labels

    def on_step(self, _event: object = None) -> None:
        """The user moves through frames: the reopened input's next frames are prepared in a worker."""
        _, image = self.stream.layers_for(self.stream.live.viewed)
        if image is not None and isinstance(image.data, PlaneArray) and image.visible:
            index = displayed_index(self.stream.viewer.dims, image)
            if index is not None:
                self._prefetch(image.data, index)

    def _prefetch(self, array: PlaneArray, index: int) -> None:
        """Prepare frames ``index - 1 .. index + PREFETCH`` of a reopened input in a worker thread.

        napari reads the frame on screen on the GUI thread; prepared here beforehand, it comes from the
        array's cache instead of being computed there (reading, channel choice, Z projection).
        """
        n = array.shape[0]
        wanted = [i for i in range(index - 1, index + PREFETCH + 1) if 0 <= i < n]
        if not wanted or self.prefetching is array:
            return
        self.prefetching = array

        def done() -> None:
            if self.prefetching is array:
                self.prefetching = None

        self.stream.background.submit(prefetch_planes, array, wanted, on_done=done,
                                      on_error=lambda _e: None, name="batchseg-prefetch")
