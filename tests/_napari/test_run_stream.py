"""Runs from the widget with a fast stand-in segmenter: streaming into layers, cancel, layer lifecycle."""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest
from qtpy.QtCore import QTimer

from _timing import time_bound
from napari_batchseg.io.masks import read_mask
from napari_batchseg.live.timing import FOLLOW_MS
from napari_batchseg.view.layer_files import layer_meta, napari_get_reader
from napari_batchseg.view.stream_layers import PLACEHOLDER

from ._fakes import ThresholdSegmenter, factory


def _stream_layers(viewer):
    return [lay for lay in viewer.layers if layer_meta(lay).get("stream")]


def _prepare(widget, folder, contains="_BF", end_frame=None, delay=0.0):
    widget.files.contains.setText(contains)
    widget.files.add_paths([folder])
    widget.controller.segmenter_factory = factory(delay)
    if end_frame is not None:
        widget.form.end_frame.setValue(end_frame)


def test_run_streams_into_layers_and_reopens(widget, data_folder, qtbot):
    viewer = widget.viewer
    _prepare(widget, data_folder, end_frame=5)
    viewer.add_points(name="user layer")  # unrelated layers do not disturb the stream
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running, timeout=60000)
    table = widget.status
    assert [table.status(k) for k in table.keys()] == ["done"] * 3
    assert table.progress.value() == table.progress.maximum() == 1 + 6 + 1
    assert "finished" in widget.message.text()
    # only the last file is shown (layers are reused, not piled up)
    stream = _stream_layers(viewer)
    assert len(stream) == 2
    labels = next(lay for lay in stream if layer_meta(lay)["role"] == "mask")
    assert labels.name == "zstack_BF.nd2"
    mask_path = data_folder / "zstack_BF_vSM.ome.tif"
    assert layer_meta(labels)["mask_path"] == str(mask_path)
    np.testing.assert_array_equal(labels.data, read_mask(mask_path).labels)
    assert labels.scale[-1] == np.float64(read_mask(mask_path).pixel_size.x)
    # a finished file reopens from disk with a double-click, in the same two layers
    key = table.keys()[1]
    assert "timelapse_BF.nd2" in key
    table.table.cellDoubleClicked.emit(1, 0)
    assert widget.streamer.loading  # read from disk by a worker, not on the GUI thread
    qtbot.waitUntil(lambda: widget.streamer.settled, timeout=20000)
    assert widget.follow.isChecked()  # no run going on: following stays on (see the test below)
    labels = next(lay for lay in _stream_layers(viewer) if layer_meta(lay)["role"] == "mask")
    assert labels.name == "timelapse_BF.nd2" and labels.data.shape == (6, 64, 64)
    np.testing.assert_array_equal(labels.data, read_mask(data_folder / "timelapse_BF_vSM.ome.tif").labels)
    image = next(lay for lay in _stream_layers(viewer) if layer_meta(lay)["role"] == "prepared")
    assert image.data.shape == (6, 64, 64) and float(np.asarray(image.data[3]).max()) > 0
    assert len(_stream_layers(viewer)) == 2
    # the reader opens the same mask identically
    layer_data = napari_get_reader(str(data_folder / "timelapse_BF_vSM.ome.tif"))(
        str(data_folder / "timelapse_BF_vSM.ome.tif")
    )
    np.testing.assert_array_equal(layer_data[0][0], labels.data)
    # a second run skips existing outputs
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running, timeout=60000)
    assert [table.status(k) for k in table.keys()] == ["skipped"] * 3
    assert widget.session.model_state == "not loaded"  # every output skipped: no model was loaded


def test_double_click_during_the_run_stops_following(widget, data_folder, qtbot):
    """Opening a finished file while the run goes on keeps it shown: the stream stops following."""
    _prepare(widget, data_folder, end_frame=19, delay=0.05)
    assert widget.run()
    table = widget.status
    qtbot.waitUntil(lambda: len(table.keys()) == 3 and table.status(table.keys()[0]) == "done", timeout=30000)
    qtbot.waitUntil(
        lambda: any("timelapse" in lay.name for lay in _stream_layers(widget.viewer)), timeout=30000
    )
    assert widget.running and widget.follow.isChecked()
    table.table.cellDoubleClicked.emit(0, 0)  # nuclei_BF.tif, finished
    assert widget.running, "the run ended before the check: it must happen during the run"
    assert not widget.follow.isChecked()
    qtbot.waitUntil(lambda: widget.streamer.settled, timeout=20000)

    def mask_layer():
        return next(lay for lay in _stream_layers(widget.viewer) if layer_meta(lay)["role"] == "mask")

    assert mask_layer().name == "nuclei_BF.tif"
    qtbot.waitUntil(lambda: not widget.running, timeout=60000)
    assert [table.status(k) for k in table.keys()] == ["done"] * 3
    # the later files did not take the layers over
    assert mask_layer().name == "nuclei_BF.tif"
    np.testing.assert_array_equal(
        mask_layer().data, read_mask(data_folder / "nuclei_BF_vSM.ome.tif").labels
    )


def test_layers_fill_while_the_run_goes_on(widget, data_folder, qtbot):
    _prepare(widget, data_folder, contains="timelapse_BF", end_frame=19, delay=0.05)
    qtbot.waitUntil(lambda: widget.startup_done and widget.run_btn.isEnabled(), timeout=120000)
    assert widget.run()
    # the slider moves counted below are the run's following: from the moment its output is in the pair
    # made at Run (napari moves the slider as the layers are added)
    key = widget.files.files()[0].name
    qtbot.waitUntil(lambda: key in (widget.streamer.live.viewed or "")
                    and len(_stream_layers(widget.viewer)) == 2, timeout=30000)
    seen = {}

    def partly_filled():
        labels = next(
            (lay for lay in _stream_layers(widget.viewer) if layer_meta(lay)["role"] == "mask"), None
        )
        if labels is None or labels.data.ndim != 3:
            return False
        filled = [bool(f.any()) for f in labels.data]
        seen["filled"] = filled
        return widget.running and 3 <= sum(filled) < 20

    moves = []
    widget.viewer.dims.events.current_step.connect(lambda _e: moves.append(time.perf_counter()))
    qtbot.waitUntil(partly_filled, timeout=30000)
    filled = seen["filled"]
    assert filled[0] and not filled[-1]  # frames arrive in order, the last ones still to come
    # the viewer follows the newest frame (moves are coalesced, at most one per refresh)
    qtbot.waitUntil(lambda: widget.viewer.dims.current_step[0] >= 2, timeout=5000)
    qtbot.waitUntil(lambda: not widget.running, timeout=60000)
    qtbot.wait(100)
    assert widget.viewer.dims.current_step[0] == 19
    labels = next(lay for lay in _stream_layers(widget.viewer) if layer_meta(lay)["role"] == "mask")
    assert all(bool(f.any()) for f in labels.data)
    # following moves napari's slider at most every FOLLOW_MS (each move re-slices every layer); the
    # output's last frame is shown at once
    gaps = np.diff(moves[:-1])
    assert len(moves) < 20 and (gaps >= FOLLOW_MS / 1000 * 0.9).all(), gaps


def test_progress_is_redrawn_with_the_layers_while_following(widget, data_folder, qtbot):
    """Each redraw of the table and progress bar shares the window composition of a layer refresh.

    Under software OpenGL every composition of napari's window costs 10-40 ms: a progress bar redrawn
    apart from the canvas would cost one more per redraw.
    """
    _prepare(widget, data_folder, contains="timelapse_BF", end_frame=19, delay=0.1)
    refreshes: list[float] = []
    redraws: list[tuple[float, bool]] = []  # (when, run still going)
    widget.streamer.refreshed.connect(lambda: refreshes.append(time.perf_counter()))
    redraw = widget.status.update_progress  # a spy: records each redraw, then does it

    def spy() -> None:
        redraws.append((time.perf_counter(), widget.running))
        redraw()

    widget.status.update_progress = spy
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running, timeout=60000)
    during = [t for t, running in redraws if running][1:]  # the first: the table set up for the run
    assert len(during) >= 3  # 21 events over ~2 s: several redraws, each at most REDRAW_MS apart
    # the widget's slot runs first when the layers are refreshed, then the test's: microseconds apart
    apart = [t for t in during if not any(0 <= r - t < 0.005 for r in refreshes)]
    t0 = min(during)

    def times(ts: list[float]) -> list[float]:
        return [round(t - t0, 3) for t in ts]

    # (one may fall back on its own timer on a loaded machine; without joining, 2-3 of 7-8 come apart)
    assert len(apart) <= 1, (f"{len(apart)} of {len(during)} redraws came without a layer refresh: at "
                       f"{times(apart)} s; redraws {times(during)}, refreshes {times(refreshes)}")


class _FailingSegmenter(ThresholdSegmenter):
    """Every frame fails after a moment (a model error, say): every output fails."""

    def segment(self, image):
        time.sleep(self.delay)
        raise RuntimeError("this model fails on every frame")


@pytest.mark.parametrize("outcome", ["done", "failed"])
def test_short_outputs_in_a_row_switch_the_layers_at_most_once_per_follow_period(
        widget, example_files, tmp_path, qtbot, outcome):
    """A plate of single images on a fast model: the layers follow the run, but switch to another
    output at most every FOLLOW_MS (each switch re-slices and redraws the layers), whether the outputs
    succeed or fail; the run ends on its last output, shown whole, with its file (so its corrections
    can be saved)."""
    folder = tmp_path / "plate"
    folder.mkdir()
    for i in range(8):
        shutil.copy(example_files["nuclei"], folder / f"well{i}_BF.tif")
    widget.files.add_paths([folder])
    # 0.3 s an output: a run of 2.4 s or more, so that two switches at least fall within it
    widget.controller.segmenter_factory = (
        factory(0.3) if outcome == "done" else (lambda _p: _FailingSegmenter(0.3)))
    shown: list[tuple[float, str, bool]] = []  # (when, output, run still going)
    switches: list[tuple[float, bool]] = []  # (when the live model switched, run still going)

    def note_switch() -> None:
        key = widget.streamer.live.viewed
        if key and (not shown or shown[-1][1] != key):
            shown.append((time.perf_counter(), key, widget.running))
        # the switch times themselves: polled times moved with the load (a slow first switch seen late,
        # the next on time: "gaps" of 0.75-0.89 s on a loaded machine)
        at = widget.streamer.live.switched_at
        if at is not None and (not switches or switches[-1][0] != at):
            switches.append((at, widget.running))

    timer = QTimer()
    timer.timeout.connect(note_switch)
    timer.start(5)
    t0 = time.perf_counter()
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running and widget.streamer.settled, timeout=60000)
    note_switch()
    timer.stop()
    run_s = time.perf_counter() - t0
    keys = widget.status.keys()
    assert [widget.status.status(k) for k in keys] == [outcome] * 8
    outputs = [(t, k, running) for t, k, running in shown if k in keys]
    if outcome == "done":
        assert outputs[-1][1] == keys[-1]  # the last output is on screen at the end (at once)
    else:  # every output failed: nothing of the run was shown in the pair made at Run, so it goes
        assert _stream_layers(widget.viewer) == [] and widget.streamer.live.viewed is None
    gaps = np.diff([t for t, running in switches if running])
    # while it runs: never two within FOLLOW_MS (a timer may fire a ms early)
    assert len(gaps) >= 1 and (gaps >= 0.99 * FOLLOW_MS / 1000).all(), gaps
    assert len(outputs) <= run_s / (FOLLOW_MS / 1000) + 2, (len(outputs), run_s)  # not one per output
    if outcome == "failed":
        return
    labels = next(lay for lay in _stream_layers(widget.viewer) if layer_meta(lay)["role"] == "mask")
    mask_path = folder / "well7_BF_vSM.ome.tif"
    assert labels.name == "well7_BF.tif" and layer_meta(labels)["mask_path"] == str(mask_path)
    np.testing.assert_array_equal(labels.data, read_mask(mask_path).labels)
    image = next(lay for lay in _stream_layers(widget.viewer) if layer_meta(lay)["role"] == "prepared")
    assert float(np.asarray(image.data).max()) > 0  # its input frame, not the zeros of a fresh buffer


def test_a_movie_shown_late_shows_the_frames_it_kept_and_catches_up(widget, example_files, tmp_path, qtbot):
    """A time series that starts right after a single image waits for its turn; shown, it has the
    frames that came meanwhile, and the slider reaches its newest frame shortly after (not a second)."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(example_files["zstack"], folder / "a_zstack_BF.nd2")  # one frame (Z projected)
    shutil.copy(example_files["timelapse"], folder / "b_timelapse_BF.nd2")
    widget.files.add_paths([folder])
    widget.form.end_frame.setValue(29)
    widget.controller.segmenter_factory = factory(0.06)
    seen: dict[str, object] = {}

    def watch() -> None:
        key = widget.streamer.live.viewed or ""
        labels = next((lay for lay in _stream_layers(widget.viewer) if layer_meta(lay)["role"] == "mask"),
                      None)
        if "b_timelapse" not in key or labels is None or labels.data.shape[0] != 30:
            return
        if "switched" not in seen:  # the first moment it is on screen
            view = widget.streamer.views.get(key)
            seen["switched"] = time.perf_counter()
            seen["kept"] = 0 if view is None or view.last_index is None else view.last_index + 1
            seen["filled"] = [bool(f.any()) for f in np.asarray(labels.data)]
        elif "caught_up" not in seen and widget.viewer.dims.current_step[0] >= seen["kept"] - 1:
            seen["caught_up"] = time.perf_counter()

    timer = QTimer()
    timer.timeout.connect(watch)
    timer.start(5)
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running, timeout=60000)
    timer.stop()
    assert "switched" in seen
    kept = int(seen["kept"])
    assert kept >= 2, "the time series did not wait for its turn (nothing to check)"
    assert seen["filled"][:kept] == [True] * kept  # the frames it kept are on screen at once
    assert "caught_up" in seen
    # SWITCH_MOVE_MS (250) + a refresh, not FOLLOW_MS: the bound stays below FOLLOW_MS however loaded
    assert seen["caught_up"] - seen["switched"] < time_bound(0.6, cap=FOLLOW_MS / 1000)


def test_cancel_keeps_finished_files_and_writes_nothing_partial(widget, data_folder, qtbot, tmp_path):
    _prepare(widget, data_folder, end_frame=30, delay=0.08)
    assert widget.run()
    keys = []
    qtbot.waitUntil(lambda: bool(widget.status.keys()), timeout=20000)
    keys = widget.status.keys()
    # cancel while the second file (the time series) is half way
    qtbot.waitUntil(lambda: widget.session.state(keys[1]).frames_done >= 3, timeout=30000)
    widget.cancel()
    qtbot.waitUntil(lambda: not widget.running, timeout=10000)
    # the widget is free GRACE_MS after Cancel, its run's thread may still be removing the cancelled
    # output's lock and buffer: wait for that thread before looking at the folder
    qtbot.waitUntil(lambda: not widget.controller.compute_alive, timeout=20000)
    statuses = [widget.status.status(k) for k in keys]
    assert statuses == ["done", "cancelled", "cancelled"]
    assert widget.session.state(keys[1]).frames_done < 31  # stopped between frames, promptly
    assert (data_folder / "nuclei_BF_vSM.ome.tif").exists()
    assert read_mask(data_folder / "nuclei_BF_vSM.ome.tif").labels.shape == (1, 512, 512)
    assert not (data_folder / "timelapse_BF_vSM.ome.tif").exists()
    assert not (data_folder / "timelapse_BF_vSM.log").exists()
    assert not [p for p in data_folder.iterdir() if p.name.startswith(".")]
    assert "cancelled" in widget.message.text()
    labels = next(lay for lay in _stream_layers(widget.viewer) if layer_meta(lay)["role"] == "mask")
    assert "cancelled" in labels.name and layer_meta(labels)["mask_path"] is None


def test_user_closes_and_adds_layers_during_run(widget, data_folder, qtbot):
    viewer = widget.viewer
    _prepare(widget, data_folder, end_frame=11, delay=0.15)  # the time series lasts > FOLLOW_MS: shown
    assert widget.run()
    qtbot.waitUntil(
        lambda: any("timelapse" in lay.name for lay in _stream_layers(viewer))
        and widget.session.state(widget.status.keys()[1]).frames_done >= 2,
        timeout=30000,
    )
    for lay in list(_stream_layers(viewer)):
        viewer.layers.remove(lay)
    viewer.add_image(np.zeros((5, 5)), name="added meanwhile")
    viewer.layers.selection.active = viewer.layers["added meanwhile"]
    qtbot.waitUntil(lambda: not widget.running, timeout=60000)
    assert [widget.status.status(k) for k in widget.status.keys()] == ["done"] * 3
    # the next file got fresh layers; the closed one stayed closed
    names = [lay.name for lay in _stream_layers(viewer)]
    assert names == ["zstack_BF.nd2 (input)", "zstack_BF.nd2"]
    assert viewer.layers["added meanwhile"].data.shape == (5, 5)


def test_failed_file_is_reported_and_the_batch_goes_on(widget, data_folder, qtbot):
    (data_folder / "broken_BF.tif").write_bytes(b"II*\x00garbage")
    _prepare(widget, data_folder, end_frame=1)
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running, timeout=60000)
    table = widget.status
    statuses = {k.split("/")[-1]: table.status(k) for k in table.keys()}
    assert statuses["broken_BF.tif"] == "failed"
    assert statuses["nuclei_BF.tif"] == "done"
    row = table.keys().index(next(k for k in table.keys() if k.endswith("broken_BF.tif")))
    assert "broken_BF.tif" in table.table.item(row, 4).text()
    assert "1 failed" in table.summary.text()


def test_parallel_controls_and_a_files_mode_run(widget, data_folder, qtbot):
    from napari_batchseg.runners import PARALLEL_MODES
    from napari_batchseg.testing import threshold_segmenter

    assert not widget.parallel_row.isHidden()
    assert [widget.parallel.itemData(i) for i in range(widget.parallel.count())] == list(PARALLEL_MODES)
    assert not widget.processes.isEnabled()
    widget.parallel.setCurrentIndex(list(PARALLEL_MODES).index("files"))
    assert widget.processes.isEnabled()
    widget.processes.setMaximum(2)
    widget.processes.setValue(2)
    widget.files.add_paths([data_folder])
    widget.form.end_frame.setValue(3)
    widget.controller.segmenter_factory = threshold_segmenter  # importable by worker processes
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running, timeout=120000)
    assert [widget.status.status(k) for k in widget.status.keys()] == ["done"] * 3, widget.message.text()
    assert widget.status.progress.value() == widget.status.progress.maximum()
    for name in ("nuclei_BF", "timelapse_BF", "zstack_BF"):
        assert (data_folder / f"{name}_vSM.ome.tif").exists()
    # whichever file was shown, its layer holds exactly what was written
    labels = next(lay for lay in _stream_layers(widget.viewer) if layer_meta(lay)["role"] == "mask")
    np.testing.assert_array_equal(labels.data, read_mask(layer_meta(labels)["mask_path"]).labels)


def test_ambiguous_files_run_with_their_own_axes(widget, data_folder, qtbot):
    """Two ambiguous TIFF stacks read with different axes in one run; each log records its axes."""
    import tifffile

    from napari_batchseg.provenance import parse_log

    img = tifffile.imread(data_folder / "nuclei_BF.tif")[:64, :80]
    stack = np.stack([np.roll(img, 5 * k, axis=k % 2) for k in range(5)])  # 5 planes: not RGB
    tifffile.imwrite(data_folder / "amb_t_BF.tif", stack, metadata=None)
    tifffile.imwrite(data_folder / "amb_z_BF.tif", stack, metadata=None)
    widget.files.contains.setText("amb_")
    widget.files.add_paths([data_folder])
    qtbot.waitUntil(lambda: not widget.infos.busy, timeout=20000)
    assert len(widget.files.problems()) == 2
    for name, axes in (("amb_t_BF.tif", "TYX"), ("amb_z_BF.tif", "ZYX")):
        widget.files.select_file((data_folder / name).resolve())
        widget.files.axes.setCurrentText(axes)
    assert widget.files.problems() == {}
    widget.controller.segmenter_factory = factory()
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running, timeout=60000)
    assert [s.status for s in widget.session.tasks] == ["done", "done"], widget.message.text()
    t_mask = read_mask(data_folder / "amb_t_BF_vSM.ome.tif")
    z_mask = read_mask(data_folder / "amb_z_BF_vSM.ome.tif")
    assert t_mask.labels.shape == (5, 64, 80) and z_mask.labels.shape == (1, 64, 80)
    assert parse_log(t_mask.log_text).params.axes == "TYX"
    assert parse_log(z_mask.log_text).params.axes == "ZYX"


def test_stream_layers_exist_only_while_a_run_needs_them(widget, data_folder, qtbot):
    """No stream layer before Run (napari counts hidden layers for its world extent and units; none to
    offer as a training input): Run makes the pair, in turns after the click (adding a layer is one long
    stall of napari's), with the first input's shape, above the user's layers and without changing the
    user's selection; the first output fills those buffers in place."""
    viewer = widget.viewer
    user = viewer.add_points(name="user layer")
    viewer.layers.selection.active = user
    qtbot.waitUntil(lambda: widget.startup_done, timeout=120000)
    _prepare(widget, data_folder, contains="timelapse_BF", end_frame=2)
    qtbot.waitUntil(lambda: not widget.infos.busy and widget.run_btn.isEnabled(), timeout=20000)
    qtbot.wait(int(time_bound(0.5) * 1000))
    assert _stream_layers(viewer) == []  # files listed, no Run: none (was a hidden "idle" pair)
    n_layers = len(viewer.layers)
    assert widget.run()
    assert len(viewer.layers) == n_layers  # the click added none
    # made with the first file's shape (3 frames of 64 x 64): the image layer, the labels one a turn later
    qtbot.waitUntil(lambda: len(_stream_layers(viewer)) == 2, timeout=5000)
    made = _stream_layers(viewer)
    image = next(lay for lay in made if layer_meta(lay)["role"] == "prepared")
    buffer = image.data
    assert image.data.shape == (3, 64, 64) and image.scale[-1] != 1.0
    assert viewer.layers.selection.active is user and set(viewer.layers.selection) == {user}
    assert list(viewer.layers)[-2:] == made  # above the user's layer
    qtbot.waitUntil(lambda: not widget.running, timeout=60000)
    stream = _stream_layers(viewer)
    assert stream == made and image.data is buffer  # the first output filled it in place
    assert all(lay.visible for lay in stream) and list(viewer.layers)[-2:] == stream
    labels = next(lay for lay in stream if layer_meta(lay)["role"] == "mask")
    assert labels.name == "timelapse_BF.nd2" and labels.data.shape == (3, 64, 64)
    np.testing.assert_array_equal(labels.data, read_mask(data_folder / "timelapse_BF_vSM.ome.tif").labels)


def test_placeholder_layers_go_when_the_dock_closes(widget, data_folder, qtbot):
    """The dock closed while the run starts (the placeholders shown, no output yet): they are removed."""
    import threading

    from ._fakes import ThresholdSegmenter

    viewer = widget.viewer
    qtbot.waitUntil(lambda: widget.startup_done, timeout=120000)
    _prepare(widget, data_folder, contains="nuclei_BF")
    qtbot.waitUntil(lambda: not widget.infos.busy and widget.run_btn.isEnabled(), timeout=20000)
    loaded = threading.Event()  # the model "loads" until released: no output takes the placeholders

    def held_model(_params):
        loaded.wait(60)
        return ThresholdSegmenter(0.0)

    widget.controller.segmenter_factory = held_model
    assert widget.run()
    qtbot.waitUntil(lambda: len(_stream_layers(viewer)) == 2, timeout=20000)
    assert {layer_meta(lay)["task_key"] for lay in _stream_layers(viewer)} == {PLACEHOLDER}
    widget.close_down()  # what the dock's closing does (the widget is destroyed)
    loaded.set()
    assert not [lay for lay in viewer.layers if layer_meta(lay).get("task_key") == PLACEHOLDER]


def test_reopened_input_frames_are_prepared_in_a_worker(widget, data_folder, qtbot):
    """Scrubbing a reopened result: the next frames of its input are prepared off the GUI thread."""
    import threading

    viewer = widget.viewer
    _prepare(widget, data_folder)
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running, timeout=60000)
    row = next(i for i, k in enumerate(widget.status.keys()) if "timelapse_BF.nd2" in k)
    widget.status.table.cellDoubleClicked.emit(row, 0)
    qtbot.waitUntil(lambda: widget.streamer.settled, timeout=20000)
    image = next(lay for lay in _stream_layers(viewer) if layer_meta(lay)["role"] == "prepared")
    array = image.data
    n = array.shape[0]
    assert n >= 4
    qtbot.waitUntil(lambda: widget.streamer.results.prefetching is None, timeout=20000)
    assert {k[0] for k in array._cache} == set(range(min(n, 5)))  # frames 0-4 prepared ahead
    readers: list[str] = []
    read = array._read

    def spy(lead):
        readers.append(threading.current_thread().name)
        return read(lead)

    array._read = spy
    viewer.dims.set_current_step(0, 3)  # napari reads frame 3 on the GUI thread: from the cache
    qtbot.waitUntil(lambda: widget.streamer.results.prefetching is None and min(n - 1, 7) in
                    {k[0] for k in array._cache}, timeout=20000)
    assert {k[0] for k in array._cache} >= set(range(2, min(n, 8)))
    assert threading.current_thread().name not in readers  # every read was the worker's
    assert readers and set(readers) == {"batchseg-prefetch"}
    before = len(readers)
    np.testing.assert_array_equal(np.asarray(array[min(n - 1, 6)]), array.plane((min(n - 1, 6),)))
    assert len(readers) == before  # from the cache


def _units_watch(viewer, seen_at_change):
    """Record the viewer's units (``None``: the layers disagree) at every layer change that can make napari
    draw at once (a data change that shows the frame slider repaints the canvas in the same call), and at
    each layer added: napari warns when it draws layers whose units differ."""

    def record(_event=None):
        seen_at_change.append(viewer.layers.extent.units)

    def watch(layer):
        for name in ("data", "scale", "translate", "visible"):
            getattr(layer.events, name).connect(record)

    for layer in viewer.layers:
        watch(layer)
    viewer.layers.events.inserted.connect(lambda e: (watch(e.value), record()))


def test_stream_layers_never_disagree_on_units(widget, data_folder, qtbot):
    """napari warns ("Inconsistent units across layers") whenever it draws layers whose units differ: the
    stream layers change units together, in one turn of the event loop and before any other change (a
    data change can draw at once), when they are made at Run and at each switch between files with
    and without pixel sizes."""
    from qtpy.QtCore import QTimer

    viewer = widget.viewer
    seen = []
    probe = QTimer()
    probe.setInterval(2)
    probe.timeout.connect(lambda: seen.append(viewer.layers.extent.units) if len(viewer.layers) else None)
    probe.start()
    at_change = []
    try:
        qtbot.waitUntil(lambda: widget.startup_done, timeout=120000)
        _units_watch(viewer, at_change)
        _prepare(widget, data_folder, end_frame=3)
        qtbot.waitUntil(lambda: not widget.infos.busy and widget.run_btn.isEnabled(), timeout=20000)
        qtbot.wait(300)
        assert widget.run()  # nuclei (no pixel size), then two ND2 files (µm)
        qtbot.waitUntil(lambda: not widget.running and widget.streamer.settled, timeout=60000)
        widget.status.table.cellDoubleClicked.emit(0, 0)  # a file without pixel size, then back
        qtbot.waitUntil(lambda: widget.streamer.settled, timeout=20000)
        widget.status.table.cellDoubleClicked.emit(1, 0)
        qtbot.waitUntil(lambda: widget.streamer.settled, timeout=20000)
        qtbot.wait(100)
    finally:
        probe.stop()
    units = {str(u) for u in seen}
    # sampled every few ms from Run on (the stream layers exist only from Run): dozens of draws checked
    assert len(seen) > 40 and "None" not in units, units
    assert len(units) >= 2  # the files really switched the layers between µm and pixels
    assert at_change and all(u is not None for u in at_change), [str(u) for u in at_change]


def test_stream_layer_added_beside_a_kept_one_agrees_on_units(widget, data_folder, qtbot):
    """The user closed the input layer of a file without pixel size; the next result shown (in µm) adds a
    new one beside the kept labels layer: both end (and stay) in the same units, on every axis."""
    viewer = widget.viewer
    _prepare(widget, data_folder, end_frame=3)
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running and widget.streamer.settled, timeout=60000)
    widget.status.table.cellDoubleClicked.emit(0, 0)  # nuclei_BF.tif: no pixel size
    qtbot.waitUntil(lambda: widget.streamer.settled, timeout=20000)
    image = next(lay for lay in _stream_layers(viewer) if layer_meta(lay)["role"] == "prepared")
    viewer.layers.remove(image)
    at_change = []
    _units_watch(viewer, at_change)
    widget.status.table.cellDoubleClicked.emit(1, 0)  # timelapse_BF.nd2: µm
    qtbot.waitUntil(lambda: widget.streamer.settled, timeout=20000)
    qtbot.wait(100)
    stream = _stream_layers(viewer)
    assert sorted(layer_meta(lay)["role"] for lay in stream) == ["mask", "prepared"]
    assert all(lay.name.startswith("timelapse_BF.nd2") for lay in stream)
    assert len({tuple(lay.units) for lay in stream}) == 1
    assert viewer.layers.extent.units is not None
    assert at_change and all(u is not None for u in at_change), [str(u) for u in at_change]
