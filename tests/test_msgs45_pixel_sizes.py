"""A mask measured against an image whose pixel size differs says so (session 45 API trial, D).

A mask without a log at 0.5 µm/px, measured with an image of the same shape at 0.2 µm/px, was measured at
0.5 without a word. The mask's own calibration is still the one used (as for every mask: its µm columns
do not depend on which image is given), and a warning names both sizes and which was used.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile

from napari_batchseg.measure import measure_file


def _ome(path: Path, data: np.ndarray, size: float) -> Path:
    tifffile.imwrite(path, data, ome=True, metadata={"axes": "TYX", "PhysicalSizeX": size,
                                                     "PhysicalSizeY": size})
    return path


def _pair(tmp_path: Path, image_size: float) -> tuple[Path, Path]:
    labels = np.zeros((1, 40, 40), np.uint16)
    labels[0, 5:15, 5:15] = 1
    image = (labels * 900 + 100).astype(np.uint16)
    return (_ome(tmp_path / "cells_masks.ome.tif", labels, 0.5),
            _ome(tmp_path / "cells.ome.tif", image, image_size))


def test_a_mask_and_image_with_other_pixel_sizes_warn_naming_both(tmp_path: Path) -> None:
    mask, image = _pair(tmp_path, 0.2)
    with pytest.warns(UserWarning) as said:
        result = measure_file(mask, image=image, force_labels=True)
    (text,) = [str(w.message) for w in said if "pixel size" in str(w.message)]
    assert str(mask) in text and str(image) in text, text
    assert "0.5 µm" in text and "0.2 µm" in text and "the mask's 0.5 µm is used" in text, text
    row = pd.read_csv(result.objects_csv).iloc[0]
    assert math.isclose(row["area_um2"], 100 * 0.25)  # the mask's calibration, as before


def test_the_same_pixel_size_says_nothing(tmp_path: Path) -> None:
    mask, image = _pair(tmp_path, 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        measure_file(mask, image=image, force_labels=True)


def test_the_command_line_says_the_warning_in_one_line(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """``batchseg measure`` printed Python's warning format: ``.../measure.py:308: UserWarning: ...`` and
    the source line after it."""
    from napari_batchseg.cli import main

    mask, image = _pair(tmp_path, 0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        assert main(["measure", str(mask), "--image", str(image), "--force-labels"]) == 0
    err = capsys.readouterr().err
    (line,) = [ln for ln in err.splitlines() if "pixel size" in ln]
    assert line.startswith("warning: ") and "the mask's 0.5 µm is used" in line, err
    assert "UserWarning" not in err and "warnings.warn" not in err, err
