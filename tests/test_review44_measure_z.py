"""Review 44: the Measure dock's table of a volume mask of ``--z-range 2-4``, against ``batchseg measure``'s.

2e9a6d2 numbered ``batchseg measure``'s Z centroids and bounding boxes in input slices (a mask of slices
2-4 starts at 2), as its frames are input frames. The dock's table of the same mask (its frames already
numbered as ``batchseg measure`` numbers them, by ``first_frame``) counted Z from the mask's first
slice, so its saved CSV and the command line's differ for the same object.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from napari_batchseg.io.masks import write_mask
from napari_batchseg.io.sources import PixelSize
from napari_batchseg.measure_3d import measure_volume
from napari_batchseg.params import SegmentationParams
from napari_batchseg.provenance import RunLog, log_parameters
from napari_batchseg.view import measure_form as mf
from napari_batchseg.view.layer_files import input_origin, napari_get_reader


def test_the_docks_volume_table_numbers_z_as_batchseg_measure(tmp_path: Path) -> None:
    log = RunLog()
    log.info(f"input: {tmp_path / 'cells.nd2'}")
    log_parameters(log, SegmentationParams(z_mode="stitch", z_range="2-4", start_frame=1))
    log.info("frames: 1-2 (2 of 3)")
    labels = np.zeros((2, 3, 8, 8), np.uint16)
    labels[:, 1, 2:4, 2:4] = 1  # mask slice 1: input slice 3
    size = PixelSize(0.5, 0.5, 2.0, 60.0)
    mask = write_mask(tmp_path / "cells_vSM.ome.tif", labels, size, log.text(), volume=True)
    [(data, kwargs, _kind)] = napari_get_reader(str(mask))(str(mask))
    layer = SimpleNamespace(data=np.asarray(data), name=kwargs["name"], metadata=kwargs["metadata"],
                            scale=kwargs["scale"], translate=kwargs["translate"], ndim=4)
    args, _note = mf.measure_args(layer, None)
    dock = mf.measure_layer(*args)
    cli = measure_volume(labels[0], None, size, frame=1, first_z=2)  # what batchseg measure writes
    assert list(dock["frame"]) == [1, 2]  # (as batchseg measure numbers them)
    assert dock["centroid_z_px"].iloc[0] == pytest.approx(cli["centroid_z_px"].iloc[0])  # 3.0
    assert dock["bbox_min_z"].iloc[0] == cli["bbox_min_z"].iloc[0]  # 3
    # a click on the row still goes to the object's slice: world Z of input slice 3 (2 µm a slice)
    origin = input_origin(kwargs["metadata"]["batchseg"])
    target = mf.row_target(dock, 0, layer.scale, layer.translate, layer.ndim, *origin)
    assert target is not None and target.z == pytest.approx(3 * 2.0)
