"""Review 44b: a log whose input identity holds a size that is no number does not stop the run.

Session 44's ``existing._input_resized`` compared the input's size with ``int(identity["size"])``: a log
edited by hand (``"size": "big"``) raised ``ValueError`` from :func:`existing.output_status`, i.e. from
``--existing`` screening of the whole batch, ``--dry-run`` and the Segment dock's outputs list.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from _one_square import segmented_square
from napari_batchseg.existing import output_status
from napari_batchseg.params import SegmentationParams


@pytest.mark.parametrize("size", ['"big"', "[1]", "1e999"])
def test_a_logged_size_that_is_no_number_is_ignored(tmp_path: Path, size: str) -> None:
    source = tmp_path / "a.tif"
    params = SegmentationParams()
    the_plan = segmented_square(source, params)
    (task,) = the_plan.tasks
    text = task.names.log.read_text(encoding="utf-8")
    edited = re.sub(r'"size": \d+', f'"size": {size}', text)
    assert edited != text
    task.names.log.write_text(edited, encoding="utf-8")
    assert output_status(task, params).state == "same"
