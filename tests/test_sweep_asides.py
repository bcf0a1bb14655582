"""A run killed while it replaced an output's files (mask, log), then the next run, or ``batchseg clean``.

Before, the next run's sweep (``_commit.sweep_leftovers``) saw only ``.partial-`` temporary files, never
the earlier files a replacement keeps aside (``io.atomic.aside_path``). Without hard links, a kill between
the mask's two renames left the mask missing and its only copy hidden: the next run took the output for
missing and made a new one (a hand-corrected mask was lost once ``batchseg clean`` removed its copy).
With hard links, a kill at the mask's rename left the new log beside the earlier mask: a pair from two
runs, made again. Now the run (and ``clean``) first puts the earlier files back, the pair as it was,
and says so; only files of processes that are gone are touched.

The kill is real: a child process runs ``--existing overwrite`` and ``os._exit(9)`` at the rename of
the new mask onto the earlier one (tests/_killed.py).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile

from _killed import run_killed
from napari_batchseg import engine
from napari_batchseg.cli import main
from napari_batchseg.io.atomic import ASIDE_MARK, PARTIAL_MARK, hidden_name
from napari_batchseg.io.leftovers import find_leftovers
from napari_batchseg.params import SegmentationParams
from napari_batchseg.testing import ThresholdSegmenter

_SEGMENT = r'''
import errno, os, sys
from pathlib import Path
from napari_batchseg import engine
from napari_batchseg.io import atomic
from napari_batchseg.params import SegmentationParams
from napari_batchseg.testing import ThresholdSegmenter
movie, out, how = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
mask = out / "a_vSM.ome.tif"

def no_link(*args, **kwargs):  # a FUSE mount (gcsfuse, sshfs): the earlier file is renamed aside
    raise OSError(errno.ENOSYS, "Function not implemented")

def dying(real):
    def replace(src, dst):
        if Path(dst) == mask:  # the new mask's rename onto the earlier one (the log's is done)
            os._exit(9)  # SIGKILL, the OOM killer: no handler, no clean-up
        return real(src, dst)
    return replace

params = SegmentationParams(output_dir=str(out))
if how != "first":
    params = params.replace(existing="overwrite")
    atomic._replace = dying(atomic._replace)
    if how == "no-links":
        os.link = no_link
events = list(engine.run(engine.plan([movie], params), segmenter=ThresholdSegmenter()))
assert type(events[-1]).__name__ == "TaskDone", events[-1]
'''


def _movie(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "a.tif"
    data = (np.random.default_rng(0).random((2, 32, 40)) * 1000).astype(np.uint16)
    tifffile.imwrite(path, data, metadata={"axes": "TYX"}, photometric="minisblack")
    return path


def _killed_overwrite(tmp_path: Path, links: bool) -> tuple[Path, Path, dict[str, bytes]]:
    """``(movie, out, files)``: an output made (``files``), then a child killed while it replaced it."""
    movie, out = _movie(tmp_path / "in"), tmp_path / "out"
    run_killed(_SEGMENT, movie, out, "first", code_expected=0)  # (another process: its folder listing)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(before) == ["a_vSM.log", "a_vSM.ome.tif"]
    run_killed(_SEGMENT, movie, out, "links" if links else "no-links")
    asides = sorted(p.name for p in out.iterdir() if ASIDE_MARK in p.name)
    assert [n.split(ASIDE_MARK)[0] for n in asides] == [".a_vSM.log", ".a_vSM.ome.tif"]
    assert (out / "a_vSM.log").read_bytes() != before["a_vSM.log"]  # the new log is in (the window)
    assert (out / "a_vSM.ome.tif").exists() == links  # without hard links, the mask is missing
    return movie, out, before


@pytest.mark.parametrize("links", [False, True])
def test_the_next_run_puts_the_earlier_output_back_and_says_so(tmp_path: Path, links: bool) -> None:
    movie, out, before = _killed_overwrite(tmp_path, links)
    events = list(engine.run(engine.plan([movie], SegmentationParams(output_dir=str(out))),
                             segmenter=ThresholdSegmenter()))
    final = events[-1]
    assert isinstance(final, engine.TaskSkipped), final  # the earlier pair, whole: skip keeps it
    assert "output exists" in final.reason  # and it says what was put back
    assert re.search(r"a_vSM\.log put back as it was before a run killed", final.reason), final.reason
    if not links:  # (with hard links the mask was not replaced yet: its second name is only removed)
        assert "a_vSM.ome.tif put back" in final.reason
    assert {p.name: p.read_bytes() for p in out.iterdir() if not p.name.startswith(".")} == before
    hidden = [p.name for p in out.iterdir() if p.name.startswith(".")]
    assert not [n for n in hidden if ASIDE_MARK in n], hidden  # nothing of the killed run is kept aside


@pytest.mark.parametrize("links", [False, True])
def test_clean_puts_the_earlier_pair_back_whole(tmp_path: Path, links: bool) -> None:
    _, out, before = _killed_overwrite(tmp_path, links)
    said = io.StringIO()
    with contextlib.redirect_stdout(said):
        assert main(["clean", str(out)]) == 0
    if links:  # a second name just made: a replacement of another host may be under way; nothing moves
        assert said.getvalue().count("kept aside 0 s ago") == 2, said.getvalue()
        assert len([p for p in out.iterdir() if ASIDE_MARK in p.name]) == 2
        found, _ = find_leftovers(out, min_age_s=0)  # (what clean does a minute later)
        assert sorted(f.kind for f in found) == ["aside", "restore"]  # (the mask's second name; the log)
        from napari_batchseg.io.leftovers import settle  # what clean does with each

        assert all(settle(f) for f in found)
    else:
        assert f"put back: {out / 'a_vSM.log'}" in said.getvalue()
        assert f"put back: {out / 'a_vSM.ome.tif'}" in said.getvalue()
    assert {p.name: p.read_bytes() for p in out.iterdir() if not p.name.startswith(".")} == before
    assert not [p for p in out.iterdir() if ASIDE_MARK in p.name]


def test_the_earlier_file_of_a_live_process_is_left_alone(tmp_path: Path) -> None:
    movie = _movie(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    mine = out / f"{hidden_name('a_vSM.ome.tif')}{ASIDE_MARK}{os.getpid()}-0123abcd"
    mine.write_bytes(b"II*\0 a replacement under way in a live process")
    task = engine.plan([movie], SegmentationParams(output_dir=str(out))).tasks[0]
    assert engine.sweep_leftovers(task) == []
    assert mine.exists() and not (out / "a_vSM.ome.tif").exists()
    assert not [p for p in out.iterdir() if PARTIAL_MARK in p.name and p != mine]


def test_clean_leaves_an_earlier_log_while_its_mask_s_second_name_is_new(tmp_path: Path) -> None:
    """A replacement seen cut only once its mask's second name is old enough: its log waits with it."""
    dead = _dead_pid()
    mask, log = tmp_path / "x_vSM.ome.tif", tmp_path / "x_vSM.log"
    mask.write_bytes(b"II*\0 earlier mask")
    log.write_text("new log\n")
    old_log = tmp_path / f"{hidden_name(log.name)}{ASIDE_MARK}{dead}-0123abcd"
    old_log.write_text("earlier log\n")
    time.sleep(1.5)
    os.link(mask, tmp_path / f"{hidden_name(mask.name)}{ASIDE_MARK}{dead}-4567abcd")  # (killed after it)
    found, held = find_leftovers(tmp_path, min_age_s=1.0)
    assert not found  # before: the earlier log, 1.5 s old, was removed; the pair stayed half new
    assert any(str(old_log) in h for h in held)
    found, _ = find_leftovers(tmp_path, min_age_s=0)
    assert sorted((f.kind, f.path.name.split(ASIDE_MARK)[0]) for f in found) == [
        ("aside", ".x_vSM.ome.tif"), ("restore", ".x_vSM.log")]


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    return int(done.stdout)
