"""The display buffers' shape and scale of an output (Qt-free: :mod:`napari_batchseg.view.buffers`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_batchseg.io.sources import PixelSize, SourceInfo
from napari_batchseg.params import SegmentationParams
from napari_batchseg.view.buffers import STACK_LIMIT_BYTES, display_scale, display_shape


def _info(t: int, z: int, y: int, x: int) -> SourceInfo:
    return SourceInfo(Path("stack.ome.tif"), {"T": t, "Z": z, "Y": y, "X": x}, np.dtype(np.uint16), ["BF"],
                      pixel_size=PixelSize(x=0.5, y=0.5, z=2.0, t=30.0))


def test_a_projected_movie_is_shown_frame_by_frame_until_the_stack_limit():
    info = _info(6, 5, 70, 110)
    assert display_shape(info, 6, SegmentationParams()) == ((6, 70, 110), False)
    assert display_shape(info, 6, None) == ((6, 70, 110), False)  # no plan known: the 2D frames
    huge = _info(2, 1, 20_000, 20_000)  # two frames of labels + image over the limit: the latest only
    assert 2 * 20_000 * 20_000 * 8 > STACK_LIMIT_BYTES
    assert display_shape(huge, 2, SegmentationParams()) == ((1, 20_000, 20_000), True)


def test_a_volume_run_is_shown_with_its_z_slices():
    info = _info(3, 5, 70, 110)
    assert display_shape(info, 3, SegmentationParams(z_mode="3d")) == ((3, 5, 70, 110), False)


def test_scale_along_time_and_space():
    pixel = PixelSize(x=0.5, y=0.5, z=2.0, t=30.0)
    assert display_scale(pixel, 3) == (30.0, 0.5, 0.5)
    assert display_scale(pixel, 4) == (30.0, 2.0, 0.5, 0.5)
    assert display_scale(PixelSize(), 4) == (1.0, 1.0, 1.0, 1.0)  # unknown: 1
