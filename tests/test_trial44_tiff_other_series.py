"""Trial 44: a TIFF holding images of other shapes than its first says that only the first is read.

A walk: a TIFF written with two images (512 x 512, then 100 x 100; a non-OME multi-series file, or an
OME-TIFF whose images differ in shape) is read as its first image alone: ``batchseg info`` shows
``P=1`` and ``segment`` writes one mask, and neither says that a second image was left out (the reader
counts them: ``tiff_series_count`` 2). An OME-TIFF whose images share one shape reads them as
positions. Now ``info`` says which were left out, and so does a note of the run's plan.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.cli import main


def test_info_says_images_are_left_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "two.tif"
    with tifffile.TiffWriter(path) as writer:
        writer.write(np.zeros((64, 64), np.uint16))
        writer.write(np.zeros((20, 20), np.uint16))
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "P=1" in out  # (the first image is what is read)
    assert "1 of its 2 images (20x20) left out: only its first (64x64) is read" in out
    # the run says it too, in one warning line of its plan
    from napari_batchseg import engine
    from napari_batchseg.params import SegmentationParams

    notes = engine.plan([path], SegmentationParams()).notes
    assert any(str(path) in n and "left out" in n for n in notes), notes
