"""Run clicked right after the widget opened, while its start-up work still runs in worker threads."""

from __future__ import annotations

import time

from _timing import time_bound
from napari_batchseg.live.startup import STARTING
from napari_batchseg.view.layer_files import layer_meta

from ._fakes import factory


def test_run_clicked_during_start_up_waits_without_blocking_then_runs(make_napari_viewer, qtbot, data_folder):
    """The click returns at once: no layer is made and nothing is imported on the GUI thread while the
    start-up threads import (the GUI thread used to wait for their import locks, 1-2 s); the run waits
    ("starting: loading libraries…"), can be cancelled meanwhile, and starts when the start-up work is
    over, its layers made then."""
    from napari_batchseg._napari._widget import BatchSegWidget

    viewer = make_napari_viewer()
    widget = BatchSegWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Batch segmentation")
    widget.files.contains.setText("nuclei_BF")
    widget.files.add_paths([data_folder])
    widget.controller.segmenter_factory = factory(0.0)
    assert not widget.startup_done  # its work runs in threads: it cannot be over in this turn
    n_layers = len(viewer.layers)
    t0 = time.perf_counter()
    assert widget.run()
    clicked = time.perf_counter() - t0
    assert clicked < time_bound(0.1, cap=0.5), clicked
    assert widget.running and not widget.controller.running  # waits, not started
    assert widget.message.text() == STARTING
    assert len(viewer.layers) == n_layers  # no layer made by the click
    assert widget.cancel_btn.isEnabled() and not widget.run_btn.isEnabled()
    assert not widget.run()  # one run at a time
    # Cancel while it waits: it never starts
    widget.cancel()
    assert not widget.running and "cancelled" in widget.message.text()
    # clicked again: starts when the start-up work is over, and completes
    assert widget.run()
    assert widget.running and not widget.controller.running
    qtbot.waitUntil(lambda: widget.startup_done, timeout=180000)
    qtbot.waitUntil(lambda: not widget.running, timeout=60000)
    assert [s.status for s in widget.session.tasks] == ["done"], widget.message.text()
    assert "finished" in widget.message.text()
    assert (data_folder / "nuclei_BF_vSM.ome.tif").exists()
    stream = [lay for lay in viewer.layers if layer_meta(lay).get("stream")]
    assert sorted(layer_meta(lay)["role"] for lay in stream) == ["mask", "prepared"]
    assert widget.run()  # the start-up work is over: a run now starts at once
    assert widget.controller.running
    qtbot.waitUntil(lambda: not widget.running, timeout=60000)
