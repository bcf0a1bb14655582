"""Review 45b: the dock names its Suffix field in the advice of an output name too long.

d38e482 made the dock's advice for another input's output name its Suffix and Output folder
(``view.phrasing.for_widget``), but only for ``--suffix S or --output-dir DIR``: the engine's refusal of an
output name over 255 bytes ends "(or use a shorter --suffix)", and the Batch segmentation dock's status
table showed the command line's option, which the dock has not got. The command line's text is unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from napari_batchseg.engine import plan, run
from napari_batchseg.events import TaskFailed
from napari_batchseg.params import SegmentationParams
from napari_batchseg.runners.session import TaskState
from napari_batchseg.testing import ThresholdSegmenter
from napari_batchseg.view.phrasing import for_widget, state_details


def test_the_dock_says_suffix_for_a_name_too_long(tmp_path: Path) -> None:
    image = np.full((32, 32), 10, np.uint16)
    image[4:12, 4:12] = 1000
    path = tmp_path / ("x" * 245 + ".tif")
    tifffile.imwrite(path, image)
    the_plan = plan([path], SegmentationParams())
    (failed,) = [e for e in run(the_plan, ThresholdSegmenter()) if isinstance(e, TaskFailed)]
    assert failed.reason.endswith("(or use a shorter --suffix)"), failed.reason  # the command line's
    state = TaskState(the_plan.tasks[0], 1, "failed", reason=failed.reason)
    cell, tip = state_details(state)
    assert cell.endswith("(or use a shorter Suffix)") and "--" not in tip, (cell, tip)


def test_the_other_advice_is_phrased_as_before() -> None:
    both = "use --suffix S or --output-dir DIR for new outputs, or --existing overwrite to replace it"
    assert for_widget(both) == ("use another Suffix or Output folder for new outputs, or If output exists: "
                                "overwrite to replace it")
