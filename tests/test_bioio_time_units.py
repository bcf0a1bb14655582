"""Time steps and units of bioio inputs (io.bioio_source): a real CZI time-lapse.

* bioio-czi gives a CZI's frame interval as a ``datetime.timedelta``; it was dropped (``time step (s):
  None``), so the masks of the czitools time-lapse (3 time points, about 60 s apart) had no time
  increment and ``measure`` no ``time_s``. The interval is checked against the plane table the czitools
  sdist ships beside the file (acquisition time of every sub-block).
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

import _realdata
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
