"""Undo fix is honest: never applied to a layer that now shows another output, off once the fix is saved,
and never erasing edits made after the fix (QA bugs 1 and 6 of issue 10)."""

from __future__ import annotations

import shutil

import numpy as np

from napari_batchseg import corrections as cx
from napari_batchseg.io.masks import read_mask
from napari_batchseg.view.layer_files import layer_meta

from ._waits import save_corrections
from .test_correction_panel import _run_files


def _run(widget, qtbot, folder, contains, end_frame=None):
    _run_files(widget, qtbot, folder, contains, end_frame)
    assert all(s.status == "done" for s in widget.session.tasks), widget.message.text()


def _mask_layer_of(widget, name):
    """The Labels layer whose batchseg metadata names the mask file ``name``."""
    for layer in widget.viewer.layers:
        m = layer_meta(layer)
        if m.get("role") == "mask" and str(m.get("mask_path") or "").endswith(name):
            return layer
    return None


def _fix(qtbot, panel, button):
    button.click()
    qtbot.waitUntil(lambda: not panel.busy, timeout=20000)


def test_saved_fix_is_not_undone_on_the_next_file_in_the_reused_layer(widget, example_files, tmp_path, qtbot):
    """QA s5: delete a label on b, save, show a (the stream layer is reused): Undo must not paste b's old
    frame into a, and Save must not write it into a's mask; the target line names a."""
    folder = tmp_path / "two"
    folder.mkdir()
    for name in ("a_dsb_BF.tif", "b_dsb_BF.tif"):
        shutil.copy(example_files["nuclei"], folder / name)
    _run(widget, qtbot, folder, "dsb")
    a_mask, b_mask = folder / "a_dsb_BF_vSM.ome.tif", folder / "b_dsb_BF_vSM.ome.tif"
    # a's mask differs from b's (as if corrected earlier): two of its objects are gone
    a_labels = read_mask(a_mask).labels.copy()
    gone = [int(v) for v in np.unique(a_labels)[1:3]]
    a_labels[np.isin(a_labels, gone)] = 0
    cx.save_corrections(a_mask, a_labels)

    panel = widget.correction
    b_layer = _mask_layer_of(widget, b_mask.name)  # the run ends showing its last output
    assert b_layer is not None
    widget.viewer.layers.selection.active = b_layer
    assert b_mask.name in panel.target.text()
    target = int(np.unique(b_layer.data)[-1])
    panel.delete_id.setValue(target)
    _fix(qtbot, panel, panel.delete_btn)
    assert panel.undo_btn.isEnabled()
    assert save_corrections(qtbot, panel) is not None
    # saved: the mask file and its log hold the fix, Undo is off and says why
    assert not panel.undo_btn.isEnabled()
    assert "saved in b_dsb_BF_vSM.ome.tif" in panel.undo_btn.toolTip()
    b_saved = read_mask(b_mask).labels

    key_a = next(s.key for s in widget.session.tasks if s.task.label.startswith("a_dsb"))
    assert widget.show_result(key_a)
    qtbot.waitUntil(lambda: widget.streamer.settled and _mask_layer_of(widget, a_mask.name) is not None,
                    timeout=20000)
    a_layer = _mask_layer_of(widget, a_mask.name)
    widget.viewer.layers.selection.active = a_layer
    np.testing.assert_array_equal(np.asarray(a_layer.data).reshape(a_labels.shape), a_labels)
    # the target line names the output shown (it kept b's name when the layer was reused)
    assert a_mask.name in panel.target.text() and "b_dsb" not in panel.target.text()
    assert not panel.undo_btn.isEnabled()
    assert not panel.undo()
    np.testing.assert_array_equal(np.asarray(a_layer.data).reshape(a_labels.shape), a_labels)
    save_corrections(qtbot, panel)
    back = read_mask(a_mask)
    np.testing.assert_array_equal(back.labels, a_labels)
    assert "undo (" not in back.log_text
    np.testing.assert_array_equal(read_mask(b_mask).labels, b_saved)


def test_unsaved_fix_stays_with_its_own_layer(widget, example_files, tmp_path, qtbot):
    """An unsaved fix keeps its layer (edited layers are not reused): Undo is off on the next file's layer
    and works again, on the right layer only, once the fixed layer is selected."""
    folder = tmp_path / "two"
    folder.mkdir()
    for name in ("a_dsb_BF.tif", "b_dsb_BF.tif"):
        shutil.copy(example_files["nuclei"], folder / name)
    _run(widget, qtbot, folder, "dsb")
    panel = widget.correction
    b_layer = _mask_layer_of(widget, "b_dsb_BF_vSM.ome.tif")
    widget.viewer.layers.selection.active = b_layer
    before = b_layer.data.copy()
    target = int(np.unique(before)[-1])
    panel.delete_id.setValue(target)
    _fix(qtbot, panel, panel.delete_btn)
    assert target not in b_layer.data

    key_a = next(s.key for s in widget.session.tasks if s.task.label.startswith("a_dsb"))
    assert widget.show_result(key_a)
    qtbot.waitUntil(lambda: widget.streamer.settled
                    and _mask_layer_of(widget, "a_dsb_BF_vSM.ome.tif") is not None, timeout=20000)
    a_layer = _mask_layer_of(widget, "a_dsb_BF_vSM.ome.tif")
    assert a_layer.unique_id != b_layer.unique_id
    widget.viewer.layers.selection.active = a_layer
    a_before = a_layer.data.copy()
    assert "a_dsb_BF_vSM.ome.tif" in panel.target.text()
    assert not panel.undo_btn.isEnabled() and "select it" in panel.undo_btn.toolTip()
    widget.viewer.layers.selection.active = b_layer
    assert panel.undo_btn.isEnabled()
    assert panel.undo()
    np.testing.assert_array_equal(b_layer.data, before)
    np.testing.assert_array_equal(a_layer.data, a_before)


def test_undo_never_erases_a_brush_stroke_made_after_the_fix(widget, data_folder, qtbot):
    """QA s17: open a mask, delete a label, paint a stroke: Undo is off (it would erase the stroke); the
    saved mask holds the stroke and its log lists exactly what was done."""
    _run(widget, qtbot, data_folder, "nuclei")
    mask_path = data_folder / "nuclei_BF_vSM.ome.tif"
    lab = widget.viewer.open(str(mask_path), plugin="napari-batchseg")[0]
    widget.viewer.layers.selection.active = lab
    panel = widget.correction
    assert mask_path.name in panel.target.text()
    target = int(np.unique(lab.data)[-1])
    lab.selected_label = target
    assert panel.delete_id.value() == target
    _fix(qtbot, panel, panel.delete_btn)
    assert panel.undo_btn.isEnabled()
    stroke_value = int(lab.data.max()) + 100
    centre = tuple(s // 2 for s in lab.data.shape)
    lab.paint(centre, stroke_value, refresh=True)
    n_stroke = int((lab.data == stroke_value).sum())
    assert n_stroke > 0
    assert not panel.undo_btn.isEnabled()
    assert "painted after the fix" in panel.undo_btn.toolTip()
    assert not panel.undo()
    assert int((lab.data == stroke_value).sum()) == n_stroke and target not in lab.data
    assert save_corrections(qtbot, panel) is not None
    back = read_mask(mask_path)
    assert int((back.labels == stroke_value).sum()) == n_stroke
    assert f"delete label (label {target})" in back.log_text
    assert "napari brush/fill/eraser: 1 stroke(s)" in back.log_text
    assert "undo (" not in back.log_text


def test_undo_restores_only_frames_still_as_the_fix_left_them(widget, data_folder, qtbot):
    """Edits that napari does not announce (another tool writing into the layer's array): Undo restores
    the fix's frame only while it still holds what the fix wrote; other frames' edits are kept."""
    _run(widget, qtbot, data_folder, "timelapse_BF", end_frame=4)
    labels = next(lay for lay in widget.viewer.layers if layer_meta(lay).get("role") == "mask")
    widget.viewer.layers.selection.active = labels
    panel = widget.correction
    widget.follow.setChecked(False)
    widget.viewer.dims.set_current_step(0, 2)
    before = labels.data.copy()
    target = int(np.unique(before[2])[-1])
    panel.delete_id.setValue(target)
    _fix(qtbot, panel, panel.delete_btn)
    labels.data[0, :3, :3] = 4321  # an edit of another frame: kept by Undo
    assert panel.undo()
    np.testing.assert_array_equal(labels.data[2], before[2])
    assert (labels.data[0, :3, :3] == 4321).all()

    _fix(qtbot, panel, panel.delete_btn)
    assert panel.undo_btn.isEnabled()
    labels.data[2, :3, :3] = 4321  # an edit of the fixed frame: Undo would erase it
    assert not panel.undo()
    assert (labels.data[2, :3, :3] == 4321).all() and target not in labels.data[2]
    assert not panel.undo_btn.isEnabled() and "edited since" in panel.undo_btn.toolTip()
    assert "not undone" in panel.result.text()
    summary = save_corrections(qtbot, panel)
    assert summary is not None
    log = read_mask(data_folder / "timelapse_BF_vSM.ome.tif").log_text
    assert log.count("undo (") == 1
    np.testing.assert_array_equal(read_mask(data_folder / "timelapse_BF_vSM.ome.tif").labels, labels.data)


def test_fixes_are_undone_one_by_one_newest_first(widget, data_folder, qtbot):
    """Walk: Undo went back one fix only. Two deletions then Undo twice give the mask back as it was."""
    _run(widget, qtbot, data_folder, "nuclei")
    mask_path = data_folder / "nuclei_BF_vSM.ome.tif"
    lab = widget.viewer.open(str(mask_path), plugin="napari-batchseg")[0]
    widget.viewer.layers.selection.active = lab
    panel = widget.correction
    before = lab.data.copy()
    first, second = (int(v) for v in np.unique(before)[-2:])
    for label in (first, second):
        panel.delete_id.setValue(label)
        _fix(qtbot, panel, panel.delete_btn)
    assert first not in lab.data and second not in lab.data
    assert panel.undo_btn.toolTip() == (f"Undo: delete label (label {second}); 1 earlier fix(es) can be "
                                        "undone after it")
    assert panel.undo() and second in lab.data and first not in lab.data
    assert panel.undo_btn.isEnabled() and panel.undo_btn.toolTip() == f"Undo: delete label (label {first})"
    assert panel.undo()
    np.testing.assert_array_equal(lab.data, before)
    assert not panel.undo_btn.isEnabled() and not panel.undo()
