"""An OME-TIFF that states its time only per plane (``Plane DeltaT``) keeps its time step (io.ome).

Bio-Formats' converters and many acquisition programs write each plane's ``DeltaT`` (time since the
acquisition started) and no ``Pixels TimeIncrement``; the time step was then unknown (``time step (s):
None``): masks without a time increment, no ``time_s`` in measure, track and export tables. The planes
here are the bundled ND2 movie's, with the acquisition times the microscope recorded for them (the
``nd2`` library's event table), written as such an OME-TIFF.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from _downstream import ND2
from napari_batchseg.io.reader import open_source


def _movie_and_times() -> tuple[np.ndarray, np.ndarray]:
    import nd2

    with nd2.ND2File(ND2) as f:
        return np.asarray(f.asarray()), np.asarray(f.events(orient="list")["Time [s]"], dtype=float)


def _write(path: Path, data: np.ndarray, axes: str, planes: dict[str, list]) -> None:
    tifffile.imwrite(path, data, ome=True, metadata={
        "axes": axes, "PhysicalSizeX": 0.325, "PhysicalSizeY": 0.325, "Plane": planes})


def test_time_step_from_plane_delta_t(tmp_path: Path) -> None:
    movie, times = _movie_and_times()
    n = len(times)
    path = tmp_path / "movie.ome.tif"
    _write(path, movie, "TYX", {"TheT": list(range(n)), "TheZ": [0] * n, "TheC": [0] * n,
                                "DeltaT": list(times - times[0]), "DeltaTUnit": ["s"] * n})
    with tifffile.TiffFile(path) as tf:
        assert "TimeIncrement" not in tf.ome_metadata and "DeltaT=" in tf.ome_metadata
    with open_source(path) as src:
        assert src.info.sizes["T"] == n
        assert src.info.pixel_size.t == pytest.approx(float(np.diff(times).mean()), rel=1e-6)


def test_time_step_of_a_z_stack_movie_from_its_first_slices_delta_t(tmp_path: Path) -> None:
    """T x Z planes, each slice taken at its own time (ms): the step is the first slice's, per T."""
    movie, times = _movie_and_times()
    n_t = len(times) // 2
    stack = movie[: 2 * n_t].reshape(n_t, 2, *movie.shape[1:])  # T Z Y X: frame pairs as 2 slices
    the_t = [t for t in range(n_t) for _z in range(2)]
    the_z = [z for _t in range(n_t) for z in range(2)]
    delta_ms = list((times[: 2 * n_t] - times[0]) * 1000.0)
    path = tmp_path / "stacks.ome.tif"
    _write(path, stack, "TZYX", {"TheT": the_t, "TheZ": the_z, "TheC": [0] * len(the_t),
                                 "DeltaT": delta_ms, "DeltaTUnit": ["ms"] * len(the_t)})
    with open_source(path) as src:
        assert (src.info.sizes["T"], src.info.sizes["Z"]) == (n_t, 2)
        expected = float(np.diff(times[: 2 * n_t : 2]).mean())  # slice 0 of each time point
        assert src.info.pixel_size.t == pytest.approx(expected, rel=1e-6)
