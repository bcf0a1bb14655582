"""Manual correction from the widget: fixes on the streamed layer, brush edits, save, reopen."""

from __future__ import annotations

import numpy as np

from napari_batchseg.io.masks import read_mask
from napari_batchseg.provenance import parse_log
from napari_batchseg.view.layer_files import layer_meta, napari_get_reader

from ._fakes import factory
from ._waits import save_corrections


def _run_files(widget, qtbot, folder, contains, end_frame=None):
    """Segment the files of ``folder`` whose names contain ``contains`` (stand-in segmenter); wait."""
    widget.files.contains.setText(contains)
    widget.files.add_paths([folder])
    widget.controller.segmenter_factory = factory()
    if end_frame is not None:
        widget.form.end_frame.setValue(end_frame)
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running, timeout=60000)


def _run(widget, qtbot, folder, contains, end_frame=None):
    _run_files(widget, qtbot, folder, contains, end_frame)
    labels = next(lay for lay in widget.viewer.layers if layer_meta(lay).get("role") == "mask")
    widget.viewer.layers.selection.active = labels
    return labels


def _fix(qtbot, panel, button):
    """Click a fix: it is computed in a thread (layer read-only, buttons off), then applied."""
    layer = panel.layer()
    button.click()
    assert panel.busy and not layer.editable and not button.isEnabled()
    qtbot.waitUntil(lambda: not panel.busy, timeout=20000)
    assert layer.editable


def test_fix_save_and_reopen_single_frame(widget, data_folder, qtbot):
    labels = _run(widget, qtbot, data_folder, "nuclei")
    panel = widget.correction
    mask_path = data_folder / "nuclei_BF_vSM.ome.tif"
    assert panel.save_btn.isEnabled() and "nuclei_BF_vSM.ome.tif" in panel.target.text()
    original = labels.data.copy()
    n_before = len(np.unique(original)) - 1

    panel.min_size.setValue(40)
    _fix(qtbot, panel, panel.small_btn)
    assert "remove small" in panel.result.text()
    _fix(qtbot, panel, panel.border_btn)
    ids = np.unique(labels.data)
    panel.delete_id.setValue(int(ids[1]))
    _fix(qtbot, panel, panel.delete_btn)
    assert int(ids[1]) not in labels.data
    panel.keep_id.setValue(int(ids[2]))
    panel.merge_id.setValue(int(ids[3]))
    _fix(qtbot, panel, panel.merge_btn)
    assert int(ids[3]) not in labels.data
    # undo the merge, then redo it
    panel.undo_btn.click()
    assert int(ids[3]) in labels.data
    _fix(qtbot, panel, panel.merge_btn)
    # a brush stroke with napari's own tool
    labels.paint((0, 5, 5), 999, refresh=True)
    assert layer_meta(labels)["dirty"]
    _fix(qtbot, panel, panel.relabel_btn)
    edited = labels.data.copy()
    assert len(np.unique(edited)) - 1 < n_before
    assert np.array_equal(np.unique(edited), np.arange(len(np.unique(edited))))

    summary = save_corrections(qtbot, panel)
    assert summary.frames == [0] and summary.n_labels > 0
    assert not layer_meta(labels)["dirty"]
    # QA: the status table went on showing the model's object count after the save
    assert summary.objects_last_frame == len(np.unique(edited)) - 1
    row = widget.status.table
    assert row.item(0, 3).text() == str(summary.objects_last_frame) != str(n_before)
    assert "saved nuclei_BF_vSM.ome.tif" in panel.result.text()
    back = read_mask(mask_path)
    np.testing.assert_array_equal(back.labels, edited)
    assert "correction | INFO | manual correction saved: frame(s) 0 edited" in back.log_text
    assert parse_log(back.log_text).params.model == widget.params().model  # the run's record is kept
    assert (data_folder / "nuclei_BF_vSM.log").read_text() == back.log_text
    # the reader reopens it identically (single frame: 2D)
    [(data, kw, kind)] = napari_get_reader(str(mask_path))(str(mask_path))
    np.testing.assert_array_equal(data, edited[0])
    widget.viewer.open(str(mask_path), plugin="napari-batchseg")
    reopened = widget.viewer.layers["nuclei_BF_vSM"]
    np.testing.assert_array_equal(reopened.data, edited[0])
    # a mask opened by the reader can be corrected and saved too
    widget.viewer.layers.selection.active = reopened
    assert panel.save_btn.isEnabled()
    panel.delete_id.setValue(1)
    _fix(qtbot, panel, panel.delete_btn)
    assert save_corrections(qtbot, panel).frames == [0]
    assert read_mask(mask_path).log_text.count("manual correction saved") == 2


def test_fix_current_frame_of_a_time_series(widget, data_folder, qtbot):
    labels = _run(widget, qtbot, data_folder, "timelapse_BF", end_frame=4)
    panel = widget.correction
    assert labels.data.shape == (5, 64, 64)
    widget.follow.setChecked(False)
    widget.viewer.dims.set_current_step(0, 2)
    assert panel.current_frame(labels) == 2
    before = labels.data.copy()
    target = int(np.unique(before[2])[1])
    panel.delete_id.setValue(target)
    _fix(qtbot, panel, panel.delete_btn)
    assert np.array_equal(labels.data[[0, 1, 3, 4]], before[[0, 1, 3, 4]])
    panel.all_frames.setChecked(True)
    _fix(qtbot, panel, panel.small_btn)
    summary = save_corrections(qtbot, panel)
    assert 2 in summary.frames
    np.testing.assert_array_equal(read_mask(data_folder / "timelapse_BF_vSM.ome.tif").labels, labels.data)


def test_layer_without_mask_file_cannot_be_saved(widget, qtbot):
    widget.viewer.add_labels(np.zeros((8, 8), np.uint8), name="scratch")
    panel = widget.correction
    assert "not saved yet" in panel.target.text()
    assert not panel.save_btn.isEnabled()
    assert save_corrections(qtbot, panel) is None
    widget.viewer.add_image(np.zeros((8, 8)), name="img")
    assert "select a Labels layer" in panel.target.text()
    from qtpy.QtWidgets import QLabel

    row = panel.merge_id.parentWidget()  # a walk: "into X merge Y" read backwards
    assert [label.text() for label in row.findChildren(QLabel)] == ["merge", "into"]


def test_panel_through_napari_plugin_proxy(widget, data_folder, qtbot):
    """napari hands plugins a proxy viewer: Undo, the selected label, names and the log work through it,
    with no FutureWarning about private attributes (public API only)."""
    import warnings

    from napari.utils._proxies import PublicOnlyProxy

    from napari_batchseg._napari._correct import CorrectionPanel

    labels = _run(widget, qtbot, data_folder, "timelapse_BF", end_frame=4)
    widget.follow.setChecked(False)
    panel = CorrectionPanel(PublicOnlyProxy(widget.viewer))
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        widget.viewer.layers.selection.active = None
        widget.viewer.layers.selection.active = labels
        assert "timelapse_BF.nd2" in panel.target.text()
        widget.viewer.dims.set_current_step(0, 3)
        target = int(np.unique(labels.data[3])[-1])
        labels.selected_label = target  # picked in napari: the Delete spin box follows
        assert panel.delete_id.value() == target
        assert not panel.undo_btn.isEnabled()
        _fix(qtbot, panel, panel.delete_btn)
        assert target not in labels.data[3]
        assert panel.undo_btn.isEnabled()  # enabled although the proxy gives a new object each time
        assert labels.name == "timelapse_BF.nd2 (edited)"
        panel.undo_btn.click()
        assert target in labels.data[3] and not panel.undo_btn.isEnabled()
        panel.all_frames.setChecked(True)
        smallest = min(int(n) for n in np.bincount(labels.data[0].ravel())[1:] if n)
        panel.min_size.setValue(smallest + 1)
        _fix(qtbot, panel, panel.small_btn)
        assert panel.result.text().startswith(f"remove small (min_size={smallest + 1}), all frames: ")
        labels.paint((3, 5, 5), 777, refresh=True)
        labels.paint((3, 9, 9), 777, refresh=True)
        assert panel.save_in_background()
        assert not panel.save_btn.isEnabled() and not labels.editable  # read-only while saving
        qtbot.waitUntil(lambda: not panel.saving, timeout=20000)
    assert labels.editable and labels.name == "timelapse_BF.nd2"
    log = read_mask(data_folder / "timelapse_BF_vSM.ome.tif").log_text
    assert f"delete label (label {target}), frame 3" in log
    assert f"undo (delete label (label {target}), frame 3)" in log
    assert f"remove small (min_size={smallest + 1}), all frames: frame(s)" in log
    assert "napari brush/fill/eraser: 2 stroke(s)" in log
    np.testing.assert_array_equal(read_mask(data_folder / "timelapse_BF_vSM.ome.tif").labels, labels.data)
    panel.close_down()
