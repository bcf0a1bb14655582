"""A Dask cluster of worker threads in one process (``LocalCluster(processes=False)``, as in a notebook).

Its workers share the process's one cached model: each is single-threaded, yet two of them called the
same segmenter at once. A Cellpose model is not safe for that: on CPU its first call converts the network
to MKLDNN modules in place, and two threads doing it together failed an output with "RuntimeError: Can't
redefine method: __getstate__ on class" (seen in session 45: 2 in-process workers, the project's
nuclei model; one run in five).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
from numpy.typing import NDArray

from napari_batchseg import engine
from napari_batchseg.params import SegmentationParams
from napari_batchseg.runners import RunOptions, execute
from napari_batchseg.segmenters.base import SegmentOutput
from napari_batchseg.testing import ThresholdSegmenter

distributed = pytest.importorskip("distributed")


class OneCallAtATime(ThresholdSegmenter):
    """A segmenter that fails a frame when another thread is inside it (as Cellpose's first call can)."""

    def __init__(self) -> None:
        super().__init__(delay=0.02)
        self._inside = 0
        self._count = threading.Lock()

    def segment(self, image: NDArray[Any]) -> SegmentOutput:
        with self._count:
            self._inside += 1
            together = self._inside > 1
        try:
            if together:
                raise RuntimeError("two threads in one model at once")
            time.sleep(0.02)  # (the other worker's frame arrives meanwhile)
            return super().segment(image)
        finally:
            with self._count:
                self._inside -= 1


def one_call_at_a_time(params: Any) -> OneCallAtATime:
    """Factory (module level: Dask workers import it by name)."""
    del params
    return OneCallAtATime()


def events_on_thread_cluster(the_plan: engine.Plan, factory: Any, n_workers: int) -> list[Any]:
    """The events of ``the_plan`` run on a local cluster of ``n_workers`` one-thread workers in this
    process (``processes=False``), each segmenter made by ``factory``."""
    cluster = distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=False,
                                       dashboard_address=None)
    try:
        with distributed.Client(cluster) as client:
            return list(execute(the_plan, RunOptions(dask_scheduler=client, segmenter_factory=factory)))
    finally:
        cluster.close()


def test_in_process_workers_never_call_the_shared_model_together(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for i in range(4):
        tifffile.imwrite(tmp_path / f"movie{i}.tif", rng.integers(0, 1000, (6, 48, 48), dtype=np.uint16))
    params = SegmentationParams(output_dir=str(tmp_path / "out"), axes="TYX")
    events = events_on_thread_cluster(engine.plan([tmp_path], params), one_call_at_a_time, n_workers=2)
    failed = [e.reason for e in events if type(e).__name__ == "TaskFailed"]
    assert failed == []
    assert sum(type(e).__name__ == "TaskDone" for e in events) == 4
    assert sorted(p.name for p in (tmp_path / "out").glob("*.ome.tif")) == [
        f"movie{i}_vSM.ome.tif" for i in range(4)]
