"""The npe2 writer (File > Save Selected Layers) for the 4D Labels layers of volume runs."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_batchseg.io.masks import read_mask
from napari_batchseg.view.layer_files import write_labels


def test_a_tzyx_labels_layer_is_saved_as_a_volume_mask_with_its_z_step(tmp_path):
    data = np.zeros((2, 3, 10, 12), np.uint16)
    data[0, :2, 2:5, 3:7] = 4
    data[1, 1:, 5:8, 1:4] = 9
    meta = {"name": "cells", "scale": (1.0, 2.0, 0.5, 0.5)}
    written = write_labels(str(tmp_path / "cells.tif"), data, meta)
    mask = read_mask(written[0])
    assert written[0].endswith("cells_vSM.ome.tif")
    assert mask.is_volume and mask.labels.shape == (2, 3, 10, 12)
    np.testing.assert_array_equal(mask.labels, data)
    assert (mask.pixel_size.z, mask.pixel_size.x) == (pytest.approx(2.0), pytest.approx(0.5))
    assert "saved from napari" in mask.log_text


def test_a_2d_time_series_layer_stays_a_2d_mask_and_5d_is_refused(tmp_path):
    data = np.zeros((3, 10, 12), np.uint16)
    data[1, 2:5, 3:7] = 1
    mask = read_mask(write_labels(str(tmp_path / "movie.tif"), data, {"name": "movie"})[0])
    assert not mask.is_volume and mask.labels.shape == (3, 10, 12)
    with pytest.raises(ValueError, match="this layer's shape"):
        write_labels(str(tmp_path / "x.tif"), np.zeros((1, 1, 2, 4, 4), np.uint16), {"name": "x"})


def test_a_ground_truth_or_another_tools_masks_open_as_labels(tmp_path):
    """A walk: ``dsb2018_nuclei_masks.tif`` opened as an Image layer, which Evaluate does not offer."""
    from _downstream import DSB_GT, DSB_IMAGE
    from napari_batchseg.view.layer_files import read_paths

    (data, kwargs, kind), = read_paths(str(DSB_GT))
    assert kind == "labels" and np.array_equal(np.asarray(data), tifffile.imread(DSB_GT))
    assert kwargs["name"] == "dsb2018_nuclei_masks"
    assert [k for _d, _kw, k in read_paths(str(DSB_IMAGE))] == ["image"]  # an input stays an image
    gt = tifffile.imread(DSB_GT)
    tifffile.imwrite(tmp_path / "probability_gt.tif", gt.astype(np.float32) / 7)  # not labels: a float image
    assert [k for _d, _kw, k in read_paths(str(tmp_path / "probability_gt.tif"))] == ["image"]
