"""A folder without segmentation masks is named in the one-line usage error, with what a folder's masks
are named (a trial: ``batchseg measure groundtruth/`` said only "no masks found", of a folder holding the
DSB2018 image and its ``_masks.tif`` annotation)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from napari_batchseg.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture
def annotated_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "ground truth"
    folder.mkdir()
    shutil.copy(EXAMPLES / "data" / "dsb2018_nuclei.tif", folder)
    shutil.copy(EXAMPLES / "groundtruth" / "dsb2018_nuclei_masks.tif", folder)
    return folder


COMMANDS = [["measure"], ["export", "semantic", "--output-dir", "exports"], ["track"]]


@pytest.mark.parametrize("command", COMMANDS)
def test_the_folder_without_masks_is_named_in_one_line(annotated_folder: Path, tmp_path: Path, capsys,
                                                       command: list[str]) -> None:
    command = [str(tmp_path / a) if a == "exports" else a for a in command]
    assert main([*command, str(annotated_folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"error: no masks found: {annotated_folder} holds no segmentation masks")
    assert "_vSM" in err[0] and "by file name" in err[0]
    names = sorted(p.name for p in annotated_folder.iterdir())
    assert names == ["dsb2018_nuclei.tif", "dsb2018_nuclei_masks.tif"]
    assert not (tmp_path / "exports").exists()


def test_two_empty_folders_are_both_named(annotated_folder: Path, tmp_path: Path, capsys) -> None:
    other = tmp_path / "empty"
    other.mkdir()
    assert main(["measure", str(annotated_folder), str(other)]) == 2
    err = capsys.readouterr().err
    assert f"{annotated_folder}, {other} hold no segmentation masks" in err
