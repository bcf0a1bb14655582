"""Trial 44: the ``failed:`` line of one position of a file of several names the position.

A walk: ``batchseg segment plate.ome.tif --start-frame 2`` over a file of three positions of one
frame printed three identical lines ``failed: /…/plate.ome.tif: start frame 2 out of range; …``: which
position each was is only in the summary table (``plate.ome.tif [P0]``), and a reason that differs by
position (a corrupt plane of one well) could not be told apart.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.cli import FACTORY_ENV, main


def test_failed_lines_name_the_position(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(FACTORY_ENV, "napari_batchseg.testing:threshold_segmenter")
    plate = tmp_path / "plate.ome.tif"
    with tifffile.TiffWriter(plate, ome=True) as writer:
        for k in range(3):
            writer.write(np.full((1, 32, 32), 100 * k + 5, np.uint16), metadata={"axes": "TYX"})
    one = tmp_path / "one.tif"
    tifffile.imwrite(one, np.zeros((32, 32), np.uint16))
    assert main(["segment", str(plate), str(one), "--start-frame", "2", "-q"]) == 1
    failed = [line for line in capsys.readouterr().err.splitlines() if line.startswith("failed")]
    said = "start frame 2 out of range; the file has 1 frame(s) (0-0)"
    assert sorted(failed) == sorted([f"failed [P{k}]: {plate}: {said}" for k in range(3)]
                                    + [f"failed: {one}: {said}"])
