"""CZI / LIF / OME-Zarr inputs through bioio (io.bioio_source): OME-Zarr read lazily per plane with its
channel names and pixel sizes, positions from scenes, the extra named when a plugin is missing.

The OME-Zarr image is written here (ome-zarr-py) from the project's real DSB2018 nuclei image
(tests/_realdata.py). Here CZI and LIF are tested for the missing-plugin and wrong-content errors; real
CZI files (czitools sdist) in tests/test_formats_czi.py, a real two-scene LIF file (fractal-lif-converters
sdist) in tests/test_formats_lif.py.
"""

from __future__ import annotations

from pathlib import Path

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
    img = tifffile.imread(dsb2018[0])
    stack = np.stack([img, img[::-1]])  # C Y X: two channels of real pixels
    path = tmp_path / "nuclei.ome.zarr"
    _write_nuclei_zarr(path, stack)
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


MODEL = Path(__file__).resolve().parents[1] / "examples" / "models" / "batchseg_nuclei_cp3"


def _write_nuclei_zarr(path: Path, stack: np.ndarray) -> None:
    from ome_zarr.io import parse_url
    from ome_zarr.writer import write_image

    root = zarr.open_group(parse_url(path, mode="w").store, mode="w")
    write_image(stack, root, axes="cyx", scaler=None)


@pytest.fixture(scope="module")
def zarr_round_trip(tmp_path_factory, dsb2018):
    """An OME-Zarr image segmented from the CLI with the project's model, its mask exported as
    OME-Zarr (NGFF 0.4 and 0.5): ``(input stack, mask (T, Y, X), {version: export folder})``."""
    from napari_batchseg.cli import main
    from napari_batchseg.io.masks import read_mask

    tmp = tmp_path_factory.mktemp("zarr_round_trip")
    img = tifffile.imread(dsb2018[0])
    stack = np.stack([img, img[::-1]])
    path = tmp / "nuclei.ome.zarr"
    _write_nuclei_zarr(path, stack)
    out = tmp / "out"
    assert main(["segment", str(path), "--model", str(MODEL), "--output-dir", str(out), "-q"]) == 0
    mask_path = out / "nuclei_vSM.ome.tif"
    labels = read_mask(mask_path).labels
    exports = {}
    for version in ("0.4", "0.5"):
        dest = tmp / f"export_{version}"
        assert main(["export", "ome-zarr", str(mask_path), "--output-dir", str(dest),
                     "--ngff", version]) == 0
        (exports[version],) = [p for p in dest.iterdir() if p.name.endswith(".zarr")]
    return stack, labels, exports


def _same_objects(read: np.ndarray, mask: np.ndarray) -> None:
    """``read`` labels the same objects as ``mask`` (the export offsets values per frame: one-to-one)."""
    assert read.shape == mask.shape
    np.testing.assert_array_equal(read > 0, mask > 0)
    pairs = np.unique(np.stack([read[mask > 0], mask[mask > 0]]), axis=1)
    assert pairs.shape[1] == len(np.unique(mask[mask > 0])) == len(np.unique(read[read > 0]))


@pytest.mark.cp3
def test_ome_zarr_segments_end_to_end_from_the_cli(zarr_round_trip):
    """Round trip: an OME-Zarr image in, a mask out; its OME-Zarr export opens as input: the root
    image by default, the labels with ``dataset="labels/masks"``."""
    stack, labels, exports = zarr_round_trip
    assert labels.shape == (1, *stack.shape[1:]) and labels.max() > 5
    for version, exported in exports.items():
        with open_source(exported) as src:  # the root image: the prepared input's pixels
            assert src.info.sizes["Y"] == stack.shape[1] and src.info.sizes["X"] == stack.shape[2]
            np.testing.assert_array_equal(src.read_plane(0, 0, 0, 0), stack[0])
            assert src.info.extra["ome_zarr_labels"] == ["masks"], version
        for dataset in ("labels/masks", "labels", "/labels/masks/"):
            with open_source(exported, dataset=dataset) as src:
                assert src.info.extra["ome_zarr_dataset"] == "labels/masks"
                assert (src.info.sizes["T"], src.info.sizes["C"]) == (1, 1)
                _same_objects(src.read_plane(0, 0, 0, 0), labels[0])
        with pytest.raises(InputError, match=r"no image 'labels/cells' in this OME-Zarr; .*labels/masks"):
            open_source(exported, dataset="labels/cells")


@pytest.mark.cp3
def test_ome_zarr_labels_reach_the_cli_through_dataset(zarr_round_trip, tmp_path, capsys):
    """``--dataset labels/masks`` reaches the label image from ``batchseg info`` and ``segment``."""
    from napari_batchseg.cli import main

    _stack, labels, exports = zarr_round_trip
    exported = exports["0.4"]
    assert main(["info", str(exported), "--dataset", "labels/masks"]) == 0
    shown = capsys.readouterr().out
    assert f"T=1 C=1 Z=1 Y={labels.shape[1]} X={labels.shape[2]} uint32" in shown
    assert main(["info", str(exported), "--dataset", "labels/cells"]) == 1
    assert "no image 'labels/cells' in this OME-Zarr" in capsys.readouterr().err  # errors: stderr
    # the labels as an input to a run: planned like any image (the dry run reads what the run reads)
    out = tmp_path / "again"
    assert main(["segment", str(exported), "--dataset", "labels/masks", "--model", str(MODEL),
                 "--output-dir", str(out), "--dry-run"]) == 0
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.cp3
@pytest.mark.qt  # the napari area: napari-ome-zarr's reader imports napari
def test_napari_opens_our_ome_zarr_export_with_its_labels(zarr_round_trip):
    """napari's OME-Zarr reader (napari-ome-zarr; ours declines folders) gives image and labels."""
    pytest.importorskip("napari")
    from napari_ome_zarr._reader import napari_get_reader

    from napari_batchseg.view.layer_files import napari_get_reader as ours

    stack, labels, exports = zarr_round_trip
    for exported in exports.values():
        assert ours(str(exported)) is None
        reader = napari_get_reader(str(exported))
        assert reader is not None
        layers = reader(str(exported))
        kinds = {kind: (data, meta) for data, meta, kind in layers}
        assert set(kinds) == {"image", "labels"}
        data, meta = kinds["labels"]
        first = np.asarray(data[0] if isinstance(data, list) else data)
        _same_objects(first.reshape(labels.shape), labels)
        image = np.asarray(kinds["image"][0][0] if isinstance(kinds["image"][0], list) else kinds["image"][0])
        np.testing.assert_array_equal(image.reshape(stack[0].shape), stack[0])


def test_discovery_takes_an_ome_zarr_folder_as_one_input(nuclei_zarr, tmp_path):
    from napari_batchseg.discovery import FileFilter, collect_files

    path, stack = nuclei_zarr
    tifffile.imwrite(tmp_path / "other.tif", stack[0])
    for recursive in (False, True):
        found = collect_files([tmp_path], recursive=recursive)
        assert [p.name for p in found] == ["nuclei.ome.zarr", "other.tif"]  # nothing inside the folder
    assert set(FileFilter().extensions) == set(formats.supported_extensions())
    assert [p.name for p in collect_files([tmp_path], FileFilter(extensions=[".tif"]))] == ["other.tif"]
