"""Review 44b: a TIFF's note on images left out must not say that images shaped as its first are read.

Only the first image of a non-OME multi-image TIFF is read (of an OME-TIFF, since session 45, its images
of the first's shape, as positions), so a second image of the first's shape is left out too: the note
said "only images shaped as its first (32x32) are read" while listing a 32x32 image among those left out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.io.reader import open_source


@pytest.mark.parametrize("ome", [False, True])
def test_a_left_out_image_of_the_first_shape_is_not_said_read(tmp_path: Path, ome: bool) -> None:
    path = tmp_path / ("three.ome.tif" if ome else "three.tif")
    with tifffile.TiffWriter(path, ome=ome) as writer:
        writer.write(np.zeros((32, 32), np.uint8))
        writer.write(np.ones((32, 32), np.uint8))  # the first's shape, left out all the same
        writer.write(np.ones((8, 8), np.uint8))
    source = open_source(path)
    try:
        assert source.info.sizes["P"] == (2 if ome else 1)
        note = source.info.extra["left_out"]
    finally:
        source.close()
    if ome:  # (session 45: the images of the first's shape are positions, the other is left out)
        assert note == ("1 of its 3 images (8x8) left out: only the 2 of its first's shape and type (32x32) "
                        "are read, as positions")
    else:
        assert note == "2 of its 3 images (32x32, 8x8) left out: only its first (32x32) is read"


def test_a_thumbnail_is_not_said_left_out(tmp_path: Path) -> None:
    """A reduced-resolution copy (NewSubfileType 1: a thumbnail) is no image of the user's left out.

    Session 44's note warned "1 of its 2 images (16x16) left out" on every run of such a file.
    """
    path = tmp_path / "thumb.tif"
    with tifffile.TiffWriter(path) as writer:
        writer.write(np.zeros((64, 64), np.uint16), photometric="minisblack")
        writer.write(np.zeros((16, 16), np.uint8), subfiletype=1)  # a thumbnail
        writer.write(np.zeros((20, 20), np.uint16))  # an image of its own: left out, said
    source = open_source(path)
    try:
        note = source.info.extra.get("left_out")
    finally:
        source.close()
    assert note == "1 of its 2 images (20x20) left out: only its first (64x64) is read"
