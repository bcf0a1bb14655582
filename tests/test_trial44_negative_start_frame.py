"""Trial 44: a negative ``--start-frame`` of ``batchseg measure`` / ``export`` is refused.

A walk: ``batchseg measure MASK --start-frame -4`` ended in a traceback (``IndexError: ...: T index -4
out of range`` from the TIFF reader); ``batchseg export cellpose MASK --image IMG --start-frame -1``
the same, and ``export rois`` wrote ROIs of frame -1 (``t-001``) without a word.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.cli_downstream import main
from napari_batchseg.errors import InputError
from napari_batchseg.io.masks import write_mask
from napari_batchseg.measure import measure_file


def _mask_and_image(folder: Path) -> tuple[Path, Path]:
    labels = np.zeros((2, 16, 16), np.uint16)
    labels[:, 3:9, 4:10] = 1
    image = folder / "image.tif"
    tifffile.imwrite(image, (labels * 50 + 3).astype(np.uint16), metadata={"axes": "TYX"})
    return write_mask(folder / "a_vSM.ome.tif", labels), image


@pytest.mark.parametrize("command", [["measure"], ["export", "rois"], ["export", "cellpose"]])
def test_cli_refuses_a_negative_start_frame(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    mask, image = _mask_and_image(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as stop:
        main([*command, str(mask), "--image", str(image), "--start-frame", "-1", "--output-dir", str(out)])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "argument --start-frame: -1 is negative (input frames count from 0)" in err
    assert "Traceback" not in err and not out.exists()


def test_api_measure_refuses_a_negative_start_frame(tmp_path: Path) -> None:
    mask, image = _mask_and_image(tmp_path)
    with pytest.raises(InputError, match=r"a_vSM\.ome\.tif: start frame -1 is negative"):
        measure_file(mask, image=image, start_frame=-1, output_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert measure_file(mask, image=image, start_frame=0, output_dir=tmp_path / "ok").n_frames == 2
