"""The layer streamer without Qt (:mod:`napari_batchseg.view.streamer`): a stand-in viewer, a fake clock,
a scheduler that applies the live model's commands at their due time (napari's own: tests/_napari)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from napari_batchseg.events import FrameDone, Task
from napari_batchseg.io.naming import output_names
from napari_batchseg.io.sources import SourceInfo
from napari_batchseg.live import LiveModel
from napari_batchseg.view.layer_files import layer_meta
from napari_batchseg.view.streamer import Streamer
from test_live import Clock
from test_view_dock_layers import Event
from test_view_layer_pool import _Layer, _Viewer
from test_view_volume_store import _Jobs


class _Shown(_Layer):
    def refresh(self, **_kw: Any) -> None:
        object.__setattr__(self, "refreshes", getattr(self, "refreshes", 0) + 1)


class _Napari(_Viewer):
    def __init__(self) -> None:
        super().__init__()
        self.layers.events = SimpleNamespace(removed=Event())
        self.dims.events = SimpleNamespace(current_step=Event())

    def _add(self, data: Any, **kw: Any) -> _Shown:
        layer = _Shown(data, **kw)
        self.layers.append(layer)
        self.dims.ndim = max(self.dims.ndim, layer.ndim)
        return layer

    add_image = add_labels = _add


class _Scheduler:
    """What the napari side's timer does, run by the test: every command at its due time."""

    def __init__(self, model: LiveModel, clock: Clock) -> None:
        self.model, self.clock, self.handlers, self.closed = model, clock, {}, False

    def on(self, kind: type, handler: Any) -> None:
        self.handlers[kind] = handler

    def apply(self, commands: Any) -> None:
        for cmd in commands:
            if type(cmd) in self.handlers:
                self.handlers[type(cmd)](cmd)

    def poke(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True
        self.model.close()

    def run(self) -> None:
        while (due := self.model.next_due()) is not None:
            self.clock.t = max(self.clock.t, due)
            self.apply(self.model.take())


def _streamer() -> tuple[Streamer, _Napari, _Scheduler, list[str], list[str]]:
    clock = Clock()
    live = LiveModel(clock)
    scheduler = _Scheduler(live, clock)
    viewer, said, work = _Napari(), [], []

    @contextlib.contextmanager
    def held() -> Any:
        work.append("layer work")
        yield

    streamer = Streamer(viewer, live, scheduler, _Jobs(), SimpleNamespace(emit=said.append), held)
    return streamer, viewer, scheduler, said, work


def _movie() -> Task:
    info = SourceInfo(Path("movie.tif"), {"T": 3, "Y": 8, "X": 8}, np.dtype(np.uint16), ["BF"])
    return Task(Path("movie.tif"), 0, 1, output_names(Path("movie.tif")), info=info)


def test_a_followed_output_streams_its_frames_into_its_layers_then_names_its_mask(tmp_path) -> None:
    streamer, viewer, scheduler, _said, work = _streamer()
    task = _movie()
    streamer.task_started(task, 3)
    scheduler.run()
    labels, image = streamer.layers_for(task.key)
    view = streamer.views[task.key]
    assert labels.data is view.labels and image.data is view.image and view.labels.shape == (3, 8, 8)
    assert work  # every layer change ran in the napari side's context
    frame = np.full((8, 8), 7, np.uint16)
    streamer.frame_done(FrameDone(task, 1, 1, 3, frame, frame.astype(np.float32), 1, [7], None, {}))
    scheduler.run()
    assert (view.labels[1] == 7).all() and not view.labels[0].any() and labels.refreshes
    mask = tmp_path / "movie_vSM.ome.tif"
    streamer.task_done(task, mask)
    assert layer_meta(labels)["mask_path"] == str(mask) and view.mask_path == mask
    assert streamer.settled


def test_closed_layers_are_not_refreshed_and_close_stops_following_the_viewer() -> None:
    streamer, viewer, scheduler, _said, _work = _streamer()
    task = _movie()
    streamer.task_started(task, 3)
    scheduler.run()
    for layer in list(viewer.layers):  # the user removes the output's layers
        viewer.layers.remove(layer)
        for slot in viewer.layers.events.removed.slots:
            slot(SimpleNamespace(value=layer))
    assert streamer.layers_for(task.key) == (None, None)
    frame = np.ones((8, 8), np.uint16)
    streamer.frame_done(FrameDone(task, 0, 0, 3, frame, None, 1, [1], None, {}))  # stored, not shown
    assert streamer.views[task.key].labels[0].all()
    streamer.close()
    assert scheduler.closed and not viewer.layers.events.removed.slots
    assert not viewer.dims.events.current_step.slots
