"""Small command-line messages (session 45).

* ``batchseg evaluate --output <a folder>`` said "exists; pass --overwrite", which then failed ("Is a
  directory") after scoring everything: it now says to give the table a file name, before scoring.
* ``segment --ext .png`` (an ending no reader handles) said nothing: each file found failed as unreadable.
  Now one warning line says so first (a known format whose reader is missing: how to install it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from _one_square import segmented_square
from napari_batchseg.cli import main, unread_extensions
from napari_batchseg.params import SegmentationParams


def test_evaluate_output_that_is_a_folder_asks_for_a_file_name(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    mask = segmented_square(tmp_path / "a.tif", SegmentationParams()).tasks[0].names.mask
    folder = tmp_path / "scores"
    folder.mkdir()
    for extra in ([], ["--overwrite"]):
        assert main(["evaluate", str(mask), str(mask), "--output", str(folder), *extra]) == 1
        err = capsys.readouterr().err
        assert f"{folder} is a folder: give the table a file name in it, e.g. {folder / 'scores.csv'}" in err
        assert "pass --overwrite" not in err and "Is a directory" not in err, err
    assert main(["evaluate", str(mask), str(mask), "--output", str(folder / "scores.csv")]) == 0
    assert (folder / "scores.csv").is_file()


def test_an_ext_no_reader_handles_is_said_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tifffile.imwrite(tmp_path / "a.tif", np.zeros((16, 16), np.uint16))
    (tmp_path / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    main(["segment", str(tmp_path), "--ext", ".png,tif", "--output-dir", str(tmp_path / "out"), "--dry-run"])
    err = capsys.readouterr().err
    assert err.count("warning: --ext .png: no reader of this tool's reads it (it reads .ome.tiff") == 1, err
    assert "the files found with it fail as unreadable" in err
    assert "--ext tif" not in err  # (a readable ending, no dot: said nothing)


def test_unread_extensions_names_an_uninstalled_reader() -> None:
    assert unread_extensions([".tif", "TIFF", ".ome.tif", "nd2"]) == []
    from napari_batchseg.io.formats import FORMATS

    missing = [f for f in FORMATS if not f.available()]
    for fmt in missing:  # (where an extra is not installed here)
        [note] = unread_extensions([fmt.suffixes[0]])
        assert f"its {fmt.label} reader is not installed ({fmt.install_hint()})" in note
