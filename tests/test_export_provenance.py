"""What an export's provenance file says of the mask's input, whether or not the kind read its pixels.

A review: the ``rois``, ``semantic``, ``outlines`` and ``ctc`` exports of a volume mask (kinds that need
no pixels, so its input is not opened) wrote ``"preparation": null`` although the mask's log states the
channel, the Z slices, the first frame and the position; and a mask without a log wrote the same
``null``, which says nothing of why.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile

from _downstream import DSB_GT
from napari_batchseg.export import ExportOptions, export_masks
from napari_batchseg.io.masks import write_mask
from napari_batchseg.io.sources import PixelSize
from napari_batchseg.params import SegmentationParams
from napari_batchseg.provenance import RunLog, log_parameters


def _preparation(result, mask: Path) -> dict:
    out = result.outputs[mask][0]
    if result.kind == "outlines":
        out = out.parent
    return json.loads(out.with_name(out.name + ".provenance.json").read_text())["preparation"]


@pytest.fixture
def volume_mask(tmp_path) -> Path:
    """A ``TZYX`` mask of slices 1-4 of position 1 (``C05``) of a tiny two-position Z stack, with its log."""
    rng = np.random.default_rng(0)
    plate = tmp_path / "plate.ome.tif"
    with tifffile.TiffWriter(plate, ome=True) as tw:
        for well in ("B02", "C05"):
            volume = rng.integers(0, 200, (6, 16, 20), dtype=np.uint16)
            tw.write(volume, metadata={"axes": "ZYX", "Name": well})
    labels = np.zeros((1, 4, 16, 20), np.uint16)
    labels[0, 1:3, 4:9, 5:12] = 1
    log = RunLog()
    log.info(f"input: {plate}")
    log.info("position: 1 of 2 (C05)")
    log_parameters(log, SegmentationParams(z_mode="stitch", z_range="1-4"))
    return write_mask(tmp_path / "plate_P01_vSM.ome.tif", labels, PixelSize(0.5, 0.5, 2.0), log.text(),
                      volume=True)


def test_a_volume_export_without_pixels_states_the_preparation_its_log_gives(volume_mask, tmp_path):
    read = _preparation(export_masks("ome-zarr", [volume_mask], tmp_path / "zarr"), volume_mask)
    assert read["z_slices"] == [1, 2, 3, 4] and read["position_name"] == "C05"  # (the input opened)
    for kind in ("rois", "semantic", "outlines"):
        said = _preparation(export_masks(kind, [volume_mask], tmp_path / kind), volume_mask)
        assert said == read, kind


def test_an_export_of_a_mask_without_a_log_says_its_preparation_is_not_known(volume_mask, tmp_path):
    bare_volume = tmp_path / "bare_volume_vSM.ome.tif"
    labels = tifffile.imread(volume_mask).reshape(1, 4, 16, 20)
    tifffile.imwrite(bare_volume, labels, ome=True, metadata={"axes": "TZYX"})
    for mask in (bare_volume, DSB_GT):
        said = _preparation(export_masks("rois", [mask], tmp_path / mask.stem, ExportOptions()), mask)
        assert said["from_log"] is False
        assert "no segmentation log" in said["not_known"] and "--image" in said["not_known"]


def test_a_volume_mask_with_a_log_refuses_another_start_frame(volume_mask, tmp_path):
    """As a 2D mask does (tests/test_export_inputs.py): a volume mask's log said frame 0; --start-frame 3
    was ignored without a word."""
    from napari_batchseg.errors import InputError

    said = "its log says its first frame is input frame 0, not --start-frame 3"
    with pytest.raises(InputError, match=said):
        export_masks("rois", [volume_mask], tmp_path / "out", ExportOptions(start_frame=3))
