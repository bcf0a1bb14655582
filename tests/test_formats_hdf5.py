"""HDF5 inputs (io.hdf5): one image dataset read directly, several chosen with ``dataset``, axes from
attributes or the ambiguity rules, pixels read one plane at a time.

The pixels are real: the HDF5 files are written here from the project's real images (the DSB2018
nuclei image and the arcadia E. coli time-lapse ND2, see tests/_realdata.py); no HDF5 microscopy
sample was found on PyPI.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import tifffile

from napari_batchseg.cli import main
from napari_batchseg.errors import AmbiguousAxesError, InputError
from napari_batchseg.io.hdf5 import Hdf5Source
from napari_batchseg.io.masks import read_mask
from napari_batchseg.io.reader import open_source, read_info
from napari_batchseg.params import SegmentationParams
from napari_batchseg.runnable import check_file

STARTER = Path(__file__).resolve().parents[1] / "examples" / "models" / "batchseg_nuclei_cp3"


@pytest.fixture
def nuclei(dsb2018) -> np.ndarray:
    return tifffile.imread(dsb2018[0])


@pytest.fixture
def timelapse(arcadia_nd2) -> tuple[np.ndarray, Path]:
    path = arcadia_nd2["example-timelapse.nd2"]
    with open_source(path) as src:
        n = min(4, src.info.sizes["T"])
        frames = np.stack([src.read_plane(0, t, 0, 0) for t in range(n)])
    return frames, path


def test_one_dataset_is_read_directly(tmp_path, nuclei):
    path = tmp_path / "nuclei.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("images/raw", data=nuclei)
        f.create_dataset("meta/ids", data=np.arange(5))  # 1D: not an image
    with open_source(path) as src:
        assert isinstance(src, Hdf5Source)
        assert src.info.format == "hdf5"
        assert (src.info.sizes["Y"], src.info.sizes["X"]) == nuclei.shape
        assert src.info.extra["hdf5_dataset"] == "/images/raw"
        np.testing.assert_array_equal(src.read_plane(0, 0, 0, 0), nuclei)


def test_axes_and_pixel_size_from_attributes(tmp_path, timelapse):
    frames, _ = timelapse
    path = tmp_path / "tl.hdf5"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("data", data=frames, chunks=(1, *frames.shape[1:]))
        ds.attrs["axes"] = "tyx"
        ds.attrs["element_size_um"] = [1.0, 0.25, 0.5]
    info = read_info(path)
    assert info.sizes["T"] == len(frames) and info.sizes["Z"] == 1
    assert (info.pixel_size.y, info.pixel_size.x) == (0.25, 0.5)
    with open_source(path) as src:
        for t in range(len(frames)):
            np.testing.assert_array_equal(src.read_plane(0, t, 0, 0), frames[t])


def test_ome_dimension_order_and_transposed_yx(tmp_path, nuclei):
    path = tmp_path / "xy.h5"
    stack = np.stack([nuclei, nuclei[::-1]])  # C Y X
    with h5py.File(path, "w") as f:
        f.create_dataset("img", data=stack).attrs["DimensionOrder"] = "XYC"  # OME: fastest first
        f.create_dataset("t", data=stack.transpose(0, 2, 1)).attrs["axes"] = "cxy"
    for name in ("img", "t"):
        with open_source(path, dataset=name) as src:
            assert src.info.sizes["C"] == 2 and src.info.sizes["Y"] == nuclei.shape[0]
            np.testing.assert_array_equal(src.read_plane(0, 0, 1, 0), nuclei[::-1])


def test_no_axes_attribute_is_ambiguous_and_axes_says(tmp_path, timelapse):
    frames, _ = timelapse
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=frames)
    with pytest.raises(AmbiguousAxesError, match=r"plain\.h5: ambiguous axes: dataset /x .* axes='TYX'"):
        open_source(path)
    with open_source(path, axes="ZYX") as src:
        assert src.info.sizes["Z"] == len(frames)
        np.testing.assert_array_equal(src.read_plane(0, 0, 0, 1), frames[1])
    problem = check_file(path, SegmentationParams())
    assert problem is not None and problem.ambiguous


def test_several_datasets_need_dataset(tmp_path, nuclei, timelapse):
    path = tmp_path / "two.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("raw", data=nuclei)
        f.create_dataset("pred/labels", data=(nuclei > nuclei.mean()).astype(np.uint8))
    with pytest.raises(InputError) as err:
        open_source(path)
    msg = str(err.value)
    assert msg.startswith("two.h5: holds 2 image datasets: ")
    assert "/raw (" in msg and "/pred/labels (" in msg and "--dataset /" in msg
    with open_source(path, dataset="raw") as src:
        np.testing.assert_array_equal(src.read_plane(0, 0, 0, 0), nuclei)
    with pytest.raises(InputError, match=r"two\.h5: no image dataset '/nope'; it holds /pred/labels .*/raw"):
        open_source(path, dataset="/nope")
    # the dataset option reaches the batch's per-file check; other formats ignore it
    assert check_file(path, SegmentationParams(dataset="/raw")) is None


def test_not_hdf5_content_and_empty_file(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"hello world, not hdf5")
    with pytest.raises(InputError, match=r"bad\.h5: not an HDF5 file \(it starts with 'hello wor'\)"):
        open_source(bad)
    empty = tmp_path / "empty.h5"
    with h5py.File(empty, "w") as f:
        f.create_dataset("labels", data=np.arange(4))
    with pytest.raises(InputError, match=r"empty\.h5: holds no image dataset"):
        open_source(empty)


@pytest.mark.cp3
def test_cli_segments_an_hdf5_dataset_and_logs_it(tmp_path, nuclei, capsys):
    path = tmp_path / "nuc.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("raw", data=nuclei[:128, :128])
        f.create_dataset("other", data=nuclei[:64, :64])
    out = tmp_path / "out"
    assert main(["segment", str(path), "--model", str(STARTER), "--output-dir", str(out), "-q"]) == 1
    assert "--dataset" in capsys.readouterr().err
    assert main(["segment", str(path), "--dataset", "/raw", "--model", str(STARTER),
                 "--output-dir", str(out), "-q"]) == 0
    mask = read_mask(out / "nuc_vSM.ome.tif")
    assert mask.labels.shape == (1, 128, 128) and mask.labels.max() > 5
    assert '"dataset": "/raw"' in (out / "nuc_vSM.log").read_text()


def test_content_of_another_format_is_refused(tmp_path, nuclei):
    path = tmp_path / "looks.h5"
    tifffile.imwrite(path, nuclei)
    with pytest.raises(InputError, match=r"looks\.h5: not HDF5 content \(the file is TIFF\)"):
        open_source(path)
