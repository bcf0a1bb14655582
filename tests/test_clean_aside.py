"""``batchseg clean`` and the earlier files an output's replacement keeps aside (``io.atomic.aside_path``).

Before, it said of them "not a temporary file of this tool's, left alone": where a run was killed between
renaming the earlier file aside (a file system without hard links, a folder) and renaming the new one in,
the output was missing and its only copy stayed hidden. Now such a file is put back where its target is
missing, and listed for removal where its target is there; never one of a live process.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

from _killed import kill_at_the_rois_rename, rois_export
from napari_batchseg.cli import main
from napari_batchseg.io.atomic import ASIDE_MARK, hidden_name
from napari_batchseg.io.leftovers import find_leftovers


def _run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        status = main(["clean", *args])
    return status, out.getvalue()


def test_the_only_copy_of_an_output_is_put_back(tmp_path: Path) -> None:
    mask, out, old = rois_export(tmp_path)
    target = out / "cells_vSM_rois.zip"
    kill_at_the_rois_rename(mask, out, links=False)  # the earlier file renamed aside (no hard links)
    assert not target.exists()  # (the window this is about)
    assert _run(str(out), "--dry-run")[0] == 0 and not target.exists()
    status, said = _run(str(out))
    assert status == 0 and f"put back: {target}" in said
    assert target.read_bytes() == old
    assert not [p for p in out.iterdir() if ASIDE_MARK in p.name]


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    return int(done.stdout)


def test_an_aside_beside_its_output_is_listed_and_a_live_process_s_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "x_objects.csv"
    target.write_text("new\n")
    linked = tmp_path / f"{hidden_name(target.name)}{ASIDE_MARK}{_dead_pid()}-0123abcd"
    os.link(target, linked)  # a run killed before it removed its second name
    renamed = tmp_path / f"{hidden_name('y_objects.csv')}{ASIDE_MARK}{os.getpid()}-0123abcd"
    renamed.write_text("old y\n")  # a live process's, in the middle of its replacement
    found, held = find_leftovers(tmp_path, min_age_s=0)
    assert [(f.path, f.kind) for f in found] == [(linked, "aside")]
    assert any(str(renamed) in h and str(os.getpid()) in h for h in held)
    found, held = find_leftovers(tmp_path)  # (just made: a live run of another host may be using it)
    assert not found and any(str(linked) in h for h in held)
