"""No layer of this tool exists before Run; a run leaves none that shows nothing (GUI trial 46).

Before, listing a file made a hidden "batch segmentation: idle" pair at once, with no Run: napari counted
it for its world extent and units (a 0.2 µm mask opened with File > Open was drawn tiny, with a warning
"Inconsistent units across layers"), and a batch whose every file failed left it behind.

The trial also saw an empty labels layer named like a finished result ("WP96_….czi [P1]") after closing
the dock once the first position of a multi-position file was done. Its script pumped Qt with
``processEvents()`` only, and the run went on (its output's lock was still there 5 s later): the dock's
deferred deletion, which closes the widget, had not come yet. In napari's event loop the widget closes and
the layer is marked cancelled; the second test pins that down (it passed before this change too).
"""

from __future__ import annotations

from _timing import time_bound
from napari_batchseg.view.layer_files import layer_meta
from napari_batchseg.view.stream_layers import CANCELLED

from ._fakes import factory, held_factory
from .test_file_positions import _plate


def _listed(widget, qtbot, data_folder, contains: str = "timelapse_BF") -> None:
    widget.files.contains.setText(contains)
    widget.files.add_paths([data_folder])
    qtbot.waitUntil(lambda: widget.startup_done and not widget.infos.busy and widget.run_btn.isEnabled(),
                    timeout=120000)


def test_no_layer_before_run_and_none_left_by_a_run_that_showed_nothing(widget, data_folder, qtbot):
    viewer = widget.viewer
    _listed(widget, qtbot, data_folder)
    qtbot.wait(int(time_bound(1.0) * 1000))  # (the idle pair came within a few turns)
    assert [lay.name for lay in viewer.layers] == []  # was the hidden "batch segmentation: idle" pair
    # every file fails (the model cannot be loaded): the placeholders shown meanwhile go
    widget.form.model.setCurrentText("User trained model…")
    widget.form.model_path.setText(str(data_folder / "no_such_model"))
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running and widget.streamer.settled, timeout=60000)
    assert {s.status for s in widget.session.tasks} == {"failed"}
    assert [lay.name for lay in viewer.layers] == []  # was the pair, hidden again
    # cancelled before its first frame (held: it outlasts Cancel's grace, its frame never shown)
    widget.form.model.setCurrentText("cyto3")
    made: list = []
    widget.controller.segmenter_factory = held_factory(0.0, 0, made)
    assert widget.run()
    qtbot.waitUntil(lambda: bool(made) and bool(widget.session.tasks)
                    and widget.session.tasks[0].status == "running", timeout=60000)
    widget.cancel()
    qtbot.waitUntil(lambda: not widget.running and widget.streamer.settled, timeout=60000)
    assert [s.status for s in widget.session.tasks] == ["cancelled"]
    # a Cancel keeps its output's pair, named so (removing layers froze the dock ~1 s after Cancel)
    kept = [lay.name for lay in viewer.layers]
    assert kept and all(name.endswith("(cancelled, not saved)") or "(input)" in name for name in kept), kept
    assert not any("batch segmentation" in name for name in kept), kept
    made[0].release.set()
    qtbot.waitUntil(lambda: not widget.controller.compute_alive, timeout=60000)
    qtbot.wait(300)
    assert [lay.name for lay in viewer.layers] == kept
    # a run that shows its output keeps its pair
    widget.controller.segmenter_factory = factory()
    widget.form.end_frame.setValue(1)
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running and widget.streamer.settled, timeout=60000)
    assert sorted(layer_meta(lay).get("role") for lay in viewer.layers) == ["mask", "prepared"]
    assert all(lay.visible for lay in viewer.layers)


def test_closing_the_dock_after_a_position_is_done_leaves_no_finished_looking_layer(widget, tmp_path,
                                                                                      qtbot):
    viewer, gone = widget.viewer, []
    widget.destroyed.connect(lambda *_: gone.append("segment"))
    folder = tmp_path / "in"
    folder.mkdir()
    _plate(folder / "plate_BF.ome.tif")
    widget.files.add_paths([folder])
    qtbot.waitUntil(lambda: widget.startup_done and not widget.infos.busy and widget.run_btn.isEnabled(),
                    timeout=120000)
    made: list = []
    widget.controller.segmenter_factory = held_factory(0.0, 1, made)  # P1's frame is held
    assert widget.run()
    controller = widget.controller
    qtbot.waitUntil(lambda: len(widget.session.tasks) == 3 and widget.session.tasks[0].status == "done"
                    and widget.session.tasks[1].status == "running", timeout=60000)
    p1 = widget.session.tasks[1].key
    # the layers go to P1 (now, or when its turn comes)
    qtbot.waitUntil(lambda: any(layer_meta(lay).get("task_key") == p1 for lay in viewer.layers),
                    timeout=int(time_bound(5) * 1000))
    viewer.window.remove_dock_widget(widget)
    qtbot.waitUntil(lambda: gone == ["segment"], timeout=5000)
    made[0].release.set()
    qtbot.waitUntil(lambda: not controller.compute_alive, timeout=20000)
    qtbot.wait(300)
    left = [(lay.name, layer_meta(lay).get("task_key")) for lay in viewer.layers
            if layer_meta(lay).get("role") == "mask"]
    # P1's empty layer is removed, or says it was cancelled (was "plate_BF.ome.tif [P1]", empty)
    assert all(name.endswith(CANCELLED) for name, key in left if key == p1), left

