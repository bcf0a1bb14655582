"""A one-square image segmented by the stand-in segmenter: a finished output for tests about what follows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from napari_batchseg import engine
from napari_batchseg.events import Plan
from napari_batchseg.params import SegmentationParams
from napari_batchseg.runners import RunOptions, execute
from napari_batchseg.testing import threshold_segmenter


def segmented_square(source: Path, params: SegmentationParams) -> Plan:
    """Write a 48 x 48 image with one bright square at ``source``, segment it with ``params``; its plan."""
    image = np.full((48, 48), 10, np.uint16)
    image[8:20, 8:20] = 1000
    tifffile.imwrite(source, image)
    the_plan = engine.plan([source], params)
    events = list(execute(the_plan, RunOptions(), segmenter=threshold_segmenter(params)))
    assert isinstance(events[-1], engine.TaskDone), events[-1]
    return the_plan
