"""Real Zeiss CZI files through bioio-czi: metadata, planes, scenes as positions, segmented end to end.

The files come from the sdist of ``czitools`` 0.0.2 on PyPI (BSD-3-Clause; later versions ship none),
downloaded once and cached by ``tests/_realdata.py`` (never committed; under CI a failed download
fails the test):

* ``CellDivision_T=3_Z=5_CH=2_X=240_Y=170.czi``: a dividing cell, 3 time points x 5 Z slices x 2
  channels (LED555, LED470), 0.0906 µm pixels, 0.32 µm Z step;
* ``WP96_4Pos_B4-10_DAPI.czi``: 28 scenes (4 positions in each of 7 wells of a 96-well plate) of DAPI
  nuclei, 640x640, 0.2 µm pixels: the multi-scene file.

Planes read through bioio-czi (which uses pylibCZIrw) are checked against another reader
(``aicspylibczi``). The real LIF file (two scenes) is tested in tests/test_formats_lif.py.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import _realdata
from napari_batchseg.io.masks import read_mask
from napari_batchseg.io.reader import open_source

pytest.importorskip("bioio_czi")  # the [formats] extra (scripts/setup.sh installs it)

MODEL = Path(__file__).resolve().parents[1] / "examples" / "models" / "batchseg_nuclei_cp3"
CELL_DIVISION = "CellDivision_T=3_Z=5_CH=2_X=240_Y=170.czi"
WELLS = "WP96_4Pos_B4-10_DAPI.czi"


@pytest.fixture(scope="session")
def czi_dir() -> Path:
    try:
        return _realdata.fetch("czitools")
    except RuntimeError as exc:
        _realdata.unavailable(f"czitools 0.0.2 CZI files: {exc}")


def test_czi_metadata_and_planes_match_another_reader(czi_dir):
    from aicspylibczi import CziFile

    path = czi_dir / CELL_DIVISION
    with open_source(path) as src:
        info = src.info
        assert info.format == "czi" and info.native_axes == "TCZYX"
        assert info.describe() == "P=1 T=3 C=2 Z=5 Y=170 X=240 uint16"
        assert info.channel_names == ["LED555", "LED470"]
        assert info.pixel_size.x == pytest.approx(0.0905767, rel=1e-5) == info.pixel_size.y
        assert info.pixel_size.z == pytest.approx(0.32)
        other = CziFile(str(path))
        for t, c, z in [(0, 0, 0), (1, 1, 2), (2, 0, 4)]:
            expected, _dims = other.read_image(T=t, C=c, Z=z)
            np.testing.assert_array_equal(src.read_plane(0, t, c, z), expected.squeeze())
    with open_source(czi_dir / WELLS) as src:
        info = src.info
        assert info.describe() == "P=28 T=1 C=1 Z=1 Y=640 X=640 uint8"
        assert info.position_names[:5] == ["P1-B4", "P2-B4", "P3-B4", "P4-B4", "P1-B5"]
        assert info.channel_names == ["DAPI"] and info.pixel_size.x == pytest.approx(0.2)
        expected, _dims = CziFile(str(czi_dir / WELLS)).read_image(S=27, C=0)
        np.testing.assert_array_equal(src.read_plane(27, 0, 0, 0), expected.squeeze())


def test_multi_scene_czi_gives_one_output_per_scene_from_the_cli(czi_dir, tmp_path, monkeypatch):
    """All 28 scenes through ``batchseg segment`` (the package's cheap threshold segmenter: the point
    here is the scenes, the names and the metadata; the project's model runs in the next tests)."""
    from napari_batchseg.cli import main

    monkeypatch.setenv("BATCHSEG_SEGMENTER_FACTORY", "napari_batchseg.testing:threshold_segmenter")
    out = tmp_path / "out"
    assert main(["segment", str(czi_dir / WELLS), "--output-dir", str(out), "-q"]) == 0
    masks = sorted(out.glob("*_vSM.ome.tif"))
    assert [m.name for m in masks] == [f"WP96_4Pos_B4-10_DAPI_P{k:02d}_vSM.ome.tif" for k in range(28)]
    with open_source(czi_dir / WELLS) as src:
        names = src.info.position_names
    for k in (0, 13, 27):
        mask = read_mask(out / f"WP96_4Pos_B4-10_DAPI_P{k:02d}_vSM.ome.tif")
        assert mask.labels.shape == (1, 640, 640) and mask.labels.max() > 0
        assert mask.pixel_size.x == pytest.approx(0.2) and mask.pixel_size.y == pytest.approx(0.2)
        assert f"position: {k} of 28 ({names[k]})" in mask.log_text
        assert "pixel size (µm): x=0.2 y=0.2" in mask.log_text and "channels: ['DAPI']" in mask.log_text


@pytest.mark.cp3
def test_czi_time_lapse_segments_end_to_end_with_the_project_model(czi_dir, tmp_path):
    from napari_batchseg.cli import main

    out = tmp_path / "out"
    assert main(["segment", str(czi_dir / CELL_DIVISION), "--model", str(MODEL), "--channel", "LED555",
                 "--z-projection", "max", "--output-dir", str(out), "-q"]) == 0
    mask = read_mask(out / "CellDivision_T=3_Z=5_CH=2_X=240_Y=170_vSM.ome.tif")
    assert mask.labels.shape == (3, 170, 240) and mask.labels.max() > 0
    assert mask.pixel_size.x == pytest.approx(0.0905767, rel=1e-5)
    assert mask.pixel_size.z == pytest.approx(0.32)
    log = mask.log_text
    assert "input format: czi" in log and "channel used: 0 (LED555)" in log
    assert "channels: ['LED555', 'LED470']" in log and "z=0.32" in log
    assert "z: 5 slice(s); range all; projection max" in log


@pytest.mark.cp3
def test_a_scene_of_the_multi_scene_czi_with_the_project_model(czi_dir, tmp_path):
    """One of the 28 scenes (each takes seconds on 2 cores): the nuclei of a real plate are found."""
    from napari_batchseg import engine
    from napari_batchseg.params import SegmentationParams
    from napari_batchseg.runners import RunOptions, execute

    the_plan = engine.plan([czi_dir / WELLS], SegmentationParams(model=str(MODEL), output_dir=str(tmp_path)))
    assert [t.position for t in the_plan.tasks] == list(range(28))
    one = dataclasses.replace(the_plan, tasks=[t for t in the_plan.tasks if t.position == 5])
    events = list(execute(one, RunOptions()))
    assert sum(isinstance(e, engine.TaskDone) for e in events) == 1
    mask = read_mask(tmp_path / "WP96_4Pos_B4-10_DAPI_P05_vSM.ome.tif")
    n = len(np.unique(mask.labels)) - 1
    assert 100 < n < 600, n  # a field of a confluent plate holds a few hundred nuclei (227 in P16)
    assert "position: 5 of 28 (P2-B5)" in mask.log_text
