"""``batchseg rethreshold`` given a folder or an image says what to give instead, in one line, and the
other runs named are still re-thresholded (a trial: ``rethreshold results --suffix x`` said "not a readable
napari-batchseg run log (IsADirectoryError: [Errno 21] ...)", and the input image "(UnicodeDecodeError:
'utf-8' codec can't decode byte 0xc2 ...)")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.cli import main
from napari_batchseg.io.masks import read_mask
from napari_batchseg.params import SegmentationParams

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "examples" / "models" / "batchseg_nuclei_cp3"
IMAGE = REPO / "examples" / "data" / "dsb2018_nuclei.tif"


@pytest.mark.cp3
def test_a_folder_and_an_image_are_refused_in_one_line_each_and_the_run_is_rethresholded(
        tmp_path: Path, capsys) -> None:
    from napari_batchseg.api import segment_files

    folder = tmp_path / "rés ults"
    folder.mkdir()
    crop = folder / "crop.tif"
    tifffile.imwrite(crop, tifffile.imread(IMAGE)[:128, :160])
    params = SegmentationParams(model=str(MODEL), diameter=0, keep_flows=True, output_dir=str(folder))
    assert segment_files([crop], params).ok
    run_log = folder / "crop_vSM.log"
    before = sorted(p.name for p in folder.iterdir())
    capsys.readouterr()
    assert main(["rethreshold", str(folder), str(crop), str(run_log), "--suffix", "cp-1",
                 "--cellprob-threshold", "-1"]) == 1
    out, err = capsys.readouterr()
    assert err.strip().splitlines() == [
        f"failed: {folder}: a folder, not a run log; give the logs of the runs in it, e.g. "
        f"{folder / '*_vSM.log'}",
        f"failed: {crop}: not a run log; give a run's <stem>_vSM.log (or its _vSM.ome.tif mask)",
    ]
    new_mask = folder / "crop_vSM-cp-1.ome.tif"
    assert f"{new_mask}: 1 frame(s)" in out
    assert read_mask(new_mask).labels.max() > 0 and np.any(read_mask(new_mask).labels)
    assert sorted(p.name for p in folder.iterdir()) == sorted([*before, new_mask.name, "crop_vSM-cp-1.log"])
