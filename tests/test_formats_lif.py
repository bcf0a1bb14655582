"""A real Leica LIF file through bioio-lif: metadata, planes, two scenes as positions, segmented end to end.

The file is ``Project_3D.lif`` of the ``fractal-lif-converters`` 0.5.0 sdist on PyPI (its own test data;
the package is GPL-3, the file is only downloaded and read here, never committed), fetched once and
cached by ``tests/_realdata.py``; under CI a failed download fails the test. It holds two scenes
(``TileScan 3/B/2`` and ``TileScan 3/C/3``), each a 2x2 tile scan of 256x256 tiles that bioio-lif
stitches into 511x511, with 3 channels (Cyan: nuclei, Yellow, Magenta), 5 Z slices, uint8, 2.279 µm
pixels and a 3.335 µm Z step.

Planes are checked against ``liffile`` (the library bioio-lif builds on, read here tile by tile without
bioio): the origin block of each stitched plane is one of that scene's tiles for the same channel and Z.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

import _realdata
from napari_batchseg.io.masks import read_mask
from napari_batchseg.io.reader import open_source

pytest.importorskip("bioio_lif")  # the [formats] extra (scripts/setup.sh installs it)

MODEL = Path(__file__).resolve().parents[1] / "examples" / "models" / "batchseg_nuclei_cp3"
NAME = "Project_3D.lif"
SHA256 = "7854b1b9bdd75187e53e624c8249082534107d4357222061e6ad0c1f3a74fb90"
SCENES = ["TileScan 3/B/2", "TileScan 3/C/3"]
PIXEL, Z_STEP = 2.2794117647058822, 3.3350025


@pytest.fixture(scope="session")
def lif_file() -> Path:
    try:
        path = _realdata.fetch("fractal-lif") / NAME
    except RuntimeError as exc:
        _realdata.unavailable(f"fractal-lif-converters 0.5.0 LIF file: {exc}")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == SHA256, f"{path} is not the expected file"
    return path


def test_lif_metadata_and_planes_match_liffile(lif_file):
    import liffile

    with liffile.LifFile(lif_file) as lif:
        tiles = [image.asarray() for image in lif.images]  # (M, C, Z, Y, X) per scene
        assert [image.path for image in lif.images] == SCENES
    assert all(t.shape == (4, 3, 5, 256, 256) for t in tiles)
    with open_source(lif_file) as src:
        info = src.info
        assert info.format == "lif" and info.native_axes == "TCZYX"
        assert info.describe() == "P=2 T=1 C=3 Z=5 Y=511 X=511 uint8"
        assert info.position_names == SCENES
        assert info.channel_names == ["Cyan", "Yellow", "Magenta"]
        assert info.pixel_size.x == pytest.approx(PIXEL) == info.pixel_size.y
        assert info.pixel_size.z == pytest.approx(Z_STEP)
        for p, c, z in [(0, 0, 0), (0, 2, 4), (1, 1, 2), (1, 0, 3)]:
            plane = src.read_plane(p, 0, c, z)
            assert plane.shape == (511, 511) and plane.dtype == np.uint8
            block = plane[:256, :256]
            same = [m for m in range(4) if np.array_equal(block, tiles[p][m, c, z])]
            assert len(same) == 1, (p, c, z, same)  # one tile of this scene, channel and Z slice
            others = [(c2, z2) for c2 in range(3) for z2 in range(5)
                      if (c2, z2) != (c, z) and np.array_equal(block, tiles[p][same[0], c2, z2])]
            assert not others, (p, c, z, others)  # and no other channel's or slice's
        assert not np.array_equal(src.read_plane(0, 0, 0, 2), src.read_plane(1, 0, 0, 2))


def test_two_scene_lif_gives_one_output_per_scene_from_the_cli(lif_file, tmp_path, monkeypatch):
    """Both scenes through ``batchseg segment`` (the package's cheap threshold segmenter: scenes, names
    and metadata; the project's model runs in the next test)."""
    from napari_batchseg.cli import main
    from napari_batchseg.measure import measure_table

    monkeypatch.setenv("BATCHSEG_SEGMENTER_FACTORY", "napari_batchseg.testing:threshold_segmenter")
    out = tmp_path / "out"
    assert main(["segment", str(lif_file), "--channel", "Cyan", "--z-projection", "max",
                 "--output-dir", str(out), "-q"]) == 0
    assert sorted(m.name for m in out.glob("*_vSM.ome.tif")) == ["Project_3D_P0_vSM.ome.tif",
                                                                  "Project_3D_P1_vSM.ome.tif"]
    for k, scene in enumerate(SCENES):
        mask = read_mask(out / f"Project_3D_P{k}_vSM.ome.tif")
        assert mask.labels.shape == (1, 511, 511) and mask.labels.max() > 0
        assert mask.pixel_size.x == pytest.approx(PIXEL) and mask.pixel_size.z == pytest.approx(Z_STEP)
        log = mask.log_text
        assert f"position: {k} of 2 ({scene})" in log and "input format: lif" in log
        assert "channels: ['Cyan', 'Yellow', 'Magenta']" in log and "channel used: 0 (Cyan)" in log
        assert "z: 5 slice(s); range all; projection max" in log
        # the tables name the scene of each object (position_name, after position)
        table = measure_table(out / f"Project_3D_P{k}_vSM.ome.tif")
        assert list(table.columns[1:3]) == ["position", "position_name"] and len(table)
        assert set(table["position"]) == {k} and set(table["position_name"]) == {scene}


def test_a_lif_scene_chosen_by_name_and_one_it_lacks_named(lif_file, tmp_path, monkeypatch, capsys):
    """``--positions`` on a real two-scene LIF: a scene chosen by its name runs alone; an index the file
    lacks fails the file with the scenes it has (index and name)."""
    from napari_batchseg.cli import main

    monkeypatch.setenv("BATCHSEG_SEGMENTER_FACTORY", "napari_batchseg.testing:threshold_segmenter")
    out = tmp_path / "out"
    assert main(["segment", str(lif_file), "--positions", SCENES[1].lower(), "--channel", "Cyan",
                 "--output-dir", str(out), "-q"]) == 0
    assert [m.name for m in out.glob("*_vSM.ome.tif")] == ["Project_3D_P1_vSM.ome.tif"]
    assert f"position: 1 of 2 ({SCENES[1]})" in read_mask(out / "Project_3D_P1_vSM.ome.tif").log_text
    capsys.readouterr()
    assert main(["segment", str(lif_file), "--positions", "2", "--channel", "Cyan", "--dry-run"]) == 1
    line = capsys.readouterr().out
    assert f"{lif_file}: no position 2; the file has 2 position(s): 0 ({SCENES[0]}), 1 ({SCENES[1]})" in line


@pytest.mark.cp3
def test_lif_scenes_segment_end_to_end_with_the_project_model(lif_file, tmp_path):
    """The Cyan channel holds nuclei: the project's nuclei model finds a field's worth in each scene."""
    from napari_batchseg.cli import main

    out = tmp_path / "out"
    assert main(["segment", str(lif_file), "--model", str(MODEL), "--channel", "Cyan",
                 "--z-projection", "max", "--output-dir", str(out), "-q"]) == 0
    for k, scene in enumerate(SCENES):
        mask = read_mask(out / f"Project_3D_P{k}_vSM.ome.tif")
        n = len(np.unique(mask.labels)) - 1
        assert 100 < n < 500, (scene, n)  # ~150-300 nuclei per 2x2 tile scan (177 and 274 here)
        assert mask.pixel_size.x == pytest.approx(PIXEL)
        assert f"position: {k} of 2 ({scene})" in mask.log_text
