"""Trial 44: an input whose output name would be too long for the file system fails alone.

A walk: a folder holding ``<246 x a>.tif`` (a legal 250-byte name) and ``ok.tif``: the output name
``<246 x a>_vSM.ome.tif`` is 258 bytes, and the whole run stopped in a traceback (``OSError: [Errno
36] File name too long`` from the first look at that output), ``ok.tif`` not segmented; the dry run
said ``[new]``, exit status 0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.cli import FACTORY_ENV, main


def test_too_long_output_name_fails_that_file_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(FACTORY_ENV, "napari_batchseg.testing:threshold_segmenter")
    inputs = tmp_path / "in"
    inputs.mkdir()
    long_input = inputs / ("a" * 246 + ".tif")
    for path in (long_input, inputs / "ok.tif"):
        tifffile.imwrite(path, np.zeros((32, 32), np.uint16))
    out = tmp_path / "out"
    said = f"{long_input}: its output name {'a' * 246}_vSM.ome.tif would be 258 bytes, more than the 255"
    assert main(["segment", str(inputs), "--output-dir", str(out), "--dry-run"]) == 1
    assert said in capsys.readouterr().out
    assert main(["segment", str(inputs), "--output-dir", str(out), "-q"]) == 1
    err = capsys.readouterr().err
    assert f"failed: {said}" in err and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == ["ok_vSM.log", "ok_vSM.ome.tif"]


def test_debug_outputs_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    # 238 + len("_vSM.ome.tif") = 250 fits; 238 + len("_vSM_cellprob.tif") = 255 fits; 239 does not
    monkeypatch.setenv(FACTORY_ENV, "napari_batchseg.testing:threshold_segmenter")
    for n, fails in ((238, False), (239, True)):
        image = tmp_path / f"{n}" / ("b" * n + ".tif")
        image.parent.mkdir()
        tifffile.imwrite(image, np.zeros((32, 32), np.uint16))
        assert main(["segment", str(image), "--debug", "--dry-run"]) == int(fails)
        assert ("_vSM_cellprob.tif would be 256 bytes" in capsys.readouterr().out) == fails
