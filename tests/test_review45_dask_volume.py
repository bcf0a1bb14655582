"""Review 45: a Dask run of Z volumes (``z_mode`` 3d / stitch) on single-threaded workers.

Since 77d7ad8 every Dask worker wraps its segmenter in ``_Locked`` (one call at a time); the wrapper had
no ``volume_modes`` nor ``segment_volume``, so a volume run through Dask failed every output with
"threshold segments 2D planes only" (it ran before on workers of one thread).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
from numpy.typing import NDArray

from napari_batchseg import engine
from napari_batchseg.params import SegmentationParams
from napari_batchseg.segmenters.base import SegmentOutput
from napari_batchseg.testing import ThresholdSegmenter

distributed = pytest.importorskip("distributed")

from test_dask_threads import events_on_thread_cluster  # noqa: E402  (after distributed is known)


class StitchThreshold(ThresholdSegmenter):
    """A threshold segmenter that offers ``stitch``: each slice in 2D (no joining: enough here)."""

    volume_modes = ("stitch",)

    def segment_volume(self, volume: NDArray[Any], mode: str, anisotropy: float | None,
                       stitch_threshold: float) -> SegmentOutput:
        labels = np.stack([self.segment(plane).labels for plane in volume])
        return SegmentOutput(labels.astype(np.uint32))


def stitch_threshold(params: Any) -> StitchThreshold:
    """Factory (module level: Dask workers import it by name)."""
    del params
    return StitchThreshold()


def test_a_volume_run_on_dask_workers_segments_the_volume(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    tifffile.imwrite(tmp_path / "vol.tif", rng.integers(0, 1000, (4, 48, 48), dtype=np.uint16),
                     imagej=True, metadata={"axes": "ZYX"})
    params = SegmentationParams(output_dir=str(tmp_path / "out"), z_mode="stitch")
    events = events_on_thread_cluster(engine.plan([tmp_path / "vol.tif"], params), stitch_threshold, 1)
    failed = [e.reason for e in events if type(e).__name__ == "TaskFailed"]
    assert failed == []
    assert sum(type(e).__name__ == "TaskDone" for e in events) == 1
    mask = tifffile.imread(tmp_path / "out" / "vol_vSM.ome.tif")
    assert mask.shape[-3:] == (4, 48, 48)
