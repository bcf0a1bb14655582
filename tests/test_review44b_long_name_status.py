"""Review 44b: the output status of an input whose output name would pass 255 bytes raises OSError.

Session 44 made such a file fail alone at planning (``engine._too_long``: the task's error), and
``--dry-run`` says so; but :func:`existing.output_status` (the Segment dock's outputs list, in a worker,
through ``view.outputs.output_statuses``) still stats the mask: ``OSError: [Errno 36] File name too
long`` (Python 3.11's ``Path.exists`` does not swallow ENAMETOOLONG).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from napari_batchseg import engine
from napari_batchseg.existing import output_status
from napari_batchseg.params import SegmentationParams
from napari_batchseg.view.outputs import output_statuses


def test_the_status_of_a_too_long_output_name_is_no_oserror(tmp_path: Path) -> None:
    source = tmp_path / ("a" * 248 + ".tif")  # legal; its mask name a_vSM.ome.tif is 260 bytes
    tifffile.imwrite(source, np.zeros((16, 16), np.uint16))
    params = SegmentationParams()
    (task,) = engine.plan([source], params).tasks
    assert task.error is not None and "255" in task.error  # (planning says it)
    assert output_status(task, params).state != "same"
    assert len(output_statuses([(task, params), (task, None)])) == 2
