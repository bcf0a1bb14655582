"""Trial 44: ``[...]`` in file names and messages print as they are, not as rich markup.

A walk: inputs ``well[b2].tif`` and ``x[red].tif`` were printed ``well.tif`` and ``x.tif`` in the
``failed:``/``warning:`` lines and in both columns of the summary table (``[red]`` also coloured the rest
of the line), so a facility could not find the files named; Cellpose 4's refusal of a Cellpose 3 model
advised ``pip install "napari-batchseg"`` (``[cp3]`` eaten), which keeps Cellpose 4.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.cli import FACTORY_ENV, main


def test_bracketed_file_names_are_printed_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(FACTORY_ENV, "napari_batchseg.testing:threshold_segmenter")
    names = ["well[b2].tif", "x[red].tif"]
    for name in names:
        tifffile.imwrite(tmp_path / name, np.zeros((32, 32), np.uint16))
    out = tmp_path / "out"
    assert main(["segment", str(tmp_path), "--channel", "3", "--output-dir", str(out), "-q"]) == 1
    err = capsys.readouterr().err
    said = "channel index 3 out of range; the file has 1 channel(s) (0=C0)"
    failed = sorted(line for line in err.splitlines() if line.startswith("failed"))
    assert failed == [f"failed: {tmp_path / name}: {said}" for name in names]
    rows = [line for line in err.splitlines() if line.startswith("│")]
    assert [row.split("│")[1].strip() for row in rows] == names
    assert main(["segment", str(tmp_path), "--end-frame", "3", "--output-dir", str(out), "-q"]) == 0
    err = capsys.readouterr().err
    for name in names:
        assert f"warning: {tmp_path / name}: end frame 3 is past its last frame 0" in err
        assert str(out / name.replace(".tif", "_vSM.ome.tif")) in err  # the output column


def test_bracketed_model_path_in_an_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "a.tif"
    tifffile.imwrite(image, np.zeros((32, 32), np.uint16))
    model = tmp_path / "models[v2]" / "mine"
    assert main(["segment", str(image), "--model", str(model), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert f"error: Cellpose model '{model}' not found" in err
