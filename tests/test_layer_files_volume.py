"""The npe2 writer (File > Save Selected Layers) for the 4D Labels layers of volume runs."""

from __future__ import annotations

import numpy as np
import pytest

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
