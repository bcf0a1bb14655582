"""Review 45: an output whose log names its input by another name of the same file is that input's.

Since 4fdfe3c an output whose log records another input of the same output name, still there, is never
replaced (``a.tif``'s output when ``a.tiff`` is planned). Names were compared as text, so another name of
*the same file* counted as another input: ``IMG.tif`` typed for ``img.tif`` on macOS, Windows or an SMB
share (case ignored: one file, and one output ``img_vSM.ome.tif``), or a hard link. Its output was refused
(``--existing overwrite``: the task failed) or skipped as another input's. A hard link stands here for
such a name: two names, one file.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from _one_square import segmented_square
from napari_batchseg import engine
from napari_batchseg.existing import dry_run_line, output_status
from napari_batchseg.params import SegmentationParams
from napari_batchseg.runners import RunOptions, execute
from napari_batchseg.testing import threshold_segmenter


@pytest.fixture
def two_names(tmp_path: Path) -> Path:
    """``a.tif`` segmented, and ``a.tiff``: another name of the same file (its output name is the same)."""
    segmented_square(tmp_path / "a.tif", SegmentationParams())
    try:
        os.link(tmp_path / "a.tif", tmp_path / "a.tiff")
    except OSError as exc:  # pragma: no cover - a file system without hard links
        pytest.skip(f"no hard links here: {exc}")
    return tmp_path / "a.tiff"


def test_another_name_of_the_same_file_is_the_same_input(two_names: Path) -> None:
    params = SegmentationParams()
    task = engine.plan([two_names], params).tasks[0]
    status = output_status(task, params)
    assert (status.state, status.other_input) == ("same", None)
    line, fails = dry_run_line(task, params)
    assert line.endswith("[exists: skipped]") and not fails, line


def test_overwrite_replaces_the_output_of_the_same_file_by_another_name(two_names: Path) -> None:
    params = SegmentationParams(existing="overwrite")
    the_plan = engine.plan([two_names], params)
    events = list(execute(the_plan, RunOptions(), segmenter=threshold_segmenter(params)))
    assert isinstance(events[-1], engine.TaskDone), events[-1]


def test_a_file_of_another_name_that_is_another_file_is_still_refused(tmp_path: Path) -> None:
    segmented_square(tmp_path / "a.tif", SegmentationParams())
    (tmp_path / "a.tiff").write_bytes((tmp_path / "a.tif").read_bytes())  # a copy: another file
    params = SegmentationParams(existing="overwrite")
    task = engine.plan([tmp_path / "a.tiff"], params).tasks[0]
    assert output_status(task, params).other_input == tmp_path / "a.tif"


def _logged_on_windows(tmp_path: Path) -> None:
    """``a.tif`` segmented; its log rewritten as a run on Windows writes it (``C:\\...\\a.tif``)."""
    the_plan = segmented_square(tmp_path / "a.tif", SegmentationParams())
    log = the_plan.tasks[0].names.log
    text = log.read_text(encoding="utf-8")
    assert f"input: {tmp_path / 'a.tif'}\n" in text
    log.write_text(text.replace(f"input: {tmp_path / 'a.tif'}\n", "input: C:\\Users\\me\\data\\a.tif\n"),
                   encoding="utf-8")


def test_a_log_written_on_windows_names_the_same_input(tmp_path: Path) -> None:
    _logged_on_windows(tmp_path)
    params = SegmentationParams()
    task = engine.plan([tmp_path / "a.tif"], params).tasks[0]
    status = output_status(task, params)
    assert (status.state, status.differences, status.other_input) == ("same", {}, None)
    line, _ = dry_run_line(task, params)
    assert line.endswith("[exists: skipped]"), line  # before: "made from another input (...): skipped"


def test_a_log_written_on_windows_of_another_input_still_there_is_another_s(tmp_path: Path) -> None:
    _logged_on_windows(tmp_path)
    (tmp_path / "a.tiff").write_bytes((tmp_path / "a.tif").read_bytes())  # another file, same output name
    params = SegmentationParams()
    task = engine.plan([tmp_path / "a.tiff"], params).tasks[0]
    assert output_status(task, params).other_input == tmp_path / "a.tif"
