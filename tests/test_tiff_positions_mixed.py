"""An OME-TIFF with several images of one shape and one of another: the former are its positions.

Before, one image of another shape (a label image, an overview) made the reader take the file for one
position, its first: the other fields of view were never segmented (only a note said "left out"). Now the
images of the first's shape and type are positions, each read as itself; the others are left out, said.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.cli import main
from napari_batchseg.io.reader import open_source


def _mixed(path: Path) -> Path:
    with tifffile.TiffWriter(path, ome=True) as tif:
        tif.write(np.full((32, 40), 100, np.uint16), metadata={"axes": "YX", "Name": "field A"})
        tif.write(np.full((8, 8), 7, np.uint16), metadata={"axes": "YX", "Name": "overview"})
        tif.write(np.full((32, 40), 200, np.uint16), metadata={"axes": "YX", "Name": "field B"})
        tif.write(np.full((32, 40), 300, np.uint16), metadata={"axes": "YX", "Name": "field C"})
    return path


def test_the_images_of_the_first_s_shape_are_positions_each_read_as_itself(tmp_path: Path) -> None:
    source = open_source(_mixed(tmp_path / "mixed.ome.tif"))
    with source:
        info = source.info
        assert info.sizes["P"] == 3, info.sizes  # before: 1
        assert info.position_names == ["field A", "field B", "field C"]
        assert [int(source.read_plane(p, 0, 0, 0)[0, 0]) for p in range(3)] == [100, 200, 300]
        assert info.extra["left_out"] == ("1 of its 4 images (8x8) left out: only the 3 of its first's shape "
                                          "and type (32x40) are read, as positions")


def test_a_dry_run_lists_each_position(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _mixed(tmp_path / "mixed.ome.tif")
    assert main(["segment", str(path), "--output-dir", str(tmp_path / "out"), "--dry-run"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert [line.split("\t")[0] for line in lines] == [f"mixed.ome.tif [P{i}]" for i in range(3)], lines
    assert "1 of its 4 images (8x8) left out" in captured.err, captured.err
