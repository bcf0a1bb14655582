"""Volumes of a volume run stored into their output's display buffers by a worker, in order.

A ``(Z, Y, X)`` volume (``z_mode`` 3d/stitch) is too big to copy on the GUI thread: each is stored by a
worker (:func:`napari_batchseg.live.volumes.store_volume`), one at a time per output and in order; an
output's end waits until its volumes are in (see :meth:`napari_batchseg.live.LiveModel.done_waits`).
Used by :class:`._stream.LayerStreamer`, which shows each volume once stored.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..events import FrameDone, Task
from ..live import LiveModel
from ..live.volumes import Stored, store_volume
from ..view.buffers import TaskView
from ._jobs import Background

__all__ = ["VolumeStore"]


class VolumeStore:
    """Queues of volumes to store, per output; the outputs whose end waits for them.

    ``on_stored(event, view, stored)``: a volume is in ``view``'s buffers (``stored`` ``None``: it could
    not be); ``on_done(task, mask_path)``: an output whose end waited has all its volumes in;
    ``on_failed(text)``: a volume could not be stored (said to the user); ``poke()``: the live model's
    schedule may have changed (after each volume).
    """

    def __init__(self, live: LiveModel, background: Background,
                 on_stored: Callable[[FrameDone, TaskView, Stored | None], None],
                 on_done: Callable[[Task, Path], None], on_failed: Callable[[str], None],
                 poke: Callable[[], None]) -> None:
        self._live = live
        self._background = background
        self._on_stored = on_stored
        self._on_done = on_done
        self._on_failed = on_failed
        self._poke = poke
        #: volumes to store, in order, per output (the first of each list is being stored)
        self._queues: dict[str, list[tuple[FrameDone, TaskView]]] = {}
        #: outputs whose end waits for their volumes: their mask file
        self._done_later: dict[str, Path] = {}

    @property
    def busy(self) -> bool:
        """Volumes are waiting or being stored."""
        return bool(self._queues)

    def store(self, event: FrameDone, view: TaskView) -> None:
        """Store the volume of ``event`` into ``view``'s buffers (after those before it)."""
        key = event.task.key
        self._live.storing(key)
        queue = self._queues.setdefault(key, [])
        queue.append((event, view))
        if len(queue) == 1:
            self._next(key)

    def done_later(self, key: str, mask_path: Path) -> None:
        """Output ``key`` is done (its mask at ``mask_path``) once its volumes are stored."""
        self._done_later[key] = mask_path

    def _next(self, key: str) -> None:
        event, view = self._queues[key][0]
        slot = 0 if view.latest_only else event.index
        result: list[Stored] = []

        def failed(exc: BaseException) -> None:
            self._on_failed(f"{event.task.label}: volume {event.index + 1} not shown ({exc})")

        self._background.submit(store_volume, view.labels, view.image, slot, event.labels, event.image,
                                view.frames_seen == 0, on_item=result.append, on_error=failed,
                                on_done=lambda: self._stored(key, result[0] if result else None),
                                name="batchseg-volume")

    def _stored(self, key: str, stored: Stored | None) -> None:
        queue = self._queues.get(key)
        if not queue:  # the widget closed meanwhile
            return
        event, view = queue.pop(0)
        if not queue:
            del self._queues[key]
        self._on_stored(event, view, stored)
        all_in = self._live.stored(key)
        if queue:
            self._next(key)
        elif all_in and key in self._done_later:
            self._on_done(event.task, self._done_later.pop(key))
        self._poke()
