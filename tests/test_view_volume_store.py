"""view.volume_store without Qt: volumes stored in order, one job per output at a time, an end that waits."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_batchseg.events import FrameDone, Task
from napari_batchseg.io.naming import output_names
from napari_batchseg.io.sources import PixelSize
from napari_batchseg.live import LiveModel
from napari_batchseg.view.buffers import TaskView
from napari_batchseg.view.volume_store import VolumeStore


class _Jobs:
    """A submitter whose jobs wait until the test runs them (as a worker thread would, later)."""

    def __init__(self) -> None:
        self.waiting: list[tuple] = []

    def submit(self, fn, *args, on_item=None, on_done=None, on_error=None, name=""):
        self.waiting.append((fn, args, on_item, on_done, on_error))

    def run_next(self) -> None:
        fn, args, on_item, on_done, on_error = self.waiting.pop(0)
        try:
            result = fn(*args)
        except Exception as exc:  # noqa: BLE001 - as the widget's background delivers it
            on_error(exc)
        else:
            on_item(result)
        on_done()


def _task(name: str) -> Task:
    return Task(Path(name), 0, 1, output_names(Path(name)))


def _view(task: Task, n: int) -> TaskView:
    shape = (n, 2, 4, 4)
    return TaskView(task.key, task.label, n, np.zeros(shape, np.uint16), np.zeros(shape, np.float32),
                    (1.0, 1.0, 1.0, 1.0), PixelSize(), volume=True)


def _volume(task: Task, index: int, n: int, value: int) -> FrameDone:
    labels = np.full((2, 4, 4), value, np.uint16)
    return FrameDone(task, index, index, n, labels, labels.astype(np.float32), 1, [0, 1], None, {})


def test_volumes_are_stored_in_order_one_job_per_output_and_an_end_waits_for_them():
    live, jobs = LiveModel(clock=lambda: 0.0), _Jobs()
    stored, done, failed, pokes = [], [], [], []
    store = VolumeStore(live, jobs, on_stored=lambda e, v, s: stored.append((e.task.key, e.index, s)),
                        on_done=lambda t, p: done.append((t.key, p)), on_failed=failed.append,
                        poke=lambda: pokes.append(1))
    a, b = _task("a.tif"), _task("b.tif")
    view_a, view_b = _view(a, 3), _view(b, 1)
    for i in range(3):
        store.store(_volume(a, i, 3, i + 1), view_a)
    store.store(_volume(b, 0, 1, 7), view_b)
    assert len(jobs.waiting) == 2 and store.busy  # one job per output in flight, the others queued
    assert live.done_waits(a.key) and live.done_waits(b.key)
    store.done_later(a.key, Path("a_vSM.ome.tif"))  # the run says a is done: its end waits
    jobs.run_next()  # a's volume 0
    assert stored[-1][:2] == (a.key, 0) and len(jobs.waiting) == 2  # b's, then a's volume 1
    while jobs.waiting:
        jobs.run_next()
    assert [(k, i) for k, i, _ in stored] == [(a.key, 0), (b.key, 0), (a.key, 1), (a.key, 2)]
    assert [view_a.labels[i].max() for i in range(3)] == [1, 2, 3] and view_b.labels.max() == 7
    assert done == [(a.key, Path("a_vSM.ome.tif"))]  # once all of a's volumes are in, not before
    assert not store.busy and not live.done_waits(a.key) and len(pokes) == 4 and failed == []


def test_a_volume_that_does_not_fit_is_said_and_the_next_ones_go_on():
    live, jobs = LiveModel(clock=lambda: 0.0), _Jobs()
    stored, failed = [], []
    store = VolumeStore(live, jobs, on_stored=lambda e, v, s: stored.append((e.index, s)),
                        on_done=lambda t, p: None, on_failed=failed.append, poke=lambda: None)
    a = _task("a.tif")
    view = _view(a, 2)
    wrong = FrameDone(a, 0, 0, 2, np.ones((3, 4, 4), np.uint16), None, 1, [0], None, {})
    store.store(wrong, view)
    store.store(_volume(a, 1, 2, 5), view)
    jobs.run_next()
    assert failed and failed[0].startswith("a.tif: volume 1 not shown (a volume of shape (3, 4, 4)")
    assert stored == [(0, None)]  # said as not stored
    jobs.run_next()
    assert stored[-1][0] == 1 and stored[-1][1] is not None and view.labels[1].max() == 5
