"""``batchseg export`` stopped by SIGTERM between masks says how many it exported, as ``measure`` does.

A review: it said only "the export was cut short: the outputs of the masks exported before it are
kept", where ``measure`` and ``track`` say how many masks they did and how many not.

In process: the signal is sent to this process just after the second mask's provenance file (the last
thing an export puts in place for a mask) is renamed into place; the masks are tiny synthetic label
images (the point is the report).
"""

from __future__ import annotations

import contextlib
import io
import os
import signal

import numpy as np

from napari_batchseg.cli_downstream import main
from napari_batchseg.export import _common, export_masks
from napari_batchseg.io import atomic
from napari_batchseg.io.masks import write_mask

N = 4


def test_export_stopped_says_how_many_masks_it_exported(tmp_path, monkeypatch):
    folder = tmp_path / "masks"
    folder.mkdir()
    for i in range(N):
        labels = np.zeros((2, 10, 12), np.uint16)
        labels[:, 2:6, 1 + i:6 + i] = 1
        write_mask(folder / f"m{i}_vSM.ome.tif", labels)
    out = tmp_path / "out"
    export_masks("rois", [folder / "m0_vSM.ome.tif"], out)  # there before: replaced, counted once new
    real = atomic._replace  # (the rename of every output's commit)
    calls: list[int] = []

    def replace_then_stop(src, dst):
        real(src, dst)
        if str(dst).endswith(_common.PROVENANCE_SUFFIX):
            calls.append(1)
            if len(calls) == 2:
                os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(atomic, "_replace", replace_then_stop)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = main(["export", "rois", str(folder), str(folder / "m1_vSM.ome.tif"),  # (m1: once)
                       "--output-dir", str(out), "--overwrite"])
    assert status == 128 + signal.SIGTERM
    assert err.getvalue().strip() == (
        "stopped by SIGTERM: the export was cut short: the outputs of the masks exported before it are kept: "
        f"2 mask(s) exported, {N - 2} not (nothing partial was kept); give --overwrite to export them all "
        "again")
    assert sorted(p.name for p in out.glob("*.zip")) == ["m0_vSM_rois.zip", "m1_vSM_rois.zip"]
