"""Volume runs from the widget with the other methods: micro-sam (``3d``) and Cellpose 4 (``stitch``).

tests/_napari/test_volume_run.py covers Cellpose 3. Here the widget runs micro-sam's 3D automatic
segmentation on a small random-weight checkpoint (tests/_microsam_fixtures.py) and, in ``.venv-cp4``,
Cellpose 4 on the random CPSAM of tests/test_cellpose4.py (``stitch``: see its test). Random weights find
arbitrary objects: each test asserts that the ``(T, Z, Y, X)`` Labels layer holds exactly the mask written,
and that the log says how the volume was segmented. Volumes are tiny (they run under load in CI).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.io.masks import read_mask
from napari_batchseg.params import SegmentationParams
from napari_batchseg.view.layer_files import layer_meta

pytest.register_assert_rewrite("_microsam_fixtures")  # before the import: its asserts explain failures
from _microsam_fixtures import _image, needs_sam  # noqa: E402

pytest_plugins = ["_microsam_fixtures", "test_cellpose4"]  # checkpoints, cache_dir; cp4, cpsam_dir


def _stack(path: Path, shape: tuple[int, int, int], seed: int = 0) -> Path:
    """A ``TZYX`` OME-TIFF of one time point: blobs drifting one pixel per slice, pixel sizes stated."""
    plane = _image(shape[1:], seed=seed)
    volume = np.stack([np.roll(plane, z, axis=-1) for z in range(shape[0])])
    tifffile.imwrite(path, (volume * 1000).astype(np.uint16)[None], ome=True,
                     metadata={"axes": "TZYX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5,
                               "PhysicalSizeZ": 1.0})
    return path


def _run_and_check(widget, qtbot, image: Path, params: SegmentationParams, timeout_ms: int):
    """Run ``image`` with ``params`` from the widget; the 4D layer equals the mask written; the mask."""
    widget.set_params(params)
    assert widget.files.add_paths([image]) == 1
    qtbot.waitUntil(lambda: not widget.infos.busy, timeout=20000)
    shown = widget.params()
    assert (shown.method, shown.z_mode) == (params.method, params.z_mode)
    assert widget.run()
    # the run ends before its last volume is stored for display (a worker copies it): wait for both
    qtbot.waitUntil(lambda: not widget.running and widget.streamer.settled, timeout=timeout_ms)
    key = widget.status.keys()[0]
    assert widget.status.status(key) == "done", widget.message.text()
    mask = read_mask(image.with_name(image.name.replace(".ome.tif", "_vSM.ome.tif")))
    assert mask.is_volume and mask.labels.shape[1:] == tifffile.imread(image).shape[-3:]
    layers = [lay for lay in widget.viewer.layers if layer_meta(lay).get("role") == "mask"]
    assert layers, [lay.name for lay in widget.viewer.layers]
    qtbot.waitUntil(lambda: layers[0].data.ndim == 4, timeout=20000)
    assert len(layers[0].scale) == 4
    np.testing.assert_array_equal(np.asarray(layers[0].data), mask.labels)
    return mask


@needs_sam
def test_a_micro_sam_3d_run_in_the_widget(widget, checkpoints, cache_dir, tmp_path, qtbot):
    image = _stack(tmp_path / "blobs.ome.tif", (3, 48, 48))
    params = SegmentationParams(method="sam", model="vit_b", checkpoint=str(checkpoints["ais"]),
                                sam_mode="ais", z_mode="3d")
    mask = _run_and_check(widget, qtbot, image, params, timeout_ms=300000)
    assert mask.labels.max() >= 1, "the random checkpoint should find objects in the blobs"
    log = mask.log_text
    assert "z mode 3d (micro-sam: each slice in 2D, objects merged across Z" in log
    assert "no projection: z mode 3d (micro-sam" in log


@pytest.mark.cp4
def test_a_cellpose4_volume_run_in_the_widget(widget, cp4, cpsam_dir, tmp_path, qtbot):
    """Cellpose 4 through the widget's volume path in ``stitch`` mode: one network call per Z slice (2
    padded 256 px tiles for this 2 x 8 x 8 volume). ``3d`` runs the ViT-L over ZY and ZX slices as well (20
    tiles: 1037 s at load 13 here), so its identity with ``eval(do_3D=True)`` is tested without the widget
    (tests/test_3d_cp4.py); the widget hands both modes to the same engine."""
    from test_3d_cp4 import write_stack
    from test_cellpose4 import RANDOM_NET

    image = write_stack(tmp_path / "blobs.ome.tif")  # 2 x 8 x 8: the random network finds objects in it
    params = SegmentationParams(model=str(cpsam_dir / "cpsam"), z_mode="stitch", stitch_threshold=0.25,
                                diameter=0, **RANDOM_NET)
    mask = _run_and_check(widget, qtbot, image, params, timeout_ms=1200000)
    assert "no projection: z mode stitch (2D per slice, stitch threshold 0.25)" in mask.log_text
    assert '"cellpose_major": 4' in mask.log_text and mask.labels.max() >= 1
