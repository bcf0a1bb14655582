"""A time-lapse mask re-saved by hand with ``tifffile.imwrite`` (no log, no axes: read as C planes) is
refused by ``batchseg track`` as ``batchseg measure`` refuses it, pointing at ``--axes TYX`` (a trial: track
said "1 frame: tracking needs a time-lapse" of a 53-frame movie, and skipped it in a folder with exit 0)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile

from napari_batchseg.cli import main
from napari_batchseg.errors import InputError
from napari_batchseg.io.masks import read_mask
from napari_batchseg.tracking import NotATimeLapse
from napari_batchseg.tracking.files import track_file


@pytest.fixture(scope="module")
def hand_saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    from _downstream import segmented

    labels = read_mask(segmented("nd2")).labels  # the project's segmentation of 3 ND2 frames
    folder = tmp_path_factory.mktemp("hand edited")
    mask = folder / "ecoli édité_vSM.ome.tif"
    tifffile.imwrite(mask, labels)  # as a user re-saves an edited mask: no log, no axes
    return mask, labels


def test_track_file_refuses_it_as_no_label_stack_and_names_axes(hand_saved, tmp_path: Path) -> None:
    mask, _ = hand_saved
    with pytest.raises(InputError) as caught:
        track_file(mask, output_dir=tmp_path)
    assert not isinstance(caught.value, NotATimeLapse)  # a failure, not "nothing to track"
    message = str(caught.value)
    assert str(mask) in message and "not a label mask" in message and "--axes TYX" in message
    assert "1 frame" not in message
    assert list(tmp_path.iterdir()) == []


def test_a_folder_holding_it_fails_with_one_line_and_axes_tracks_it(hand_saved, tmp_path: Path,
                                                                    capsys) -> None:
    mask, labels = hand_saved
    assert main(["track", str(mask.parent), "--output-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"failed (nothing written): {mask}: not a label mask")
    assert list(tmp_path.iterdir()) == []
    assert main(["track", str(mask), "--axes", "TYX", "--output-dir", str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / "ecoli édité_vSM_tracks.csv")
    assert table["frame"].nunique() == len(labels) == 3
