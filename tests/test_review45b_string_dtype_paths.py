"""Review 45b: file names in NumPy 2's variable-width text (``StringDType``, kind ``T``) are paths.

``io.arrays.is_pixel_array`` (14338e5) took the kinds U, S and O for text; an array of ``StringDType``
names was refused as an image: "segment_files takes file and folder paths, not an array (got ndarray of
shape (1,))", and likewise by export_masks and collect_training_data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.export import export_masks
from napari_batchseg.io.arrays import is_pixel_array
from napari_batchseg.training import collect_training_data
from test_review45_numpy_paths import _mask

StringDType = getattr(getattr(np, "dtypes", None), "StringDType", None)
pytestmark = pytest.mark.skipif(StringDType is None, reason="NumPy < 2 has no StringDType")


def _names(*paths: Path) -> np.ndarray:
    return np.array([str(p) for p in paths], dtype=StringDType())


def test_string_dtype_is_not_pixels() -> None:
    assert not is_pixel_array(_names(Path("a.tif")))
    assert is_pixel_array(np.zeros((4, 4), np.uint8))


def test_export_takes_string_dtype_names(tmp_path: Path) -> None:
    mask = _mask(tmp_path)
    result = export_masks("semantic", _names(mask), tmp_path / "out")
    assert [p.name for p in result.outputs[mask]] == ["a_masks_semantic.tif"]


def test_training_takes_string_dtype_names(tmp_path: Path) -> None:
    _mask(tmp_path)
    tifffile.imwrite(tmp_path / "a.tif", np.full((32, 32), 100, np.uint16))
    data = collect_training_data(_names(tmp_path / "a.tif"), min_masks=1)
    assert len(data.frames) == 1 and data.frames[0].n_masks == 2, data.frames


def test_segment_files_takes_string_dtype_names(tmp_path: Path) -> None:
    from napari_batchseg.api import segment_files
    from napari_batchseg.testing import ThresholdSegmenter

    image = np.full((32, 32), 10, np.uint16)
    image[4:12, 4:12] = 1000
    tifffile.imwrite(tmp_path / "a.tif", image)
    summary = segment_files(_names(tmp_path / "a.tif"), segmenter=ThresholdSegmenter())
    assert [r.status for r in summary.reports] == ["done"], summary.reports
