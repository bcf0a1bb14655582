"""The widget's life: opening and closing napari at any moment, failed runs, Cancel timing."""

from __future__ import annotations

import functools
import random
import threading
import time

import numpy as np

from _timing import time_bound
from napari_batchseg._napari import _warmup, _widget
from napari_batchseg.view.layer_files import layer_meta
from napari_batchseg.view.stream_layers import PLACEHOLDER

from ._fakes import factory, torch_factory


def _pump(qtbot, seconds: float) -> None:
    qtbot.wait(max(int(seconds * 1000), 1))


def test_twenty_open_close_cycles_at_random_delays(qtbot, monkeypatch, data_folder):
    """Closing napari while the device probe, metadata reads or a run are going on never crashes."""
    import napari

    rng = random.Random(10)

    def slow_probe() -> str:
        time.sleep(rng.uniform(0.0, 0.3))
        return "probe done"

    threads_before = threading.active_count()
    runs = []
    for cycle in range(20):
        probe = functools.cache(slow_probe)  # a fresh, unknown device each time: the probe thread runs
        monkeypatch.setattr(_warmup, "layers_then_device", probe)  # the start-up's probe thread
        monkeypatch.setattr(_warmup, "device_known", lambda: False)
        viewer = napari.Viewer(show=False)
        w = _widget.BatchSegWidget(viewer)
        viewer.window.add_dock_widget(w, name="Batch segmentation")
        w.files.add_paths([data_folder])  # metadata threads
        if cycle % 4 == 0:  # some cycles close during a run
            w.controller.segmenter_factory = factory(0.05)
            w.form.end_frame.setValue(30)
            assert w.run()
            runs.append(w.controller)
        _pump(qtbot, rng.uniform(0.0, 0.4))
        viewer.close()
        _pump(qtbot, 0.01)
    _pump(qtbot, 0.5)  # late results of the probes arrive after their widgets are gone
    for controller in runs:  # closing cancelled every run: their threads stop
        qtbot.waitUntil(lambda c=controller: not c.compute_alive, timeout=10000)
    assert not [p for p in data_folder.iterdir() if p.name.startswith(".")]  # nothing half-written
    assert threading.active_count() <= threads_before + 2  # probe threads ended (daemons, short)


def test_failed_run_with_layers_without_units_keeps_layers(widget, data_folder, qtbot):
    """A run that fails before any output, while layers without physical units are open."""
    viewer = widget.viewer
    viewer.add_image(np.random.default_rng(0).random((40, 60)), name="no units")
    viewer.add_labels(np.zeros((40, 60), np.uint8), name="labels without units")
    widget.files.add_paths([data_folder])
    qtbot.waitUntil(lambda: not widget.infos.busy, timeout=20000)
    widget.form.model.setCurrentText("User trained model…")
    widget.form.model_path.setText(str(data_folder / "no_such_model"))
    # a file's metadata has just arrived: its update (due 100 ms later) may come after the failed run
    widget.infos.updated.emit(widget.files.files()[0])
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running, timeout=60000)
    qtbot.wait(300)
    assert "no_such_model" in widget.message.text()
    # nobody cancelled these files: the table says they failed, with the model error as the reason
    assert {widget.status.status(k) for k in widget.status.keys()} == {"failed"}
    assert all("no_such_model" in s.reason for s in widget.session.tasks)
    names = [lay.name for lay in viewer.layers]
    assert names[:2] == ["no units", "labels without units"]
    # the placeholder pair shown while the model was being loaded (no output took it) is removed (was
    # hidden again, named "idle", while files were listed)
    assert not [lay for lay in viewer.layers if layer_meta(lay).get("stream")]
    assert len(viewer.layers) == 2
    # the next run makes them again, beside the layers without units
    widget.form.model.setCurrentText("cyto3")
    widget.controller.segmenter_factory = factory()
    widget.form.end_frame.setValue(1)
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running and widget.streamer.settled, timeout=60000)
    stream = [lay for lay in viewer.layers if layer_meta(lay).get("stream")]
    assert len(stream) == 2 and len(viewer.layers) == 4 and all(lay.visible for lay in stream)
    assert [lay.name for lay in viewer.layers][:2] == ["no units", "labels without units"]


def test_cancel_inside_a_frame(widget, data_folder, qtbot):
    """Cancel during a long frame: the widget is free within 0.5 s, the compute stops, nothing partial."""
    made: list = []
    widget.files.contains.setText("nuclei")
    widget.files.add_paths([data_folder])
    widget.controller.segmenter_factory = torch_factory(30.0, made)
    assert widget.run()
    qtbot.waitUntil(lambda: bool(made) and made[0].started > 0, timeout=60000)
    _pump(qtbot, 0.3)
    t0 = time.perf_counter()
    widget.cancel()
    qtbot.waitUntil(lambda: not widget.running, timeout=5000)
    freed = time.perf_counter() - t0
    qtbot.waitUntil(lambda: not widget.controller.compute_alive, timeout=5000)
    stopped = made[0].stopped_at - t0
    print(f"cancel: widget free after {freed * 1000:.0f} ms, compute stopped after {stopped * 1000:.0f} ms")
    assert freed < time_bound(0.5, cap=5.0)
    assert stopped < time_bound(0.5, cap=5.0)  # within a torch operation, not after the 30 s frame
    assert widget.run_btn.isEnabled() and not widget.cancel_btn.isEnabled()
    assert [widget.status.status(k) for k in widget.status.keys()] == ["cancelled"]
    assert not (data_folder / "nuclei_BF_vSM.ome.tif").exists()
    assert not [p for p in data_folder.iterdir() if p.name.startswith(".")]


def test_closing_the_dock_during_a_run_stops_it(make_napari_viewer, data_folder, qtbot):
    """QA: the dock's × (napari's ``remove_dock_widget``) only unparents the widget and deletes the dock.

    A widget still referenced (here: by the test, as by any script or plugin holding it) lived on: its
    run went on unseen and wrote its outputs 25 s later. Now the widget goes with its dock, and the run
    is cancelled as when napari closes.
    """
    from napari_batchseg._napari._measure_widget import MeasureExportWidget
    from napari_batchseg._napari._widget import BatchSegWidget

    viewer = make_napari_viewer()
    w = BatchSegWidget(viewer)
    viewer.window.add_dock_widget(w, name="Batch segmentation")
    measure = MeasureExportWidget(viewer)
    viewer.window.add_dock_widget(measure, name="Measure")
    gone: list[str] = []
    w.destroyed.connect(lambda *_: gone.append("segment"))
    measure.destroyed.connect(lambda *_: gone.append("measure"))
    w.files.add_paths([data_folder])
    w.controller.segmenter_factory = factory(0.1)
    w.form.end_frame.setValue(30)
    qtbot.waitUntil(lambda: not w.infos.busy, timeout=30000)
    assert w.run()
    controller = w.controller
    qtbot.waitUntil(lambda: any(s.frames_done for s in w.session.tasks), timeout=30000)
    viewer.window.remove_dock_widget(w)
    viewer.window.remove_dock_widget(measure)
    qtbot.waitUntil(lambda: sorted(gone) == ["measure", "segment"], timeout=5000)
    qtbot.waitUntil(lambda: not controller.compute_alive, timeout=10000)
    assert not list(data_folder.glob("timelapse_BF_vSM*"))  # cancelled: its output was dropped
    assert not [p for p in data_folder.iterdir() if p.name.startswith(".")]  # nothing half-written
    assert not any(layer_meta(lay).get("task_key") == PLACEHOLDER for lay in viewer.layers)
