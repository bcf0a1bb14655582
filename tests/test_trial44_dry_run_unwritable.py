"""Trial 44: ``--dry-run`` says when an output beside its input cannot be written.

A walk: inputs on a read-only share, no ``--output-dir``: the dry run listed each output as ``[new]``
with exit status 0, then the run failed every file (``cannot claim ...: Read-only file system``). An
``--output-dir`` that is not writable was already refused by both; a folder beside the inputs was not
checked by the dry run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_batchseg import engine
from napari_batchseg.events import TaskFailed
from napari_batchseg.existing import dry_run_line
from napari_batchseg.io.arrays import ArrayInput
from napari_batchseg.io.reader import unregister_source
from napari_batchseg.params import SegmentationParams
from napari_batchseg.testing import threshold_segmenter


def _image() -> np.ndarray:
    image = np.zeros((2, 32, 32), np.uint16)
    image[:, 8:16, 8:16] = 1000
    return image


def test_dry_run_fails_an_output_its_run_cannot_write(tmp_path: Path) -> None:
    # a folder nobody can make, root included (permission bits do not stop root; a read-only share, the
    # walk's case, is refused by the same check)
    (tmp_path / "a_file").write_text("x")
    unwritable_folder = tmp_path / "a_file" / "sub"
    params = SegmentationParams()
    inputs = [ArrayInput(_image(), "TYX", "cells", folder=unwritable_folder),
              ArrayInput(_image(), "TYX", "fine", folder=tmp_path)]
    the_plan = engine.plan_arrays(inputs, params)
    try:
        unwritable, fine = the_plan.tasks
        line, fails = dry_run_line(unwritable, the_plan.params)
        assert fails
        assert line.split("\t")[2] == "(no output)"
        assert f"[cannot write: cannot create output folder {unwritable_folder}: " in line
        line, fails = dry_run_line(fine, the_plan.params)
        assert not fails and line.endswith("[new]")
        # the run agrees: the first fails, the second is done
        events = list(engine.run(the_plan, threshold_segmenter(params)))
        failed = [e for e in events if isinstance(e, TaskFailed)]
        assert [e.task for e in failed] == [unwritable]
        assert (tmp_path / "fine_vSM.ome.tif").is_file()
        # a skipped output writes nothing: nothing to check, the run skips it too
        line, fails = dry_run_line(fine, the_plan.params)
        assert not fails and line.endswith("[exists: skipped]")
    finally:
        for task in the_plan.tasks:
            unregister_source(task.input)
