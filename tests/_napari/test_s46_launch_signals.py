"""``batchseg gui`` stopped by SIGTERM or SIGHUP mid-run: napari closes the normal way, nothing left behind.

Their default action ended the process where it was: the run's ``.lock`` and ``.partial-*`` files stayed in
the output folder until ``batchseg clean``. Now the launcher closes the viewer (the dock cancels its run
and removes them) and exits with 128 + the signal.

A real ``batchseg gui`` process under the X display (napari's canvas needs OpenGL): the real ND2 time-lapse
of examples/ and the project's own Cellpose model. The child is the command line's ``main`` with one
addition, the user's press of *Run* once the files are listed; the test sends the signal once the run has
its lock and partial file in the output folder.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: ``batchseg gui ARGS``, pressing Run in the dock once its files are listed (as a user does)
_GUI_PRESSING_RUN = r'''
import signal
import sys

# as started from a terminal: a run under nohup (CI's is) ignores SIGHUP, which the launcher rightly keeps
signal.signal(signal.SIGHUP, signal.SIG_DFL)
from napari_batchseg._napari import _launch
from napari_batchseg.cli import main

opened = _launch.launch


def launch_and_press_run(*args, **kwargs):
    viewer, widget = opened(*args, **kwargs)
    from qtpy.QtCore import QTimer

    def press():
        if widget.files.busy or not widget.files.files() or not widget.startup_done:
            QTimer.singleShot(100, press)
            return
        print("run pressed:", widget.run(), flush=True)

    QTimer.singleShot(100, press)
    return viewer, widget


_launch.launch = launch_and_press_run
sys.exit(main(sys.argv[1:]))
'''


def _wait_for(what: str, ready, child: subprocess.Popen, log: Path, timeout_s: float) -> None:  # noqa: ANN001
    end = time.monotonic() + timeout_s
    while not ready():
        if child.poll() is not None or time.monotonic() > end:
            child.kill()
            child.wait()
            pytest.fail(f"{what}: not seen (exit {child.returncode}):\n{log.read_text()[-4000:]}")
        time.sleep(0.1)


@pytest.mark.slow  # a napari process and a real Cellpose run (about a minute on 2 cores)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_mid_run_closes_napari_and_leaves_no_lock_or_partial(
        tmp_path: Path, example_files: dict[str, Path], trained_model: Path, signum: signal.Signals) -> None:
    env = {**os.environ, "BATCHSEG_CONFIG_DIR": str(tmp_path / "config"),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    if not env.get("DISPLAY"):  # napari's canvas needs OpenGL: xvfb-run gives one; offscreen has none
        pytest.skip("needs an X display (run the widget tests under xvfb-run)")
    env.pop("QT_QPA_PLATFORM", None)  # the conftest's offscreen default: the child uses the display
    out = tmp_path / "out"
    log = tmp_path / "child.log"
    with log.open("w") as sink:
        child = subprocess.Popen(
            [sys.executable, "-c", _GUI_PRESSING_RUN, "gui", str(example_files["timelapse"]),
             "--model", str(trained_model), "--diameter", "17", "--output-dir", str(out)],
            stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)

    def names() -> list[str]:
        return sorted(p.name for p in out.iterdir()) if out.is_dir() else []

    _wait_for("the run's lock and partial file",
              lambda: any(n.endswith(".lock") for n in names()) and any(".partial-" in n for n in names()),
              child, log, 400)
    child.send_signal(signum)
    try:
        child.wait(timeout=120)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        pytest.fail(f"still running 120 s after {signum.name}:\n{log.read_text()[-4000:]}")
    said = log.read_text()
    assert "run pressed: True" in said
    assert child.returncode == 128 + signum, said[-4000:]  # (killed by the signal: -signum)
    assert f"batchseg gui: closed by {signum.name}" in said
    assert not any(n.endswith(".lock") or ".partial-" in n for n in names()), names()
    assert not any(n.endswith("_vSM.ome.tif") for n in names())  # the signal fell mid-run: cancelled
    assert "Traceback" not in said, said[-4000:]
