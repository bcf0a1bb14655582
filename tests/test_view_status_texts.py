"""The run status table's texts without Qt (:mod:`napari_batchseg.view.phrasing`)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from napari_batchseg.events import Task
from napari_batchseg.io.naming import output_names
from napari_batchseg.runners.session import TaskState
from napari_batchseg.view.phrasing import (
    detail_text,
    frames_cell,
    frames_progress,
    mask_tail,
    progress_text,
    state_details,
)


def _state(status: str, frames_done: int = 0) -> TaskState:
    source = Path("a.tif")
    return TaskState(Task(source, 0, 1, output_names(source)), 3, status=status, frames_done=frames_done)


def test_frames_cell_counts_what_ran_and_leaves_the_rest() -> None:
    assert frames_cell(_state("running")) == "0/3"
    assert frames_cell(_state("done", 3)) == "3/3"
    assert frames_cell(_state("cancelled", 2)) == "2/3"  # it ran before it stopped
    assert frames_cell(_state("pending")) is None and frames_cell(_state("skipped")) is None


def test_detail_text_adds_the_tooltip_below_when_there_is_one() -> None:
    assert detail_text("a.tif", "done", "/out/a_vSM.ome.tif\n3 frame(s)") == (
        "a.tif: done\n/out/a_vSM.ome.tif\n3 frame(s)")
    assert detail_text("a.tif", "pending", "") == "a.tif: pending"


def test_a_done_masks_details_keep_its_suffix_in_view() -> None:
    """Known bug: ``a_vSM-cyto3.ome.tif`` and ``a_vSM.ome.tif``, elided in the narrow Details column, read
    the same; the cell shows the name from the module tag on (the File column names the input)."""
    folder = Path("out")
    assert mask_tail(output_names("cells_image_001.tif", "cyto3", folder).mask) == "…_vSM-cyto3"
    assert mask_tail(output_names("cells_image_001.tif", "", folder).mask) == "…_vSM"
    assert mask_tail(output_names("a.lif", "", folder, position=3, n_positions=12).mask) == "…_vSM"
    assert mask_tail(output_names("x_vSM_raw.tif", "v2", folder).mask) == "…_vSM-v2"  # the last tag
    assert mask_tail(Path("other.tif")) == "other.tif"  # not an output name: whole
    done = TaskState(None, 3, status="done", mask_path=folder / "a_vSM-cyto3.ome.tif",  # type: ignore[arg-type]
                     seconds=1.5)
    assert state_details(done) == ("…_vSM-cyto3", f"{folder / 'a_vSM-cyto3.ome.tif'}\n3 frame(s) in 1.5 s")


def test_frames_progress_says_the_frames_left_out() -> None:
    run = SimpleNamespace(frames_planned=8, frames_settled=5, frames_done=2)  # 3 of a skipped file
    hi, value, fmt = frames_progress(run)  # type: ignore[arg-type]
    assert (hi, value) == (8, 5) and progress_text(fmt, 0, hi, value) == "5 / 8 frames (3 not segmented)"
    hi, value, fmt = frames_progress(SimpleNamespace(frames_planned=0, frames_settled=0, frames_done=0))  # type: ignore[arg-type]
    assert (hi, value, fmt) == (1, 0, "%v / %m frames")  # an empty plan: a bar of one, not of none
