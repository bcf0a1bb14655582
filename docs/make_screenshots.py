"""Screenshots of the Batch segmentation widget during and after a run, for docs/images/.

Run under a (virtual) display, e.g.::

    xvfb-run -a -s "-screen 0 1600x1000x24" python docs/make_screenshots.py

It copies example files of ``examples/`` into a temporary folder under ``_BF`` names, opens
napari with the widget, segments them with the project's own model (``examples/models``) and saves:

* ``widget_files.png``: the dock widget (440 px, napari's dock width) with files listed and one selected
  (its metadata shown); ``widget_settings.png``: its Settings tab;
* ``viewer_during_run.png``: the whole window while a time series streams in;
* ``widget_during_run.png``: the dock widget at the same moment (progress, status table);
* ``viewer_after_run.png`` / ``widget_after_run.png``: when the batch is done;
* ``widget_correction.png`` / ``viewer_correction.png``: after two correction helpers, before saving.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images"
EXAMPLES = ROOT / "examples"
MODEL = next((p for p in sorted((ROOT / "examples" / "models").glob("*")) if p.is_file()
              and p.suffix not in (".md", ".txt", ".json", ".yaml")), None)


def main() -> int:
    """Make the screenshots; return a process exit code."""
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_batchseg._napari._stream import layer_meta
    from napari_batchseg._napari._widget import BatchSegWidget

    if MODEL is None:
        print("no model in examples/models", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="batchseg-shots-"))
    def example(name: str) -> Path:
        return next(p for p in (EXAMPLES / "data" / name, EXAMPLES / "more_data" / name) if p.exists())

    shutil.copy(example("dsb2018_nuclei.tif"), work / "nuclei_BF.tif")
    shutil.copy(example("arcadia_ecoli_gfp_timelapse.nd2"), work / "ecoli_timelapse_BF.nd2")
    shutil.copy(example("arcadia_cells_fitc_zstack.nd2"), work / "cells_zstack_BF.nd2")
    shutil.copy(example("arcadia_yeast_dic_fitc.nd2"), work / "yeast_WL488.nd2")

    viewer = napari.Viewer(title="napari-batchseg", show=True)
    viewer.window._qt_window.resize(1560, 980)
    widget = BatchSegWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Batch segmentation", area="right")
    app = QApplication.instance()

    def pump(seconds: float) -> None:
        end = time.time() + seconds
        while time.time() < end:
            app.processEvents()
            time.sleep(0.01)

    def wait(cond, timeout: float) -> None:
        end = time.time() + timeout
        while not cond() and time.time() < end:
            pump(0.05)

    def shoot(name: str, whole: bool, part=None) -> None:
        pump(0.3)
        path = OUT / name
        if whole:
            viewer.screenshot(str(path), canvas_only=False)
        else:
            (part or widget).grab().save(str(path))
        print("saved", path)

    widget.files.add_paths([work])
    wait(lambda: not widget.infos.busy, 30)
    widget.files.select_file(work / "ecoli_timelapse_BF.nd2")
    widget.form.model.setCurrentText("User trained model…")
    widget.form.model_path.setText(str(MODEL))
    widget.output.suffix.setText("starter")
    widget.form.end_frame.setValue(29)
    dock_width = 440  # napari's dock width: the widget must fit it (tabs + fixed run bar)
    widget.setFixedWidth(dock_width)
    wait(lambda: "looking" not in widget.form.device_label.text(), 120)
    pump(1)
    widget.tabs.setCurrentIndex(0)
    shoot("widget_files.png", whole=False)
    widget.tabs.setCurrentIndex(1)
    shoot("widget_settings.png", whole=False)

    widget.run()

    def timelapse_half_done() -> bool:
        keys = widget.status.keys()
        key = next((k for k in keys if "timelapse" in k), None)
        return key is not None and widget._frames_done.get(key, 0) >= 12

    wait(timelapse_half_done, 600)
    shoot("viewer_during_run.png", whole=True)
    shoot("widget_during_run.png", whole=False)
    wait(lambda: not widget.running and widget.streamer.settled, 900)
    # the nuclei result is shown (the last file); zoom on a corner to see the objects
    pump(1)
    viewer.camera.zoom = viewer.camera.zoom * 1.6
    viewer.camera.center = (0, 160, 160)
    pump(1)
    shoot("viewer_after_run.png", whole=True)
    shoot("widget_after_run.png", whole=False)

    labels = next(lay for lay in viewer.layers if layer_meta(lay).get("role") == "mask")
    viewer.layers.selection.active = labels
    widget.correction.min_size.setValue(60)
    for button in (widget.correction.small_btn, widget.correction.border_btn):
        button.click()  # computed in a thread, then applied
        while widget.correction.busy:
            pump(0.05)
    widget.tabs.setCurrentIndex(3)
    shoot("widget_correction.png", whole=False)
    shoot("viewer_correction.png", whole=True)
    viewer.close()
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
