"""Label masks saved by ImageJ / Fiji keep their calibration (io.masks.read_mask, read_mask_pixel_size).

A Fiji label image has no OME-XML; its pixel size is in the ImageJ metadata (X/YResolution, ``unit``,
``spacing`` for the Z step, ``finterval`` for the time step). The 2D readers (``open_source``) used it,
but the mask readers looked at OME-XML only: ``open_mask`` gave no pixel size, and ``batchseg measure``
of a Fiji volume label image wrote empty ``volume_um3`` / ``centroid_*_um`` / ``time_s`` columns (volume
masks take their pixel size from ``read_mask_pixel_size``).

The labels are the connected bright regions of the real Z stack in ``examples/more_data`` (0.3234 µm
pixels, 6 µm Z step, read with the ``nd2`` library), as another tool would label them, saved as an
ImageJ hyperstack with the ND2's own calibration.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile

from napari_batchseg.io.masks import read_mask, read_mask_pixel_size

ZSTACK = Path(__file__).resolve().parents[1] / "examples" / "more_data" / "arcadia_cells_fitc_zstack.nd2"
INTERVAL = 90.0  # s, the time step written into the two-time-point hyperstack


def _zstack() -> tuple[np.ndarray, float, float]:
    """The ND2's ``(Z, Y, X)`` stack, its XY pixel size and Z step (µm), as the nd2 library reads them."""
    import nd2

    with nd2.ND2File(ZSTACK) as f:
        voxel = f.voxel_size()
        return np.asarray(f.asarray()), float(voxel.x), float(voxel.z)


def _fiji_labels(folder: Path) -> tuple[Path, np.ndarray, float, float]:
    """An ImageJ hyperstack (T=2, Z, Y, X) of labels of the bright regions, calibrated as the ND2."""
    from skimage.measure import label

    stack, xy, z_step = _zstack()
    labels = label(stack > np.percentile(stack, 97)).astype(np.uint16)
    movie = np.stack([labels, labels[:, ::-1]])  # T Z Y X: a second time point, mirrored
    path = folder / "fiji_labels.tif"
    tifffile.imwrite(path, movie[:, :, None], imagej=True, resolution=(1 / xy, 1 / xy),
                     metadata={"axes": "TZCYX", "spacing": z_step, "unit": "micron",
                               "finterval": INTERVAL})
    return path, movie, xy, z_step


def test_read_mask_takes_an_imagej_calibration(tmp_path: Path) -> None:
    path, movie, xy, z_step = _fiji_labels(tmp_path)
    with tifffile.TiffFile(path) as tf:
        assert tf.is_imagej and not tf.ome_metadata
    mask = read_mask(path)
    assert mask.is_volume and mask.labels.shape == movie.shape
    ps = mask.pixel_size
    assert (ps.x, ps.y, ps.z, ps.t) == pytest.approx((xy, xy, z_step, INTERVAL), rel=1e-6)
    assert read_mask_pixel_size(path) == ps


def test_measure_of_a_fiji_volume_label_image_is_in_um(tmp_path: Path) -> None:
    from napari_batchseg.cli import main

    path, movie, xy, z_step = _fiji_labels(tmp_path)
    assert main(["measure", str(path), "--output-dir", str(tmp_path / "out")]) == 0
    table = pd.read_csv(tmp_path / "out" / "fiji_labels_objects.csv")
    assert sorted(set(table["frame"])) == [0, 1]
    first = table[table["frame"] == 0]
    assert len(first) == len(np.unique(movie[0])) - 1
    np.testing.assert_allclose(first["volume_um3"], first["volume_vox"] * xy * xy * z_step, rtol=1e-6)
    np.testing.assert_allclose(first["centroid_z_um"], first["centroid_z_px"] * z_step, rtol=1e-6)
    np.testing.assert_allclose(first["centroid_x_um"], first["centroid_x_px"] * xy, rtol=1e-6)
    assert table["time_s"].tolist() == pytest.approx(table["frame"] * INTERVAL)


def test_measure_of_a_logless_volume_mask_takes_the_first_frame_given(tmp_path: Path) -> None:
    """``--start-frame`` numbers a log-less volume mask's frames (it was ignored without ``--image``:
    frames 0-1 whatever was given), as it does for 2D masks."""
    from napari_batchseg.cli import main

    path, _movie, _xy, _z = _fiji_labels(tmp_path)
    assert main(["measure", str(path), "--start-frame", "10", "--output-dir", str(tmp_path / "out")]) == 0
    table = pd.read_csv(tmp_path / "out" / "fiji_labels_objects.csv")
    summary = pd.read_csv(tmp_path / "out" / "fiji_labels_summary.csv")
    assert sorted(set(table["frame"])) == [10, 11] and summary["frame"].tolist() == [10, 11]
    assert table["time_s"].tolist() == pytest.approx(table["frame"] * INTERVAL)
