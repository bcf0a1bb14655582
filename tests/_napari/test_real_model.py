"""The widget with the project's own trained Cellpose model on real ND2 and TIFF files.

``test_event_loop_stays_responsive`` measures the longest stall of the Qt event loop while a 20-frame
batch runs (a QTimer ticking every 5 ms; a stall is the gap between ticks minus the interval) and
prints it; ``BATCHSEG_STALL_REPORT=path`` also writes the numbers as JSON.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest
from qtpy.QtCore import QObject, QTimer

from _timing import time_bound
from napari_batchseg import engine
from napari_batchseg.io.masks import read_mask
from napari_batchseg.view.layer_files import layer_meta, napari_get_reader

TICK_MS = 5


class StallProbe(QObject):
    """Records the gaps between ticks of a fast QTimer, i.e. how long the event loop was busy."""

    def __init__(self, widget) -> None:
        super().__init__()
        self.widget = widget
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.last: float | None = None
        self.gaps: list[tuple[float, float, str]] = []  # (time since start, gap, phase)
        self.fill_seen: list[tuple[bool, int]] = []  # (run still going, frames shown in the layer)
        self.phase = "start"
        self.t0 = 0.0

    def start(self) -> None:
        self.t0 = self.last = time.perf_counter()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append((now - self.t0, now - self.last, self.phase))
        self.last = now
        if len(self.gaps) % 20 == 0:  # every ~100 ms: how far the streamed layer has filled
            labels = next((lay for lay in self.widget.viewer.layers
                           if layer_meta(lay).get("role") == "mask" and "timelapse" in lay.name), None)
            if labels is not None and labels.data.ndim == 3:
                filled = int(sum(bool(f.any()) for f in labels.data))
                self.fill_seen.append((self.widget.running, filled))

    def max_stall_ms(self, phase: str | None = None) -> float:
        gaps = [g for _, g, p in self.gaps if phase is None or p == phase]
        return max(0.0, (max(gaps, default=0.0) * 1000) - TICK_MS)


def _use_model(widget, model):
    widget.form.model.setCurrentText("User trained model…")
    widget.form.model_path.setText(str(model))
    widget.form.diameter.setValue(0)  # the model's own training diameter


@pytest.mark.slow  # 20 frames of Cellpose in the widget: over a minute on 2 busy cores
def test_event_loop_stays_responsive(widget, data_folder, trained_model, qtbot, record_property):
    """20 frames of a real ND2 time series stream into their layer; the GUI never stalls long."""
    widget.files.contains.setText("timelapse_BF")
    widget.files.add_paths([data_folder])
    qtbot.waitUntil(lambda: not widget.infos.busy, timeout=20000)
    _use_model(widget, trained_model)
    widget.form.end_frame.setValue(19)
    # as when a user sets up a batch: the widget has finished looking for a GPU (which also imports
    # torch and Cellpose, whose C extensions hold the GIL for a moment) before Run is clicked
    qtbot.waitUntil(lambda: widget.form.device_label.text() != "looking for a GPU…", timeout=120000)
    probe = StallProbe(widget)
    phases = {}
    original = widget.handle_event

    handler_ms: dict[str, float] = {}

    def spy(ev):  # tag each tick with the phase of the run it belongs to; time the GUI-side handler
        if isinstance(ev, engine.TaskStarted):
            probe.phase = "streaming"
        elif isinstance(ev, engine.FrameDone) and "first_frame" not in phases:
            phases["first_frame"] = time.perf_counter() - probe.t0
        t = time.perf_counter()
        original(ev)
        name = type(ev).__name__
        handler_ms[name] = max(handler_ms.get(name, 0.0), (time.perf_counter() - t) * 1000)

    widget.controller.run_event.disconnect(widget.handle_event)
    widget.controller.run_event.connect(spy)
    probe.start()
    t_click = time.perf_counter()
    assert widget.run()
    click_ms = (time.perf_counter() - t_click) * 1000
    probe.phase = "loading"
    qtbot.waitUntil(lambda: not widget.running, timeout=300000)
    probe.stop()

    key = widget.status.keys()[0]
    assert widget.status.status(key) == "done", widget.status.table.item(0, 4).text()
    assert widget.status.progress.value() == 20
    mask = read_mask(data_folder / "timelapse_BF_vSM.ome.tif")
    assert mask.labels.shape == (20, 64, 64)
    labels = next(lay for lay in widget.viewer.layers if layer_meta(lay).get("role") == "mask")
    np.testing.assert_array_equal(labels.data, mask.labels)
    # the layer filled while the run was still going: some frames with objects shown, not yet all
    with_objects = int(mask.labels.reshape(20, -1).any(axis=1).sum())
    assert with_objects >= 2, f"only {with_objects} frame(s) with objects: streaming cannot be checked"
    partial = [n for running, n in probe.fill_seen if running and 0 < n < with_objects]
    assert partial, (with_objects, probe.fill_seen)

    result = {
        "frames": 20,
        "run_click_ms": round(click_ms, 1),
        "max_stall_ms": round(probe.max_stall_ms(), 1),
        "max_stall_streaming_ms": round(probe.max_stall_ms("streaming"), 1),
        "max_stall_loading_ms": round(probe.max_stall_ms("loading"), 1),
        "ticks": len(probe.gaps),
        "gaps_over_100ms": [
            (phase, round(g * 1000 - TICK_MS)) for _, g, phase in probe.gaps if g * 1000 - TICK_MS > 100
        ],
        "run_seconds": round(probe.gaps[-1][0], 1) if probe.gaps else 0,
        "first_frame_s": round(phases.get("first_frame", -1), 1),
        "slowest_handler_ms": {k: round(v, 1) for k, v in handler_ms.items()},
        "streaming_gaps_over_50ms": [
            round(g * 1000) for _, g, p in probe.gaps if p == "streaming" and g > 0.05
        ],
    }
    print("\nevent-loop stall:", json.dumps(result))
    for k, v in result.items():
        record_property(k, v)
    if os.environ.get("BATCHSEG_STALL_REPORT"):
        with open(os.environ["BATCHSEG_STALL_REPORT"], "w") as fh:
            json.dump(result, fh, indent=2)
    # goal < 100 ms; the bound here leaves room for a loaded 2-core CI machine
    assert result["max_stall_streaming_ms"] < 1000 * time_bound(0.25, cap=1.0), result


def test_tiff_and_nd2_then_cancel(widget, data_folder, trained_model, qtbot):
    """A TIFF and an ND2 with the real model; cancelling the time series keeps the finished TIFF."""
    import tifffile

    nuclei = data_folder / "nuclei_BF.tif"  # a 256x256 crop of the real image keeps the test short
    tifffile.imwrite(nuclei, tifffile.imread(nuclei)[128:384, 128:384])
    widget.files.add_paths([data_folder])
    _use_model(widget, trained_model)
    widget.form.end_frame.setValue(40)
    assert [p.name for p in widget.files.files()] == ["nuclei_BF.tif", "timelapse_BF.nd2", "zstack_BF.nd2"]
    assert widget.run()
    qtbot.waitUntil(lambda: len(widget.status.keys()) == 3, timeout=60000)
    keys = widget.status.keys()
    qtbot.waitUntil(lambda: widget.session.state(keys[1]).frames_done >= 2, timeout=300000)
    widget.cancel()
    qtbot.waitUntil(lambda: not widget.running, timeout=60000)
    # the widget is free GRACE_MS after Cancel, its run's thread may still be removing the cancelled
    # output's lock and buffer: wait for that thread before looking at the folder (and running again)
    qtbot.waitUntil(lambda: not widget.controller.compute_alive, timeout=60000)
    assert [widget.status.status(k) for k in keys] == ["done", "cancelled", "cancelled"]
    assert widget.session.state(keys[1]).frames_done < 41
    nuclei_mask = read_mask(data_folder / "nuclei_BF_vSM.ome.tif")
    assert nuclei_mask.labels.shape == (1, 256, 256) and nuclei_mask.labels.max() > 5
    assert "batchseg_nuclei" in (data_folder / "nuclei_BF_vSM.log").read_text()
    assert not (data_folder / "timelapse_BF_vSM.ome.tif").exists()
    assert not [p for p in data_folder.iterdir() if p.name.startswith(".")]
    # run again: the TIFF is skipped, the ND2 files are done
    widget.form.end_frame.setValue(2)
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running, timeout=300000)
    assert [widget.status.status(k) for k in keys] == ["skipped", "done", "done"]
    z = read_mask(data_folder / "zstack_BF_vSM.ome.tif")
    assert z.labels.shape == (1, 128, 128) and z.pixel_size.x == pytest.approx(0.32339, rel=1e-4)
    # reopen with the reader: identical
    path = data_folder / "timelapse_BF_vSM.ome.tif"
    [(data, kw, kind)] = napari_get_reader(str(path))(str(path))
    assert kind == "labels"
    np.testing.assert_array_equal(data, read_mask(path).labels)
