"""3D segmentation under Cellpose 4 (``--z-mode 3d`` / ``stitch``): identity with Cellpose 4's own ``eval``.

Run in ``.venv-cp4`` (scripts/test.sh selects this file there); elsewhere the ``cp4`` fixture skips. The
network is the random-weight CPSAM that tests/test_cellpose4.py builds (its fixtures, used here as a
plugin); random weights find random objects, so the tests assert identity with
``CellposeModel.eval(volume, z_axis=0, do_3D=True, anisotropy=...)`` (or ``stitch_threshold=...``) on the
same prepared volume, not accuracy. The volume is tiny (2 x 8 x 8): Cellpose 4 runs its ViT-L on every
YX, ZY and ZX slice, each padded to a 256 px tile (with anisotropy 2: 4 + 8 + 8 tiles per ``eval``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.params import ParameterError, SegmentationParams
from napari_batchseg.segmenters.cellpose.volume import offered_modes, refuse_unstitched
from test_cellpose4 import AUTO_BF16, RANDOM_NET

pytest_plugins = ["test_cellpose4"]  # cp4, cpsam_dir, no_load

#: volume size (Z, Y, X) and the anisotropy given
SHAPE, ANISOTROPY = (2, 8, 8), 2.0


def write_stack(path: Path) -> Path:
    """A ``TZYX`` OME-TIFF (one time point): bright blobs drifting through Z, noise, pixel sizes set."""
    rng = np.random.default_rng(0)
    zz, yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1], : SHAPE[2]]
    volume = rng.normal(200, 20, SHAPE)
    for cy, cx in ((2, 2), (5, 5)):
        volume += 3000 * np.exp(-((yy - cy) ** 2 + (xx - cx - zz) ** 2) / 4.0)
    tifffile.imwrite(path, volume.clip(0, 65535).astype(np.uint16)[None], ome=True,
                     metadata={"axes": "TZYX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5,
                               "PhysicalSizeZ": 1.0})
    return path


def prepared(path: Path) -> np.ndarray:
    from napari_batchseg.io.reader import open_source
    from napari_batchseg.prepare_3d import prepare_volume

    with open_source(path) as src:
        return prepare_volume(src, 0, 0, 0, list(range(SHAPE[0])), None).image


@pytest.fixture(scope="module")
def reference_model(cpsam_dir):
    """Cellpose 4's own ``CellposeModel`` on the random CPSAM, loaded by hand."""
    from cellpose import models as cp_models

    return cp_models.CellposeModel(gpu=False, pretrained_model=str(cpsam_dir / "cpsam"),
                                   use_bfloat16=AUTO_BF16)


# ------------------------------------------------------------------ in both environments
def test_offered_modes_follow_the_eval_signature():
    def full(x, z_axis=None, do_3D=False, anisotropy=None, stitch_threshold=0.0):
        return x

    def no_3d(x, z_axis=None, stitch_threshold=0.0):
        return x

    assert offered_modes(full) == ("3d", "stitch")
    assert offered_modes(no_3d) == ("stitch",)
    assert offered_modes(len) == ()  # a builtin without a readable signature offers nothing


def test_unstitched_stack_is_refused_for_cellpose4():
    refuse_unstitched("stitch", 0.25, "4.2")
    refuse_unstitched("3d", 0.0, "4.2")
    with pytest.raises(ParameterError, match=r"stitch_threshold 0: Cellpose 4.2 stitches slices only above"):
        refuse_unstitched("stitch", 0.0, "4.2")


# ------------------------------------------------------------------ Cellpose 4: the real inference path
def test_3d_masks_equal_cellpose4_do_3d(cp4, cpsam_dir, reference_model, tmp_path):
    """``segment_files`` with ``z_mode 3d``: TZYX mask == ``eval(do_3D=True, anisotropy=2)``; log says it."""
    from napari_batchseg.api import segment_files
    from napari_batchseg.io.masks import read_mask

    image = write_stack(tmp_path / "cells.ome.tif")
    params = SegmentationParams(model=str(cpsam_dir / "cpsam"), z_mode="3d", anisotropy=ANISOTROPY,
                                diameter=0, output_dir=str(tmp_path / "out"), **RANDOM_NET)
    report = segment_files([image], params).reports[0]
    assert report.status == "done", report.reason
    assert report.mask is not None
    mask = read_mask(report.mask)
    assert mask.is_volume and mask.labels.shape == (1, *SHAPE)
    expected, _flows, _styles = reference_model.eval(
        prepared(image), z_axis=0, channel_axis=None, do_3D=True, anisotropy=ANISOTROPY, diameter=None,
        batch_size=8, niter=None, **RANDOM_NET)
    assert expected.shape == SHAPE and expected.max() >= 1, "the random network should find objects"
    np.testing.assert_array_equal(mask.labels[0], expected)
    log = mask.log_text
    assert "z mode 3d (Cellpose do_3D) over 2 slice(s) 0-1; anisotropy 2 (given)" in log
    described = json.loads(next(x for x in log.splitlines() if "segmenter: " in x).split("segmenter: ", 1)[1])
    assert described["cellpose_major"] == 4 and described["cellpose_version"] == cp4
    frame = next(x for x in log.splitlines() if "frame t=0:" in x)  # per volume, as for Cellpose 3
    assert "; z_mode 3d; z_slices 2;" in frame and "; anisotropy 2.0" in frame
    assert "; diameter native" in frame


def _cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BATCHSEG_OFFLINE": "1", "CELLPOSE_LOCAL_MODELS_PATH": str(tmp_path / "empty")}
    batchseg = Path(sys.executable).with_name("batchseg")
    return subprocess.run([str(batchseg), "segment", *args], env=env, capture_output=True, text=True,
                          timeout=900)


def test_stitch_from_the_cli_equals_cellpose4_stitching(cp4, cpsam_dir, reference_model, tmp_path):
    image = write_stack(tmp_path / "cells.ome.tif")
    out = tmp_path / "out"
    run = _cli([str(image), "--model", str(cpsam_dir / "cpsam"), "--z-mode", "stitch", "--stitch-threshold",
                "0.3", "--diameter", "0", "--cellprob-threshold", "-0.5", "--flow-threshold", "0",
                "--output-dir", str(out)], tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    written = tifffile.imread(out / "cells_vSM.ome.tif")
    expected, _flows, _styles = reference_model.eval(
        prepared(image), z_axis=0, channel_axis=None, stitch_threshold=0.3, diameter=None, batch_size=8,
        niter=None, **RANDOM_NET)
    assert expected.shape == SHAPE and expected.max() >= 1
    np.testing.assert_array_equal(written.reshape(SHAPE), expected)
    assert "z mode stitch (2D per slice, stitch threshold 0.3)" in (out / "cells_vSM.log").read_text()


def test_stitch_threshold_0_is_one_line_before_loading(cp4, cpsam_dir, tmp_path, no_load):
    from napari_batchseg.segmenters import load_segmenter

    with pytest.raises(ParameterError, match="stitch_threshold 0: Cellpose 4"):
        load_segmenter(SegmentationParams(model=str(cpsam_dir / "cpsam"), z_mode="stitch",
                                          stitch_threshold=0))
    image = write_stack(tmp_path / "cells.ome.tif")
    out = tmp_path / "out"
    run = _cli([str(image), "--model", str(cpsam_dir / "cpsam"), "--z-mode", "stitch", "--stitch-threshold",
                "0", "--output-dir", str(out), "-q"], tmp_path)
    assert run.returncode != 0
    errors = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "Traceback" not in run.stderr, run.stderr
    assert "stitch_threshold 0" in errors[0] and "--stitch-threshold above 0" in errors[0]
    assert not out.exists() or not any(out.iterdir())


def test_3d_on_a_file_without_z_fails_alone_under_cellpose4(cp4, cpsam_dir, tmp_path):
    from napari_batchseg.api import segment_files

    flat = tmp_path / "flat.tif"
    tifffile.imwrite(flat, np.zeros((48, 48), np.uint16))
    params = SegmentationParams(model=str(cpsam_dir / "cpsam"), z_mode="3d", output_dir=str(tmp_path / "out"))
    report = segment_files([flat], params).reports[0]
    assert report.status == "failed"
    assert "flat.tif: --z-mode 3d needs a Z stack; the file has 1 Z slice" in report.reason
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
