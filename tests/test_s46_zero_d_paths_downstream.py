"""Session 46: a 0-d NumPy text array (``np.array("a.tif")``) is one path after segmentation too.

``segment_files`` took it (f146e2d); the functions that read its outputs did not: ``export_masks``,
``collect_training_data`` / ``train_model`` ("iteration over a 0-d array"), ``measure_file``,
``track_file``, ``evaluate_paths`` ("expected str, bytes or os.PathLike object, not ndarray") and
``runners.execute`` called directly. Each is called with the path as ``str`` and as a 0-d array: the two
outcomes must be the same.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile

from napari_batchseg.api import segment_files
from napari_batchseg.evaluate import evaluate_paths
from napari_batchseg.export import export_masks
from napari_batchseg.measure import measure_file
from napari_batchseg.params import SegmentationParams
from napari_batchseg.runners import execute
from napari_batchseg.testing import ThresholdSegmenter
from napari_batchseg.tracking.files import track_file
from napari_batchseg.training.sources import collect_training_data


@pytest.fixture(scope="module")
def mask(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real ``_vSM`` mask (and its log) of a two-frame movie with six bright squares."""
    folder = tmp_path_factory.mktemp("zero_d")
    pixels = np.full((2, 48, 48), 10, np.uint16)
    for k in range(6):
        y, x = 4 + (k // 3) * 20, 4 + (k % 3) * 15
        pixels[:, y:y + 8, x:x + 8] = 1000
    tifffile.imwrite(folder / "a.tif", pixels, metadata={"axes": "TYX"})
    summary = segment_files(folder / "a.tif", segmenter=ThresholdSegmenter())
    found = summary.reports[0].mask
    assert found is not None and found.is_file(), summary.reports
    return found


def _outcome(call: Callable[[], Any]) -> str:
    """What a call gave, comparable between two calls: its result's type, or its error."""
    try:
        result = call()
    except Exception as exc:  # noqa: BLE001 (the outcome is compared, whatever it is)
        return f"{type(exc).__name__}: {exc}"
    return repr(result) if isinstance(result, (int, list)) else type(result).__name__


CALLS: dict[str, Callable[[Any, Path, Path], Any]] = {
    "export_masks": lambda p, m, out: export_masks("semantic", p, out / "export"),
    "collect_training_data": lambda p, m, out: len(collect_training_data(p, min_masks=1).frames),
    "measure_file": lambda p, m, out: measure_file(p, output_dir=out / "measure"),
    "track_file": lambda p, m, out: track_file(p, output_dir=out / "track"),
    "evaluate_paths": lambda p, m, out: evaluate_paths(p, p, output=out / "eval.csv"),
    "execute": lambda p, m, out: [type(e).__name__ for e in execute(
        p, params=SegmentationParams(output_dir=str(out / "seg")), segmenter=ThresholdSegmenter())],
}


@pytest.mark.parametrize("name", list(CALLS))
def test_a_0d_text_array_gives_what_the_path_gives(mask: Path, tmp_path: Path, name: str) -> None:
    call = CALLS[name]
    path = str(mask) if name != "execute" else str(mask.parent / "a.tif")
    as_text = _outcome(lambda: call(path, mask, tmp_path / "text"))
    as_array = _outcome(lambda: call(np.array(path), mask, tmp_path / "array"))
    assert "Error" not in as_text and "Failed" not in as_text, as_text  # (the path itself works)
    assert as_array == as_text
