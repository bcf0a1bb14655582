"""The Re-threshold dock opened alone builds napari's unit registry in a worker, not on the GUI thread.

Profiled (GUI trial 46): with no Batch segmentation dock (whose start-up work builds it), the dock's first
preview layer built pint's registry on the GUI thread: 1.9 s of frozen GUI. Run in a fresh interpreter:
the registry is process-wide, built by any earlier test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

SCRIPT = """
import time
import napari, pint
from pint.registry import LazyRegistry
from qtpy.QtWidgets import QApplication
from napari_batchseg._napari._rethreshold_widget import RethresholdWidget

viewer = napari.Viewer(show=False)
lazy_before = isinstance(pint.get_application_registry().get(), LazyRegistry)
w = RethresholdWidget(viewer)
viewer.window.add_dock_widget(w, name="Re-threshold")
end = time.monotonic() + 240
while w.busy and time.monotonic() < end:
    QApplication.processEvents()
    time.sleep(0.02)
QApplication.processEvents()
lazy_after = isinstance(pint.get_application_registry().get(), LazyRegistry)
print("REGISTRY", lazy_before, lazy_after, len(viewer.layers), flush=True)
viewer.close()
"""


def test_the_dock_alone_builds_the_unit_registry_off_the_gui_thread(tmp_path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
           "BATCHSEG_CONFIG_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    line = [x for x in done.stdout.splitlines() if x.startswith("REGISTRY")]
    assert line, done.stdout + done.stderr
    # unbuilt when the dock opened (no layer yet), built by its worker before any layer needs it
    assert line[0].split()[1:] == ["True", "False", "0"], line
