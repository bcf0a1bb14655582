"""Format choice and shared checks (io.formats), OME parsing (io.ome): one read of a file's first bytes."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.errors import InputError
from napari_batchseg.io import formats
from napari_batchseg.io.nd2 import ND2Source
from napari_batchseg.io.ome import ome_pixel_size, unit_factor
from napari_batchseg.io.reader import open_source
from napari_batchseg.io.tiff import TiffSource

EXAMPLE_ND2 = Path(__file__).resolve().parents[1] / "examples" / "data" / "arcadia_ecoli_gfp_timelapse.nd2"


@pytest.fixture
def head_checks(monkeypatch):
    """Counts how often any reader inspects a file's first bytes (every check goes through formats)."""
    calls: list[bytes] = []
    real = formats._kind_of_head

    def counting(head: bytes) -> str | None:
        calls.append(head)
        return real(head)

    monkeypatch.setattr(formats, "_kind_of_head", counting)
    return calls


def test_open_tiff_reads_its_first_bytes_once(tmp_path, head_checks):
    path = tmp_path / "a.tif"
    tifffile.imwrite(path, np.arange(12, dtype=np.uint16).reshape(3, 4))
    with open_source(path) as src:
        assert isinstance(src, TiffSource)
        assert src.info.sizes["Y"] == 3
    assert len(head_checks) == 1
    assert head_checks[0][:4] == b"II*\x00"


def test_open_nd2_reads_its_first_bytes_once(head_checks):
    with open_source(EXAMPLE_ND2) as src:
        assert isinstance(src, ND2Source)
    assert len(head_checks) == 1


def test_reader_classes_still_check_content_when_used_directly(tmp_path, head_checks):
    tif = tmp_path / "b.tif"
    tifffile.imwrite(tif, np.zeros((4, 4), np.uint8))
    nd2_named_tif = tmp_path / "c.tif"
    shutil.copy(EXAMPLE_ND2, nd2_named_tif)
    with pytest.raises(InputError, match=r"c\.tif: not a TIFF file \(its content is ND2\)"):
        TiffSource(nd2_named_tif)
    with pytest.raises(InputError, match=r"b\.tif: not an ND2 file \(its content is TIFF\)"):
        ND2Source(tif)
    assert len(head_checks) == 2
    # open_source goes by content, not by name
    with open_source(nd2_named_tif) as src:
        assert isinstance(src, ND2Source)


def test_ome_pixel_size_converts_units():
    pixels = ET.fromstring(
        '<Pixels PhysicalSizeX="650" PhysicalSizeXUnit="nm" PhysicalSizeY="0.65" '
        'PhysicalSizeZ="2" PhysicalSizeZUnit="parsec"/>'
    )
    size = ome_pixel_size(pixels)
    assert size.x == pytest.approx(0.65)
    assert size.y == pytest.approx(0.65)  # no unit: OME's default, µm
    assert size.z is None  # unknown unit: not guessed
    assert unit_factor("mm") == 1e3
    assert unit_factor("furlong") is None
