"""``segment --dry-run`` and an output a killed ``--existing overwrite`` left hidden.

The run first puts back the earlier files a killed replacement kept aside (``.<name>.partial-old-<pid>-*``,
``_commit.sweep_leftovers``), then decides skip / overwrite on the output as it is then. The dry run
judged the output as it lay (mask missing: "[new]"; new log beside the earlier mask: "incomplete") where
the run skips it. Now it says what the run will do, and that the files are put back first; it moves nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from _one_square import segmented_square
from napari_batchseg import engine
from napari_batchseg.cli import main
from napari_batchseg.io.atomic import ASIDE_MARK, hidden_name
from napari_batchseg.params import SegmentationParams
from napari_batchseg.testing import ThresholdSegmenter


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    return int(done.stdout)


def _aside(path: Path, pid: int) -> Path:
    return path.with_name(f"{hidden_name(path.name)}{ASIDE_MARK}{pid}-0123abcd")


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("links", [False, True])
def test_dry_run_says_what_the_run_does_with_an_output_a_killed_overwrite_left_hidden(
        tmp_path: Path, links: bool, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    params = SegmentationParams(output_dir=str(out))
    source = tmp_path / "a.tif"
    segmented_square(source, params)
    mask, log = out / "a_vSM.ome.tif", out / "a_vSM.log"
    earlier = _listing(out)
    dead = _dead_pid()
    if links:  # killed at the mask's rename: the new log in place, the earlier mask has a second name
        kept = tmp_path / "kept"
        shutil.copytree(out, kept)
        segmented_square(source, params.replace(existing="overwrite"))  # a new pair (another output id)
        shutil.copy2(kept / mask.name, mask)
        os.link(mask, _aside(mask, dead))
        shutil.copy2(kept / log.name, _aside(log, dead))
    else:  # no hard links, killed between the mask's renames: both earlier files hidden, the mask missing
        os.rename(mask, _aside(mask, dead))
        os.rename(log, _aside(log, dead))
    before = _listing(out)

    assert main(["segment", str(source), "--output-dir", str(out), "--dry-run"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.endswith("]"), line
    assert "[exists: skipped (first put back as before a killed run: " in line, line  # before: [new]
    assert f"a_vSM.log from {_aside(log, dead).name}" in line
    assert (f"a_vSM.ome.tif from {_aside(mask, dead).name}" in line) == (not links)
    assert _listing(out) == before  # the dry run moved nothing

    events = list(engine.run(engine.plan([source], params), segmenter=ThresholdSegmenter()))
    assert isinstance(events[-1], engine.TaskSkipped), events[-1]  # what the dry run said
    assert {n: b for n, b in _listing(out).items() if not n.startswith(".")} == earlier


def test_dry_run_leaves_an_output_of_a_live_replacement_as_it_lies(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An earlier file kept aside by a process still running is not the run's to put back."""
    out = tmp_path / "out"
    params = SegmentationParams(output_dir=str(out))
    source = tmp_path / "a.tif"
    segmented_square(source, params)
    mask = out / "a_vSM.ome.tif"
    os.rename(mask, _aside(mask, os.getpid()))
    assert main(["segment", str(source), "--output-dir", str(out), "--dry-run"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.endswith("[new]"), line  # (as it lies: its mask missing)


def test_the_widgets_outputs_list_says_what_the_run_does_with_an_output_left_hidden(tmp_path: Path) -> None:
    """The dock's "what Run will do" (``view.outputs.output_statuses``) judged the output as it lay: [new]."""
    from napari_batchseg.existing import what_happens
    from napari_batchseg.view.outputs import output_statuses

    out = tmp_path / "out"
    params = SegmentationParams(output_dir=str(out))
    source = tmp_path / "a.tif"
    segmented_square(source, params)
    mask, log = out / "a_vSM.ome.tif", out / "a_vSM.log"
    dead = _dead_pid()
    os.rename(mask, _aside(mask, dead))
    os.rename(log, _aside(log, dead))
    before = _listing(out)
    task = engine.plan([source], params).tasks[0]
    [status] = output_statuses([(task, params)])
    said = what_happens(status, params.existing)
    assert said.startswith("exists: skipped (first put back as before a killed run"), said  # before: "new"
    assert _listing(out) == before  # nothing moved
