"""Review 45: paths given as NumPy text (an array of file names, its ``numpy.str_`` items) are paths.

d7b8056 and b2fd53e refuse an array of pixels given where paths go (``hasattr(x, "__array__")``); NumPy
text has ``__array__`` too, so ``export_masks(df["mask"].values, ...)`` and ``collect_training_data``
of such names were refused: "takes mask files, not an array (got str_ of shape ())". They worked before.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.export import export_masks
from napari_batchseg.training import collect_training_data


def _mask(tmp_path: Path) -> Path:
    lab = np.zeros((32, 32), np.uint16)
    lab[4:10, 4:10] = 1
    lab[20:28, 20:28] = 2
    tifffile.imwrite(tmp_path / "a_masks.tif", lab)
    return tmp_path / "a_masks.tif"


@pytest.mark.parametrize("as_numpy", [np.array, list], ids=["array of names", "list of numpy.str_"])
def test_export_takes_numpy_text_as_paths(tmp_path: Path, as_numpy) -> None:
    mask = _mask(tmp_path)
    names = as_numpy(np.array([str(mask)]))
    result = export_masks("semantic", names, tmp_path / "out")
    assert [p.name for p in result.outputs[mask]] == ["a_masks_semantic.tif"]


def test_training_takes_numpy_text_as_paths(tmp_path: Path) -> None:
    mask = _mask(tmp_path)
    tifffile.imwrite(tmp_path / "a.tif", np.full((32, 32), 100, np.uint16))
    data = collect_training_data(np.array([str(tmp_path / "a.tif")]), min_masks=1)
    assert len(data.frames) == 1 and data.frames[0].n_masks == 2, data.frames
    assert Path(data.frames[0].group).name in (mask.name, "a.tif"), data.frames[0].group


def test_pixels_are_still_refused(tmp_path: Path) -> None:
    from napari_batchseg.io.arrays import is_pixel_array

    labels = np.zeros((8, 8), np.uint16)
    assert is_pixel_array(labels) and is_pixel_array([labels][0])
    assert not is_pixel_array(np.str_("a.tif")) and not is_pixel_array(np.array(["a.tif"]))
    with pytest.raises(TypeError, match="not an array"):
        export_masks("semantic", [labels], tmp_path / "out")
    with pytest.raises(TypeError, match="not an array"):
        collect_training_data([labels])


@pytest.mark.parametrize("as_numpy", [np.array, list], ids=["array of names", "list of numpy.str_"])
def test_segment_files_takes_numpy_text_as_paths(tmp_path: Path, as_numpy) -> None:
    """``segment_files`` had the same check (d7b8056): "not an array (got str_ of shape ())"."""
    from napari_batchseg.api import segment_files
    from napari_batchseg.testing import ThresholdSegmenter

    image = np.full((32, 32), 10, np.uint16)
    image[4:12, 4:12] = 1000
    tifffile.imwrite(tmp_path / "a.tif", image)
    summary = segment_files(as_numpy(np.array([str(tmp_path / "a.tif")])), segmenter=ThresholdSegmenter())
    assert [r.status for r in summary.reports] == ["done"], summary.reports
