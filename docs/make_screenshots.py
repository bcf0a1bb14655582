"""Screenshots of napari with the Batch segmentation widget, for docs/images/.

Run under a (virtual) display, e.g.::

    xvfb-run -a -s "-screen 0 1600x1000x24" python docs/make_screenshots.py        # all of them
    xvfb-run -a -s "-screen 0 1600x1000x24" python docs/make_screenshots.py 3d     # only the 3D one

It copies example files of ``examples/`` into a temporary folder under ``_BF`` names, opens
napari with the widget, segments them with the project's own model (``examples/models``) and saves
(``widget``):

* ``widget_files.png``: the dock widget (440 px, napari's dock width) with files listed and one selected
  (its metadata shown); ``widget_settings.png``: its Settings tab;
* ``viewer_during_run.png``: the whole window while a time series streams in;
* ``widget_during_run.png``: the dock widget at the same moment (progress, status table);
* ``viewer_after_run.png`` / ``widget_after_run.png``: when the batch is done;
* ``widget_correction.png`` / ``viewer_correction.png``: after two correction helpers, before saving;

(``3d``) ``segmentation_3d_napari.png``: the real Z stack of ``examples/more_data`` segmented as a
volume (``z_mode`` 3d, the file's anisotropy) from the widget, shown in napari's 3D view; and
(``rethreshold``) ``rethreshold_dock.png``: the Re-threshold dock on the real nuclei frame's kept flows.

The set-up (:func:`open_viewer`, :func:`pump`, :func:`wait`, :func:`shoot`) is shared with the other
screenshot scripts of this folder (``make_tracking_screenshot.py``).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images"
EXAMPLES = ROOT / "examples"
MODEL = next((p for p in sorted((ROOT / "examples" / "models").glob("*")) if p.is_file()
              and p.suffix not in (".md", ".txt", ".json", ".yaml")), None)
#: the whole window's size for every screenshot (the Xvfb screen is 1600 x 1000)
WINDOW = (1560, 980)


def open_viewer(title: str = "napari-batchseg", size: tuple[int, int] = WINDOW) -> Any:
    """A napari window shown at ``size`` (pixels)."""
    import napari

    viewer = napari.Viewer(title=title, show=True)
    viewer.window._qt_window.resize(*size)
    return viewer


def pump(seconds: float) -> None:
    """Let Qt run (draw, deliver the workers' results) for ``seconds``."""
    from qtpy.QtWidgets import QApplication

    app = QApplication.instance()
    end = time.time() + seconds
    while time.time() < end:
        app.processEvents()
        time.sleep(0.01)


def wait(cond: Callable[[], bool], timeout: float) -> None:
    """Let Qt run until ``cond()`` holds, ``timeout`` seconds at most."""
    end = time.time() + timeout
    while not cond() and time.time() < end:
        pump(0.05)


def shoot(viewer: Any, name: str, whole: bool = True, part: Any = None) -> Path:
    """Save ``docs/images/<name>``: the whole window (``whole``), else the widget ``part``."""
    pump(0.3)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / name
    if whole:
        viewer.screenshot(str(path), canvas_only=False)
    else:
        part.grab().save(str(path))
    print("saved", path)
    return path


def example(name: str) -> Path:
    """An example file of ``examples/data`` or ``examples/more_data``."""
    return next(p for p in (EXAMPLES / "data" / name, EXAMPLES / "more_data" / name) if p.exists())


def _dock(viewer: Any, width: int = 440) -> Any:
    """The Batch segmentation widget docked at napari's dock width (it must fit: tabs + fixed run bar)."""
    from napari_batchseg._napari._widget import BatchSegWidget

    widget = BatchSegWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Batch segmentation", area="right")
    widget.setFixedWidth(width)
    return widget


def widget_shots() -> int:
    """The widget's screenshots (files, settings, during and after a run, correction)."""
    from napari_batchseg.view.layer_files import layer_meta

    work = Path(tempfile.mkdtemp(prefix="batchseg-shots-"))
    shutil.copy(example("dsb2018_nuclei.tif"), work / "nuclei_BF.tif")
    shutil.copy(example("arcadia_ecoli_gfp_timelapse.nd2"), work / "ecoli_timelapse_BF.nd2")
    shutil.copy(example("arcadia_cells_fitc_zstack.nd2"), work / "cells_zstack_BF.nd2")
    shutil.copy(example("arcadia_yeast_dic_fitc.nd2"), work / "yeast_WL488.nd2")

    viewer = open_viewer()
    widget = _dock(viewer)

    def shot(name: str, whole: bool) -> None:
        shoot(viewer, name, whole, widget)

    widget.files.add_paths([work])
    wait(lambda: not widget.infos.busy, 30)
    widget.files.select_file(work / "ecoli_timelapse_BF.nd2")
    widget.form.model.setCurrentText("User trained model…")
    widget.form.model_path.setText(str(MODEL))
    widget.output.suffix.setText("starter")
    widget.form.end_frame.setValue(29)
    wait(lambda: "looking" not in widget.form.device_label.text(), 120)
    pump(1)
    widget.tabs.setCurrentIndex(0)
    shot("widget_files.png", whole=False)
    widget.tabs.setCurrentIndex(1)
    shot("widget_settings.png", whole=False)

    widget.run()

    def timelapse_half_done() -> bool:
        keys = widget.status.keys()
        key = next((k for k in keys if "timelapse" in k), None)
        state = widget.session.state(key) if key is not None else None
        return state is not None and state.frames_done >= 12

    wait(timelapse_half_done, 600)
    shot("viewer_during_run.png", whole=True)
    shot("widget_during_run.png", whole=False)
    wait(lambda: not widget.running and widget.streamer.settled, 900)
    # the nuclei result is shown (the last file); zoom on a corner to see the objects
    pump(1)
    viewer.camera.zoom = viewer.camera.zoom * 1.6
    viewer.camera.center = (0, 160, 160)
    pump(1)
    shot("viewer_after_run.png", whole=True)
    shot("widget_after_run.png", whole=False)

    labels = next(lay for lay in viewer.layers if layer_meta(lay).get("role") == "mask")
    viewer.layers.selection.active = labels
    widget.correction.min_size.setValue(60)
    for button in (widget.correction.small_btn, widget.correction.border_btn):
        button.click()  # computed in a thread, then applied
        while widget.correction.busy:
            pump(0.05)
    widget.tabs.setCurrentIndex(3)
    shot("widget_correction.png", whole=False)
    shot("viewer_correction.png", whole=True)
    viewer.close()
    shutil.rmtree(work, ignore_errors=True)
    return 0


def volume_shot() -> int:
    """``segmentation_3d_napari.png``: a real Z stack segmented as a volume, in napari's 3D view."""
    from napari_batchseg.view.layer_files import layer_meta

    work = Path(tempfile.mkdtemp(prefix="batchseg-3d-"))
    stack = work / "cells_zstack_BF.nd2"
    shutil.copy(example("arcadia_cells_fitc_zstack.nd2"), stack)
    viewer = open_viewer()
    widget = _dock(viewer)
    widget.files.add_paths([stack])
    wait(lambda: not widget.infos.busy, 30)
    form = widget.form
    form.model.setCurrentText("User trained model…")
    form.model_path.setText(str(MODEL))
    form.diameter.setValue(30.0)  # the model's own mean diameter
    form.volume_mode.setCurrentIndex(form.volume_mode.findData("3d"))  # anisotropy: the file's
    wait(lambda: "looking" not in form.device_label.text(), 120)
    widget.run()
    wait(lambda: not widget.running and widget.streamer.settled, 1800)
    key = widget.status.keys()[0]
    if widget.status.status(key) != "done":
        print(f"the 3d run did not finish: {widget.message.text()}", file=sys.stderr)
        return 1
    pump(1)
    labels = next(lay for lay in viewer.layers if layer_meta(lay).get("role") == "mask")
    image = next(lay for lay in viewer.layers if layer_meta(lay).get("role") == "prepared")
    image.rendering = "mip"  # the input's brightest voxels behind the objects
    image.opacity = 0.5
    labels.bounding_box.visible = True
    viewer.scale_bar.visible = True
    viewer.axes.visible = True
    viewer.layers.selection.active = labels  # its layer controls on the left
    viewer.dims.ndisplay = 3
    pump(0.5)
    viewer.reset_view()
    viewer.camera.angles = ANGLES
    viewer.camera.zoom = viewer.camera.zoom * ZOOM
    pump(2)  # the run left the widget on its Results tab (the status table)
    shoot(viewer, "segmentation_3d_napari.png")
    viewer.close()
    shutil.rmtree(work, ignore_errors=True)
    return 0


def rethreshold_shot() -> int:
    """``rethreshold_dock.png``: the Re-threshold dock beside its preview of the real nuclei frame."""
    import tifffile

    from napari_batchseg._napari._rethreshold_widget import RethresholdWidget
    from napari_batchseg.cli import main as batchseg
    from napari_batchseg.segmenters.cellpose.rethreshold import Thresholds

    work = Path(tempfile.mkdtemp(prefix="batchseg-rethreshold-"))
    image = example("dsb2018_nuclei.tif")
    if batchseg(["segment", str(image), "--model", str(MODEL), "--output-dir", str(work), "--keep-flows",
                 "--quiet"]) != 0:
        print("segmenting the nuclei frame with --keep-flows failed", file=sys.stderr)
        return 1
    viewer = open_viewer(size=(940, 600))
    viewer.add_image(tifffile.imread(image), name="nuclei")
    dock = RethresholdWidget(viewer)
    viewer.window.add_dock_widget(dock, name="Re-threshold", area="right")
    dock.add_logs(sorted(work.glob("*_vSM.log")))
    dock.set_thresholds(Thresholds(-1.0, 0.9, 40))  # a lower cell probability than Cellpose's 0.0
    dock.suffix.setText("rt")

    def shown() -> bool:
        preview = dock.last_preview
        return preview is not None and preview.key[2] == dock.thresholds and not dock.background.busy

    wait(shown, 120)
    pump(1)
    shoot(viewer, "rethreshold_dock.png")
    viewer.close()
    shutil.rmtree(work, ignore_errors=True)
    return 0


#: the 3D view's camera for the volume shot (napari's Euler angles, degrees) and zoom over reset_view
ANGLES = (-60.0, 20.0, 100.0)
ZOOM = 0.65

SHOTS = {"widget": widget_shots, "3d": volume_shot, "rethreshold": rethreshold_shot}


def main(argv: list[str] | None = None) -> int:
    """Make the screenshots named in ``argv`` (``widget``, ``3d``; none: all); return an exit code."""
    names = list(sys.argv[1:] if argv is None else argv) or list(SHOTS)
    unknown = [n for n in names if n not in SHOTS]
    if unknown:
        print(f"unknown screenshot set(s) {unknown}; choose from {list(SHOTS)}", file=sys.stderr)
        return 2
    if MODEL is None:
        print("no model in examples/models", file=sys.stderr)
        return 1
    for name in names:
        code = SHOTS[name]()
        if code:
            return code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
