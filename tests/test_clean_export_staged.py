"""``batchseg clean`` and what a killed ``batchseg export`` staged: its hidden folder, its provenance file.

Before, an export staged its new files as ``.<name>.partial-XXXXXXXX`` (a folder, and a provenance
file), names that say nothing of the process: ``clean`` called the provenance file "not a temporary
file of this tool's" and never looked at the folder, so a killed export's new files stayed for good.
Now they are ``.<name>.partial-new-<pid>-XXXXXXXX`` (``io.atomic.staged_prefix``): ``clean`` removes
those of a process that is gone, unless changed in the last minute (a process of another host may be
writing them), and leaves a live process's alone.

The kill is real (tests/_killed.py: a child killed at the rename of the new ROI zip onto the earlier one).
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from _killed import kill_at_the_rois_rename, rois_export
from napari_batchseg.cli import main
from napari_batchseg.io.atomic import ASIDE_MARK, PARTIAL_MARK, hidden_name
from napari_batchseg.io.leftovers import find_leftovers

STAGED_MARK = PARTIAL_MARK + "new-"  # (io.atomic.STAGED_MARK)


def _clean(folder: Path) -> tuple[int, str]:
    said = io.StringIO()
    with contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
        status = main(["clean", str(folder)])
    return status, said.getvalue()


def _age(path: Path, seconds: float) -> None:
    """Date ``path`` (and what a folder holds) ``seconds`` back."""
    then = time.time() - seconds
    for p in [*path.rglob("*"), path] if path.is_dir() else [path]:
        os.utime(p, (then, then), follow_symlinks=False)


@pytest.mark.parametrize("links", [True, False])
def test_clean_removes_what_a_killed_export_staged(tmp_path: Path, links: bool) -> None:
    mask, out, old = rois_export(tmp_path)
    kill_at_the_rois_rename(mask, out, links=links)
    staged = sorted(p for p in out.iterdir() if PARTIAL_MARK in p.name and ASIDE_MARK not in p.name)
    assert [p.name.split(PARTIAL_MARK)[0] for p in staged] == [".cells_vSM_rois.zip",
                                                                 ".cells_vSM_rois.zip.provenance.json"]
    assert all(STAGED_MARK in p.name for p in staged)  # (named with the killed process's pid)
    assert staged[0].is_dir() and staged[1].is_file()
    found, held = find_leftovers(out)  # just written: a process of another host may be writing them
    assert not [f for f in found if f.kind == "staged"]
    assert [h for h in held if "modified 0 s ago" in h and STAGED_MARK in h] and len(held) >= 2
    for p in staged:
        _age(p, 120)
    status, said = _clean(out)
    assert status == 0, said
    for p in staged:
        assert f"removed: {p} (" in said and "staged by an export of process" in said
        assert not os.path.lexists(p)
    assert (out / "cells_vSM_rois.zip").read_bytes() == old  # the earlier export (put back without links)
    assert "not a temporary file of this tool's" not in said


def test_a_live_process_s_staged_files_and_other_contents_are_left_alone(tmp_path: Path) -> None:
    live = tmp_path / f"{hidden_name('x_rois.zip')}{STAGED_MARK}{os.getpid()}-abcd_123"
    live.mkdir()
    (live / "item.zip").write_bytes(b"PK")
    foreign = tmp_path / f"{hidden_name('y.json')}{STAGED_MARK}{_dead_pid()}-abcd_123"
    foreign.write_text('{"someone": "else"}')
    linked = tmp_path / f"{hidden_name('z.json')}{STAGED_MARK}{_dead_pid()}-abcd_123"
    linked.symlink_to(foreign)
    for p in (live, foreign):
        _age(p, 120)
    found, held = find_leftovers(tmp_path)
    assert not found
    assert any(str(live) in h and "still running" in h for h in held)
    assert any(str(foreign) in h and "content" in h for h in held)
    assert not any(str(linked) in h for h in held)
    assert _clean(tmp_path)[0] == 0 and live.is_dir() and foreign.is_file() and linked.is_symlink()


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    return int(done.stdout)
