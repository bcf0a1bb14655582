"""Session 46: ``segment_files``' paths and keywords.

* A 0-d NumPy text array (``np.array("a.tif")``: one file name, e.g. ``df["path"].values[0]`` kept as an
  array, or ``np.asarray(name)``) is one path. It failed with NumPy's "iteration over a 0-d array" (and in
  a list, ``Path()``'s "expected str, bytes or os.PathLike object, not ndarray").
* A keyword that names a model file (``model_path=``, Cellpose's ``pretrained_model=``) was answered "did
  you mean 'model'?", read as a built-in model name only: the advice says that ``model`` takes the file's
  path, and micro-sam's ``checkpoint``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.api import segment_files
from napari_batchseg.testing import ThresholdSegmenter

StringDType = getattr(getattr(np, "dtypes", None), "StringDType", None)


@pytest.fixture
def image(tmp_path: Path) -> Path:
    pixels = np.full((32, 32), 10, np.uint16)
    pixels[4:12, 4:12] = 1000
    tifffile.imwrite(tmp_path / "a.tif", pixels)
    return tmp_path / "a.tif"


_ZERO_D = {
    "unicode": lambda p: np.array(str(p)),
    "bytes": lambda p: np.array(str(p).encode()),
    "object holding a Path": lambda p: np.array(p, dtype=object),
    "in a list": lambda p: [np.array(str(p))],
    "in a tuple": lambda p: (np.array(str(p)),),
}
if StringDType is not None:
    _ZERO_D["StringDType"] = lambda p: np.array(str(p), dtype=StringDType())


@pytest.mark.parametrize("given", list(_ZERO_D))
def test_a_0d_text_array_is_one_path(image: Path, given: str) -> None:
    paths = _ZERO_D[given](image)
    summary = segment_files(paths, segmenter=ThresholdSegmenter())
    assert [(r.input.name, r.status) for r in summary.reports] == [("a.tif", "done")], summary.reports
    assert summary.reports[0].mask is not None and summary.reports[0].mask.is_file()


def test_a_0d_array_of_pixels_is_still_refused(image: Path) -> None:
    with pytest.raises(TypeError, match="not an array"):
        segment_files(np.array(7, np.uint16), segmenter=ThresholdSegmenter())
    with pytest.raises(TypeError, match="not an array"):
        segment_files([str(image), np.zeros((8, 8), np.uint16)], segmenter=ThresholdSegmenter())


@pytest.mark.parametrize(
    "keyword", ["model_path", "pretrained_model", "checkpoint_file", "weights", "modelPath"])
def test_a_model_file_keyword_is_told_model_and_checkpoint(image: Path, keyword: str) -> None:
    with pytest.raises(TypeError) as caught:
        segment_files(image, segmenter=ThresholdSegmenter(), **{keyword: "my_model.pth"})
    said = str(caught.value)
    assert said.startswith(f"segment_files() got an unexpected keyword argument {keyword!r}: "), said
    assert "model='path/to/model'" in said and "checkpoint='path/to/checkpoint.pt'" in said, said
    assert "did you mean" not in said  # (it was "did you mean 'model'?" for model_path)
    assert not any(image.parent.glob("*_vSM*"))  # refused before any work


def test_a_keyword_about_weights_but_no_file_gets_no_model_file_advice(image: Path) -> None:
    with pytest.raises(TypeError) as caught:  # (a training option: "weight" in it named no model file)
        segment_files(image, segmenter=ThresholdSegmenter(), weight_decay=0.1)
    assert "model='path/to/model'" not in str(caught.value), str(caught.value)


def test_a_plain_typo_still_gets_the_closest_field(image: Path) -> None:
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'diamter': did you mean 'diameter'\?"):
        segment_files(image, segmenter=ThresholdSegmenter(), diamter=17)
    with pytest.raises(TypeError, match=r"'modle': did you mean 'model'\?"):  # a model NAME misspelt
        segment_files(image, segmenter=ThresholdSegmenter(), modle="nuclei")


def test_open_mask_takes_a_0d_text_array(image: Path) -> None:
    from napari_batchseg.api import open_mask

    done = segment_files(image, segmenter=ThresholdSegmenter()).reports[0]
    assert done.mask is not None
    mask = open_mask(np.array(str(done.mask)))  # ("expected str, bytes or os.PathLike object, not ndarray")
    assert mask.path == done.mask and mask.labels.max() == 1
