"""Trial 44: an output of an input that changed since is not "done" for ``--existing skip``.

A walk: ``batchseg segment chg/a.tif`` wrote ``a_vSM.ome.tif`` (a 512 x 512 nuclei image); the file
``a.tif`` was then replaced by another image of the same name (256 x 256, other pixels, as a microscope
re-export does) and the same command said ``exists: skipped`` (the dry run too), counting the old
mask as this run's result. ``batchseg measure`` of that mask refuses it ("its input changed since it
was segmented"), and ``batchseg rerun`` refuses it: only the skip decision ignores the input identity
the log records. Now an input of another size than its log records makes the output "other" (only the
size: the widget's outputs list asks for every file; the planes' sha256 stays measure's and rerun's).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from _one_square import segmented_square
from napari_batchseg import engine
from napari_batchseg.existing import output_status
from napari_batchseg.params import SegmentationParams


def test_replaced_input_makes_its_output_not_the_same(tmp_path: Path) -> None:
    source = tmp_path / "a.tif"
    params = SegmentationParams()
    the_plan = segmented_square(source, params)
    (task,) = the_plan.tasks
    assert output_status(task, params).state == "same"
    other = np.full((32, 40), 10, np.uint16)  # another image under the same name
    other[2:9, 3:30] = 800
    tifffile.imwrite(source, other)
    (task,) = engine.plan([source], params).tasks
    status = output_status(task, params)
    assert status.state == "other" and status.detail.startswith("input ") and "bytes ->" in status.detail
