"""A cancelled output's layer says so (QA of issue 10, bug 10), also when its frame outlasts the grace."""

from __future__ import annotations

from napari_batchseg._napari._jobs import GRACE_MS

from ._fakes import factory, held_factory
from .test_run_stream import _stream_layers


def test_cancel_during_a_long_frame_renames_the_layer(widget, data_folder, qtbot):
    """The widget frees itself ``GRACE_MS`` after Cancel while the frame still runs: the run's own
    cancellation event never arrives, the output is marked cancelled at the end of the run."""
    widget.files.contains.setText("timelapse_BF")
    widget.files.add_paths([data_folder])
    widget.form.end_frame.setValue(9)
    made: list = []  # frame 1 (not interruptible) is held until the test releases it: it outlasts the grace
    widget.controller.segmenter_factory = held_factory(0.0, 1, made)
    assert widget.run()
    qtbot.waitUntil(lambda: bool(widget.session.tasks) and widget.session.tasks[0].frames_done >= 1,
                    timeout=60000)
    widget.cancel()
    qtbot.waitUntil(lambda: not widget.running, timeout=10000 + 2 * GRACE_MS)
    assert widget.controller.compute_alive  # the frame still runs: nothing more came from the run
    assert [s.status for s in widget.session.tasks] == ["cancelled"]
    # it had started: not "not run"; and the summary does not call a cancelled file "finished"
    assert widget.session.tasks[0].reason == "stopped before its end: nothing written"
    assert "1/1 file(s) ended" in widget.status.summary.text(), widget.status.summary.text()
    labels = next(lay for lay in _stream_layers(widget.viewer) if lay.metadata["batchseg"]["role"] == "mask")
    assert labels.name == "timelapse_BF.nd2 (cancelled, not saved)"
    assert labels.metadata["batchseg"]["mask_path"] is None
    made[0].release.set()
    qtbot.waitUntil(lambda: not widget.controller.compute_alive, timeout=20000)
    assert not (data_folder / "timelapse_BF_vSM.ome.tif").exists()
    assert labels.name.count("cancelled") == 1


def test_run_again_right_after_a_cancel_waits_for_the_cancelled_frame(widget, data_folder, qtbot):
    """Run pressed as soon as the widget is free after Cancel, while the cancelled frame still runs: the
    new run waits for the old thread (which still holds the output's lock); before, it skipped the file
    as "being produced by pid <napari's own>"."""
    widget.files.contains.setText("timelapse_BF")
    widget.files.add_paths([data_folder])
    widget.form.end_frame.setValue(3)
    made: list = []  # frame 1 is held until released: it outlasts the grace time
    widget.controller.segmenter_factory = held_factory(0.0, 1, made)
    assert widget.run()
    qtbot.waitUntil(lambda: bool(widget.session.tasks) and widget.session.tasks[0].frames_done >= 1,
                    timeout=60000)
    widget.cancel()
    qtbot.waitUntil(lambda: not widget.running, timeout=10000 + 2 * GRACE_MS)
    assert widget.controller.compute_alive  # the cancelled frame still runs
    widget.controller.segmenter_factory = factory()
    assert widget.run()  # at once
    made[0].release.set()  # only now: the new run has been waiting for the cancelled frame's thread
    qtbot.waitUntil(lambda: not widget.running and widget.streamer.settled, timeout=60000)
    assert [(s.status, s.reason) for s in widget.session.tasks] == [("done", "")], widget.message.text()
    assert (data_folder / "timelapse_BF_vSM.ome.tif").is_file()
