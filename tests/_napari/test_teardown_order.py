"""The docks' closers run when Qt deletes them, which can be after Python tore the viewer down.

At the end of a script or notebook that closed its viewer, Python's cycle collector empties the viewer's
attributes before the dock's C++ side is deleted; the dock's closers (run from Qt's ``destroyed``
signal) then find no ``viewer.layers``. An exception escaping that slot aborts the process (PyQt6): it
did, with exit 134, at the end of ``docs/make_screenshots.py`` (the Correct tab's closer).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from napari_batchseg._napari._jobs import close_all

CHILD = textwrap.dedent("""
    import numpy as np
    import napari
    from qtpy.QtCore import QEvent
    from qtpy.QtWidgets import QApplication
    from napari_batchseg._napari._measure_widget import MeasureExportWidget as MeasureWidget
    from napari_batchseg._napari._rethreshold_widget import RethresholdWidget
    from napari_batchseg._napari._track_widget import TrackWidget
    from napari_batchseg._napari._train_widget import TrainWidget
    from napari_batchseg._napari._widget import BatchSegWidget

    viewer = napari.Viewer(show=True)
    viewer.add_labels(np.zeros((8, 8), np.uint32), name="mask")
    docks = [BatchSegWidget(viewer), MeasureWidget(viewer), TrainWidget(viewer), TrackWidget(viewer),
             RethresholdWidget(viewer)]
    for dock in docks:
        viewer.window.add_dock_widget(dock)
    docks[0].tabs.setCurrentIndex(3)  # the Correct tab
    app = QApplication.instance()
    for _ in range(20):
        app.processEvents()
    model = dict(vars(viewer))
    vars(viewer).clear()  # what the cycle collector does to the viewer before the docks' C++ side goes
    for dock in docks:
        dock.deleteLater()
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)  # the docks deleted: their closers run
    print("survived", flush=True)
    vars(viewer).update(model)
    viewer.close()
""")


def test_close_all_runs_every_closer_whatever_one_raises():
    ran = []

    def gone():
        ran.append("gone")
        raise AttributeError("'Viewer' object has no attribute 'layers'")

    def deleted():
        ran.append("deleted")
        raise RuntimeError("wrapped C/C++ object has been deleted")

    close_all(gone, deleted, lambda: ran.append("last"))  # raises nothing: it runs in Qt's destroyed slot
    assert ran == ["gone", "deleted", "last"]


def test_docks_deleted_after_the_viewer_was_torn_down_do_not_abort(tmp_path):
    env = {**os.environ, "BATCHSEG_CONFIG_DIR": str(tmp_path / "config")}
    if not env.get("DISPLAY"):  # napari's canvas needs OpenGL: xvfb-run gives one; offscreen has none
        pytest.skip("needs an X display (run the widget tests under xvfb-run)")
    env.pop("QT_QPA_PLATFORM", None)
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=300, env=env)
    out = done.stdout + done.stderr
    assert done.returncode == 0, f"exit {done.returncode}:\n{out[-3000:]}"
    assert "survived" in out
    assert "Traceback" not in out, out[-3000:]
