"""Review 44b: an output of an input replaced since (another size) is said "made with other parameters".

Session 44 made such an output "other" (``existing._input_resized``), but every text of an "other"
output says it was made with other parameters: ``--dry-run``'s line "made with other parameters (input
2368 bytes -> 2624 bytes): skipped", the skip reason, and the summary's "skipped output(s) were made with
other parameters". The parameters are the same; the input is another image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from napari_batchseg import engine
from napari_batchseg._commit import existing_decision
from napari_batchseg.existing import dry_run_line
from napari_batchseg.params import SegmentationParams
from napari_batchseg.runners import RunOptions, execute
from napari_batchseg.testing import threshold_segmenter


def test_a_replaced_input_is_not_said_to_be_other_parameters(tmp_path: Path) -> None:
    source = tmp_path / "a.tif"
    image = np.full((48, 48), 10, np.uint16)
    image[8:20, 8:20] = 1000
    tifffile.imwrite(source, image)
    params = SegmentationParams(existing="skip")
    the_plan = engine.plan([source], params)
    events = list(execute(the_plan, RunOptions(), segmenter=threshold_segmenter(params)))
    assert isinstance(events[-1], engine.TaskDone)
    tifffile.imwrite(source, np.full((32, 40), 10, np.uint16))  # another image under the same name
    (task,) = engine.plan([source], params).tasks
    line, _fails = dry_run_line(task, params)
    decision = existing_decision(task, params)
    assert decision is not None
    assert "input" in line and "other parameters" not in line, line
    assert "other parameters" not in decision.reason, decision.reason
    assert "made from another input (input " in line and "made from another input" in decision.reason
