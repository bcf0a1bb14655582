"""Trial 44: a parameter the run does not use does not make an output "made with other parameters".

A walk: ``batchseg segment data --output-dir results --anisotropy 2`` (or ``--stitch-threshold 0.5``,
``--tile-shape 256,256``) after a plain 2D Cellpose run of the same files: every output was "made with
other parameters (anisotropy None -> 2.0): skipped", counted as not this run's result, though the
option changes nothing in a projected Cellpose run (``existing.py``: "parameters that do not change
the mask are not compared").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg import engine
from napari_batchseg.existing import differences, output_status
from napari_batchseg.params import SegmentationParams
from napari_batchseg.runners import RunOptions, execute
from napari_batchseg.testing import threshold_segmenter


def _segment(tmp_path: Path, params: SegmentationParams, image: np.ndarray, axes: str) -> engine.Plan:
    source = tmp_path / "cells.tif"
    tifffile.imwrite(source, image, metadata={"axes": axes})
    the_plan = engine.plan([source], params)
    events = list(execute(the_plan, RunOptions(), segmenter=threshold_segmenter(params)))
    assert [type(e).__name__ for e in events][-1] == "TaskDone"
    return the_plan


def _blobs(shape: tuple[int, ...]) -> np.ndarray:
    image = np.full(shape, 10, np.uint16)
    image[..., 8:20, 8:20] = 1000
    image[..., 30:44, 26:40] = 900
    return image


@pytest.mark.parametrize("unused", [{"anisotropy": 2.0}, {"stitch_threshold": 0.5},
                                    {"tile_shape": (256, 256)}, {"halo": (32, 32)}, {"sam_mode": "amg"}])
def test_unused_settings_of_a_2d_cellpose_run_are_not_compared(tmp_path: Path, unused: dict) -> None:
    params = SegmentationParams(output_dir=str(tmp_path / "out"))
    (task,) = _segment(tmp_path, params, _blobs((2, 48, 48)), "TYX").tasks
    assert output_status(task, params).state == "same"
    now = params.replace(**unused)
    status = output_status(task, now)
    assert status.state == "same", status.detail
    # what the run uses is still compared
    changed = output_status(task, now.replace(cellprob_threshold=1.0))
    assert changed.state == "other" and list(changed.differences) == ["cellprob_threshold"]


@pytest.mark.parametrize(("mode", "unused", "used"), [
    ("3d", {"stitch_threshold": 0.5, "z_projection": "max"}, {"anisotropy": 2.0}),
    ("stitch", {"anisotropy": 2.0, "z_projection": "max"}, {"stitch_threshold": 0.5}),
])
def test_unused_settings_of_a_volume_run_are_not_compared(mode: str, unused: dict, used: dict) -> None:
    # (the comparison output_status makes with a volume mask's logged parameters; the threshold segmenter
    # makes no volumes)
    logged = SegmentationParams(z_mode=mode)  # type: ignore[arg-type]
    assert differences(logged, logged.replace(**unused)) == {}
    assert list(differences(logged, logged.replace(**used))) == list(used)
