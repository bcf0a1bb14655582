"""Review 45: export_masks given an iterator of paths (a generator, ``map``) exports every mask.

The array check of d7b8056 read the iterator to its end, so the export that followed found no mask:
nothing was written and no error said so (an empty result and an empty output folder).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from napari_batchseg.export import export_masks


def test_an_iterator_of_masks_is_exported(tmp_path: Path) -> None:
    lab = np.zeros((32, 32), np.uint16)
    lab[4:10, 4:10] = 1
    lab[20:28, 20:28] = 2
    tifffile.imwrite(tmp_path / "a_masks.tif", lab)
    result = export_masks("semantic", (p for p in [tmp_path / "a_masks.tif"]), tmp_path / "out")
    assert result.failed == {}
    assert [p.name for p in result.outputs[tmp_path / "a_masks.tif"]] == ["a_masks_semantic.tif"]
    assert (tifffile.imread(tmp_path / "out" / "a_masks_semantic.tif") > 0).sum() == (lab > 0).sum()
