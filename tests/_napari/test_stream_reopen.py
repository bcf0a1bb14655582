"""Finished outputs reopen from their mask file (QA of issue 10, bug 3): Save corrections works on them, and
they show what the file holds now, never the labels kept in memory while they ran."""

from __future__ import annotations

import shutil

import numpy as np

from napari_batchseg.corrections import delete_label, save_corrections
from napari_batchseg.io.masks import read_mask

from ._fakes import factory, held_factory
from .test_run_stream import _stream_layers


def _mask_layer(viewer):
    return next(lay for lay in _stream_layers(viewer) if lay.metadata["batchseg"]["role"] == "mask")


def _row(widget, name):
    return next(i for i, k in enumerate(widget.status.keys()) if k.endswith(name))


def _open_row(widget, qtbot, name):
    widget.status.table.cellDoubleClicked.emit(_row(widget, name), 0)
    qtbot.waitUntil(lambda: widget.streamer.settled, timeout=20000)


def test_last_output_of_a_run_reopens_from_its_corrected_file(widget, example_files, tmp_path, qtbot):
    """s4: run a and b, correct b's mask (outside the widget), show a, then b again from the table."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a_dsb_BF.tif", "b_dsb_BF.tif"):
        shutil.copy(example_files["nuclei"], folder / name)
    widget.files.add_paths([folder])
    widget.controller.segmenter_factory = factory()
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running and widget.streamer.settled, timeout=60000)
    viewer = widget.viewer
    b_mask = folder / "b_dsb_BF_vSM.ome.tif"
    assert _mask_layer(viewer).name == "b_dsb_BF.tif"  # b was the last: on screen at the end
    # b's mask is corrected meanwhile (e.g. from a script): one object deleted
    labels = read_mask(b_mask).labels
    gone = int(labels.max())
    save_corrections(b_mask, delete_label(labels, gone), note="test: another tool")
    corrected = read_mask(b_mask).labels
    assert not (corrected == gone).any()

    _open_row(widget, qtbot, "a_dsb_BF.tif")
    layer = _mask_layer(viewer)
    assert layer.name == "a_dsb_BF.tif"
    assert "a_dsb_BF.tif" in widget.message.text() and "opening" not in widget.message.text()

    _open_row(widget, qtbot, "b_dsb_BF.tif")
    layer = _mask_layer(viewer)
    assert layer.name == "b_dsb_BF.tif"
    # the layer knows its file (Save corrections is possible) and shows what the file holds now
    assert layer.metadata["batchseg"]["mask_path"] == str(b_mask)
    np.testing.assert_array_equal(layer.data, corrected)
    assert "b_dsb_BF.tif" in widget.message.text() and "a_dsb_BF.tif" not in widget.message.text()
    viewer.layers.selection.active = layer
    widget.correction.refresh()
    assert "b_dsb_BF_vSM.ome.tif" in widget.correction.target.text()


def test_output_watched_while_it_runs_keeps_its_mask_file(widget, example_files, tmp_path, qtbot):
    """s9: during the run, open a finished row, then the running one; it ends on screen with its mask file,
    and reopens from that file after another row was shown."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(example_files["nuclei"], folder / "a_dsb_BF.tif")
    shutil.copy(example_files["timelapse"], folder / "b_movie_BF.nd2")
    shutil.copy(example_files["nuclei"], folder / "c_dsb_BF.tif")
    widget.files.add_paths([folder])
    widget.form.end_frame.setValue(19)
    made: list = []  # the run waits before b's third frame (a's one, b's two) until released
    widget.controller.segmenter_factory = held_factory(0.1, 3, made)
    assert widget.run()
    session = widget.session
    try:
        qtbot.waitUntil(lambda: any(s.status == "running" and "b_movie" in s.key and s.frames_done >= 2
                                    for s in session.tasks), timeout=60000)
        viewer = widget.viewer
        # a finished row, then at once the running one: a's result, read by a worker, must not replace b's
        widget.status.table.cellDoubleClicked.emit(_row(widget, "a_dsb_BF.tif"), 0)
        widget.status.table.cellDoubleClicked.emit(_row(widget, "b_movie_BF.nd2"), 0)
        qtbot.waitUntil(lambda: widget.streamer.settled, timeout=20000)
        assert widget.running, "the run ended before the check: it must happen during the run"
        assert _mask_layer(viewer).name == "b_movie_BF.nd2"
        assert widget.message.text().startswith("b_movie_BF.nd2")  # not a's "opening its result…"
    finally:
        for segmenter in made:
            segmenter.release.set()
    qtbot.waitUntil(lambda: not widget.running, timeout=60000)
    qtbot.wait(200)
    b_mask = folder / "b_movie_BF_vSM.ome.tif"
    layer = _mask_layer(viewer)
    assert layer.name == "b_movie_BF.nd2"  # still shown: it finished on screen
    assert layer.metadata["batchseg"]["mask_path"] == str(b_mask)
    np.testing.assert_array_equal(layer.data, read_mask(b_mask).labels)
    # shown again after another row: from its file, still with its mask path
    _open_row(widget, qtbot, "c_dsb_BF.tif")
    assert _mask_layer(viewer).name == "c_dsb_BF.tif"
    _open_row(widget, qtbot, "b_movie_BF.nd2")
    layer = _mask_layer(viewer)
    assert layer.name == "b_movie_BF.nd2"
    assert layer.metadata["batchseg"]["mask_path"] == str(b_mask)
    np.testing.assert_array_equal(layer.data, read_mask(b_mask).labels)
    assert widget.streamer.views == {}  # no display buffer of a finished output is kept


def test_rerun_over_an_edited_layer_never_saves_the_old_edits_over_the_new_result(widget, example_files,
                                                                                  tmp_path, qtbot):
    """QA r8b: a's layer edited (unsaved), a run again with 'overwrite': the new result's layer knows the
    file; the old edited layer is set apart and can no longer be saved into it (it silently replaced the
    new result before)."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(example_files["nuclei"], folder / "a_dsb_BF.tif")
    mask_path = folder / "a_dsb_BF_vSM.ome.tif"
    widget.files.add_paths([folder])
    widget.controller.segmenter_factory = factory()
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running and widget.streamer.settled, timeout=60000)
    viewer = widget.viewer
    old = _mask_layer(viewer)
    viewer.layers.selection.active = old
    old.selected_label = int(np.asarray(old.data).max())
    widget.correction.delete_btn.click()
    qtbot.waitUntil(lambda: not widget.correction.busy, timeout=20000)
    assert old.metadata["batchseg"]["dirty"]
    edited = np.array(old.data)

    widget.output.existing.setCurrentIndex(widget.output.existing.findText("overwrite it"))
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running and widget.streamer.settled, timeout=60000)
    new_result = read_mask(mask_path).labels
    assert not np.array_equal(new_result.reshape(edited.shape), edited)
    new = _mask_layer(viewer)
    assert new is not old and new.metadata["batchseg"]["mask_path"] == str(mask_path)
    np.testing.assert_array_equal(np.asarray(new.data).reshape(new_result.shape), new_result)
    meta = old.metadata["batchseg"]
    assert meta["mask_path"] is None and "rewrote a_dsb_BF_vSM.ome.tif" in meta["stale"]
    assert old.name.endswith("(edited)")
    names = [lay.name for lay in viewer.layers]
    assert "a_dsb_BF.tif (edited) (input)" in names and "a_dsb_BF.tif (input)" in names
    assert not any("[" in n for n in names), names
    np.testing.assert_array_equal(old.data, edited)  # the edits are kept in their layer
    viewer.layers.selection.active = old
    assert not widget.correction.save_btn.isEnabled()
    assert "later run rewrote" in widget.correction.target.text()


def test_an_input_layer_whose_mask_layer_was_closed_is_reused(widget, example_files, tmp_path, qtbot):
    """QA: after closing a result's Labels layer, reopening it added a second input layer and renamed the
    first '… (edited) (input)', though nothing was edited; napari then warned of inconsistent units."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(example_files["nuclei"], folder / "dsb_BF.tif")
    widget.files.add_paths([folder])
    widget.controller.segmenter_factory = factory()
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running and widget.streamer.settled, timeout=60000)
    viewer = widget.viewer
    viewer.layers.remove(_mask_layer(viewer))
    inputs = [lay for lay in viewer.layers if lay.name.endswith("(input)")]
    assert len(inputs) == 1
    _open_row(widget, qtbot, "dsb_BF.tif")
    names = [lay.name for lay in viewer.layers]
    assert sorted(names) == sorted([inputs[0].name, inputs[0].name[: -len(" (input)")]]), names
    assert any(lay is inputs[0] for lay in viewer.layers)  # the same input layer, pointed at it again
    np.testing.assert_array_equal(np.asarray(_mask_layer(viewer).data)[0],
                                  read_mask(folder / "dsb_BF_vSM.ome.tif").labels[0])
