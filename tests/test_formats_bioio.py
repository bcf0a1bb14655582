"""CZI / LIF / OME-Zarr inputs through bioio (io.bioio_source): OME-Zarr read lazily per plane with its
channel names and pixel sizes, positions from scenes, the extra named when a plugin is missing.

The OME-Zarr image is written here (ome-zarr-py) from the project's real DSB2018 nuclei image
(tests/_realdata.py). No real CZI or LIF file was found on PyPI in this session (the bioio-czi sdist
carries only XML metadata of its test files; bioio-lif's and aicspylibczi's sdists none): CZI and LIF
are tested for the missing-plugin and wrong-content errors only.
"""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import zarr

from napari_batchseg.errors import InputError
from napari_batchseg.io import formats
from napari_batchseg.io.reader import open_source

pytest.importorskip("bioio_ome_zarr")


@pytest.fixture
def nuclei_zarr(tmp_path, dsb2018):
    from ome_zarr.io import parse_url
    from ome_zarr.writer import write_image

    img = tifffile.imread(dsb2018[0])
    stack = np.stack([img, img[::-1]])  # C Y X: two channels of real pixels
    path = tmp_path / "nuclei.ome.zarr"
    root = zarr.open_group(parse_url(path, mode="w").store, mode="w")
    write_image(stack, root, axes="cyx", scaler=None)
    return path, stack


def test_ome_zarr_is_read_plane_by_plane(nuclei_zarr):
    path, stack = nuclei_zarr
    with open_source(path) as src:
        assert src.info.format == "ome-zarr"
        assert (src.info.sizes["C"], src.info.sizes["Y"], src.info.sizes["X"]) == stack.shape
        assert src.info.position_names == ["image"] and src.info.native_axes.endswith("YX")
        for c in range(2):
            np.testing.assert_array_equal(src.read_plane(0, 0, c, 0), stack[c])


def test_missing_plugin_names_the_extra(tmp_path, monkeypatch):
    path = tmp_path / "scan.czi"
    path.write_bytes(b"ZISRAWFILE" + bytes(100))
    monkeypatch.setattr(formats, "_installed", lambda module: module != "bioio_czi")
    with pytest.raises(InputError) as err:
        open_source(path)
    assert str(err.value) == (
        "scan.czi: reading CZI files needs the optional reader (bioio, bioio-czi): "
        "pip install 'napari-batchseg[formats]' (GPL-3 licensed, hence not installed by default)"
    )
    assert ".czi" not in formats.supported_extensions()


def test_lif_with_other_content_is_refused(tmp_path):
    pytest.importorskip("bioio_lif")
    path = tmp_path / "exp.lif"
    path.write_bytes(b"not a leica file at all")
    with pytest.raises(InputError, match=r"exp\.lif: not an LIF file \(it starts with 'not a lei'\)"):
        open_source(path)


@pytest.mark.cp3
def test_ome_zarr_segments_end_to_end_from_the_cli(nuclei_zarr, tmp_path):
    """Round trip: an OME-Zarr image in, a mask out, and that mask's OME-Zarr export opens as input."""
    from pathlib import Path

    from napari_batchseg.cli import main
    from napari_batchseg.io.masks import read_mask

    path, stack = nuclei_zarr
    model = Path(__file__).resolve().parents[1] / "examples" / "models" / "batchseg_nuclei_cp3"
    out = tmp_path / "out"
    assert main(["segment", str(path), "--model", str(model), "--output-dir", str(out), "-q"]) == 0
    mask = read_mask(out / "nuclei_vSM.ome.tif")
    assert mask.labels.shape == (1, *stack.shape[1:]) and mask.labels.max() > 5
    exported = tmp_path / "zarr"
    assert main(["export", "ome-zarr", str(out / "nuclei_vSM.ome.tif"), "--output-dir", str(exported)]) == 0
    (zarr_mask,) = [p for p in exported.iterdir() if p.name.endswith(".zarr")]
    with open_source(zarr_mask) as src:  # our own OME-Zarr export (image + labels) is an input too
        assert src.info.sizes["Y"] == stack.shape[1] and src.info.sizes["X"] == stack.shape[2]
        np.testing.assert_array_equal(src.read_plane(0, 0, 0, 0), stack[0])


def test_discovery_takes_an_ome_zarr_folder_as_one_input(nuclei_zarr, tmp_path):
    from napari_batchseg.discovery import FileFilter, collect_files

    path, stack = nuclei_zarr
    tifffile.imwrite(tmp_path / "other.tif", stack[0])
    for recursive in (False, True):
        found = collect_files([tmp_path], recursive=recursive)
        assert [p.name for p in found] == ["nuclei.ome.zarr", "other.tif"]  # nothing inside the folder
    assert set(FileFilter().extensions) == set(formats.supported_extensions())
    assert [p.name for p in collect_files([tmp_path], FileFilter(extensions=[".tif"]))] == ["other.tif"]
