"""Closing napari while a dock's job runs: the process ends normally (no segfault, no abort).

Each test runs one child of ``benchmarks/crash_harness.py`` in a fresh process (a crash would kill
pytest itself): a real napari viewer with the plugin's three docks, one job started, the viewer closed
while the job still runs, then the event loop and the interpreter finish as in a napari session. The
child exits non-zero on a crash and also when napari reported an error (an exception in a Qt slot,
e.g. a callback into a deleted table model).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from napari_batchseg.segmenters.catalog import cellpose_major

HARNESS = Path(__file__).resolve().parents[2] / "benchmarks" / "crash_harness.py"


def _close_during(job: str, delay_ms: int, tmp_path: Path) -> str:
    env = {**os.environ, "BATCHSEG_CONFIG_DIR": str(tmp_path / "config")}
    if not env.get("DISPLAY"):  # napari's canvas needs OpenGL: xvfb-run gives one; offscreen has none
        pytest.skip("needs an X display (run the widget tests under xvfb-run)")
    env.pop("QT_QPA_PLATFORM", None)  # the conftest's offscreen default: the child uses the display
    done = subprocess.run([sys.executable, str(HARNESS), "--child", job, "--delay-ms", str(delay_ms)],
                          capture_output=True, text=True, timeout=600, env=env)
    out = done.stdout + done.stderr
    assert done.returncode == 0, f"exit {done.returncode}:\n{out[-4000:]}"
    return out


def test_closing_napari_20_ms_after_measure_is_clicked(tmp_path):
    """It aborted: the worker's result reached the table model of the deleted dock (RuntimeError)."""
    out = _close_during("measure", 20, tmp_path)
    assert "job running at close: True" in out  # the close really fell during the measurement
    assert "0 error(s) in napari's notifications" in out


@pytest.mark.slow  # a real (tiny) training, closed in its first epochs
@pytest.mark.skipif(cellpose_major() != 3, reason="training uses Cellpose 3's train_seg")
def test_closing_napari_while_the_train_dock_trains(tmp_path):
    """It segfaulted: the training's step hook emitted progress into the deleted Train dock."""
    out = _close_during("train", 8000, tmp_path)
    assert "job running at close: True" in out
    assert "0 error(s) in napari's notifications" in out
