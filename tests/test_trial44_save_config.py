"""Trial 44: ``batchseg segment --save-config FILE`` that cannot be written is one error line.

A walk: ``--save-config nodir/run.yaml`` (a folder not made yet), a file on a read-only share or the
name of a folder ended in Python tracebacks (``FileNotFoundError``, ``OSError: [Errno 30]``,
``IsADirectoryError``); the file was also written in place, not atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
import yaml

from napari_batchseg.cli import main


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "img.tif"
    tifffile.imwrite(path, np.zeros((32, 32), np.uint16))
    return path


@pytest.mark.parametrize(("where", "said"), [("missing/run.yaml", "cannot write in output folder"),
                                             ("a_folder", "Is a directory")])
def test_unwritable_save_config_is_a_usage_error(
        tmp_path: Path, image: Path, capsys: pytest.CaptureFixture[str], where: str, said: str) -> None:
    (tmp_path / "a_folder").mkdir()
    target = tmp_path / where
    assert main(["segment", str(image), "--dry-run", "--diameter", "17", "--save-config", str(target)]) == 2
    err = capsys.readouterr().err
    assert "error: --save-config: " in err and said in err and "Traceback" not in err
    assert not (tmp_path / "missing").exists()


def test_save_config_replaces_the_file_whole(tmp_path: Path, image: Path) -> None:
    target = tmp_path / "run.yaml"
    target.write_text("old: contents\n" * 1000, encoding="utf-8")
    before = target.stat().st_ino
    main(["segment", str(image), "--dry-run", "--diameter", "17", "--save-config", str(target)])
    saved = yaml.safe_load(target.read_text(encoding="utf-8"))
    assert saved["diameter"] == 17.0 and "old" not in saved
    assert target.stat().st_ino != before  # a new file renamed over the old one (atomic)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
