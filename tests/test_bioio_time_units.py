"""Time steps and units of bioio inputs (io.bioio_source): real CZI time-lapse, OME-Zarr in other units.

* bioio-czi gives a CZI's frame interval as a ``datetime.timedelta``; it was dropped (``time step (s):
  None``), so the masks of the czitools time-lapse (3 time points, about 60 s apart) had no time
  increment and ``measure`` no ``time_s``. The interval is checked against the plane table the czitools
  sdist ships beside the file (acquisition time of every sub-block).
* An OME-Zarr states each axis's unit (OME-NGFF ``"unit"``: ``nanometer``, ``minute``, ...); bioio-ome-zarr
  hands back the bare scale, which was taken as µm and seconds whatever the unit. The OME-Zarr here is
  written (zarr, OME-NGFF 0.4 by hand) from the first frames of the bundled ND2 time-lapse.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import zarr

import _realdata
from _downstream import ND2
from napari_batchseg.io.reader import open_source

CELL_DIVISION = "CellDivision_T=3_Z=5_CH=2_X=240_Y=170.czi"


def test_czi_time_lapse_keeps_its_frame_interval() -> None:
    pytest.importorskip("bioio_czi")
    try:
        czi_dir = _realdata.fetch("czitools")
    except RuntimeError as exc:
        _realdata.unavailable(f"czitools 0.0.2 CZI files: {exc}")
    table = czi_dir / CELL_DIVISION.replace(".czi", "_planetable.csv")
    with open(table, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["C"] == "0" and r["Z"] == "0"]
    times = [float(r["Time[s]"]) for r in sorted(rows, key=lambda r: int(r["T"]))]
    assert len(times) == 3
    interval = float(np.diff(times).mean())  # about 60 s
    with open_source(czi_dir / CELL_DIVISION) as src:
        assert src.info.pixel_size.t == pytest.approx(interval, rel=1e-3)


def _movie() -> np.ndarray:
    import nd2

    with nd2.ND2File(ND2) as f:
        return np.asarray(f.asarray()[:4])  # T, Y, X: 0.325 µm pixels


def _write_zarr(path: Path, movie: np.ndarray, units: tuple[str, str], scale: list[float]) -> None:
    """An OME-NGFF 0.4 image (Zarr format 2): one ``t, y, x`` array with its axes' units and scale."""
    time_unit, space_unit = units
    root = zarr.open_group(str(path), mode="w", zarr_format=2)
    root.create_array("0", data=movie, chunks=(1, *movie.shape[1:]))
    root.attrs["multiscales"] = [{
        "version": "0.4", "name": "movie",
        "axes": [{"name": "t", "type": "time", "unit": time_unit},
                 {"name": "y", "type": "space", "unit": space_unit},
                 {"name": "x", "type": "space", "unit": space_unit}],
        "datasets": [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": scale}]}],
    }]


@pytest.mark.parametrize(("units", "scale"), [
    (("second", "micrometer"), [30.0, 0.325, 0.325]),
    (("minute", "nanometer"), [0.5, 325.0, 325.0]),
    (("millisecond", "millimeter"), [30000.0, 0.000325, 0.000325]),
])
def test_ome_zarr_pixel_size_and_time_step_follow_their_units(tmp_path: Path, units, scale) -> None:
    pytest.importorskip("bioio_ome_zarr")
    movie = _movie()
    path = tmp_path / "movie.ome.zarr"
    _write_zarr(path, movie, units, scale)
    with open_source(path) as src:
        ps = src.info.pixel_size
        assert src.info.sizes["T"] == 4
        assert (ps.x, ps.y) == pytest.approx((0.325, 0.325))
        assert ps.t == pytest.approx(30.0)
        np.testing.assert_array_equal(src.read_plane(0, 2, 0, 0), movie[2])
