"""Tuning: change a parameter, Run again; the widget says what happens to the outputs that exist."""

from __future__ import annotations

import shutil

import numpy as np

from napari_batchseg.io.masks import read_mask
from napari_batchseg.view.layer_files import layer_meta

from ._fakes import factory


def _one_file(tmp_path, example_files):
    folder = tmp_path / "tune"
    folder.mkdir()
    shutil.copy(example_files["nuclei"], folder / "nuclei_BF.tif")
    return folder.resolve()


def _run(widget, qtbot):
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running, timeout=60000)


def test_a_second_run_says_what_was_skipped_and_the_preview_is_not_stale(widget, tmp_path, example_files,
                                                                         qtbot):
    """QA: Run again said only "finished in 0 s"; the "output exists" line was stale after a run."""
    folder = _one_file(tmp_path, example_files)
    widget.files.add_paths([folder])
    qtbot.waitUntil(lambda: not widget.infos.busy, timeout=20000)
    widget.controller.segmenter_factory = factory()
    qtbot.waitUntil(lambda: not widget.output.checking, timeout=10000)
    assert "exist already" not in widget.output.preview.text()
    _run(widget, qtbot)
    assert widget.message.text().startswith("finished in ") and ": 1 done" in widget.message.text()
    assert widget.status.progress.text() == "1 / 1 frames"
    # the preview is checked again after the run: the output exists now
    qtbot.waitUntil(lambda: "exist already" in widget.output.preview.text(), timeout=10000)
    assert "1 output(s) exist already and will be skipped" in widget.output.preview.text()
    _run(widget, qtbot)
    said = widget.message.text()
    assert ": 1 skipped" in said and "nuclei_BF_vSM.ome.tif" in said
    assert widget.status.progress.text() == "1 / 1 frames (1 not segmented)"  # was "1 / 1 frames"
    assert "If output exists: overwrite it, or another suffix" in said


def test_a_run_that_skips_shows_the_existing_mask(widget, tmp_path, example_files, qtbot):
    """Walk: a run whose one file was segmented before (here: layers closed since, as in a new napari)
    left empty placeholder layers on screen; "correcting" them said "no mask file to save to". The
    mask it skipped is shown, its layer knows the file, and the run's message stays."""
    folder = _one_file(tmp_path, example_files)
    widget.files.add_paths([folder])
    qtbot.waitUntil(lambda: not widget.infos.busy, timeout=20000)
    widget.controller.segmenter_factory = factory()
    _run(widget, qtbot)
    widget.viewer.layers.clear()
    _run(widget, qtbot)
    said = widget.message.text()
    assert ": 1 skipped" in said
    mask = tuple(folder.glob("*_vSM.ome.tif"))[0]
    qtbot.waitUntil(lambda: _visible_mask_of(widget, mask.name) is not None, timeout=20000)
    layer = _visible_mask_of(widget, mask.name)
    np.testing.assert_array_equal(np.asarray(layer.data), read_mask(mask).labels)
    assert widget.message.text() == said
    widget.follow.setChecked(False)  # not while the user chose what to look at
    widget.viewer.layers.clear()
    _run(widget, qtbot)
    qtbot.wait(500)
    assert _visible_mask_of(widget, mask.name) is None


def _visible_mask_of(widget, name):
    for layer in widget.viewer.layers:
        m = layer_meta(layer)
        if layer.visible and m.get("role") == "mask" and str(m.get("mask_path") or "").endswith(name):
            return layer
    return None


def _segmented_at_diameter_30(widget, tmp_path, example_files, qtbot):
    """The nuclei image listed and segmented at diameter 30 (its output now exists)."""
    folder = _one_file(tmp_path, example_files)
    widget.files.add_paths([folder])
    qtbot.waitUntil(lambda: not widget.infos.busy, timeout=20000)
    widget.controller.segmenter_factory = factory()
    widget.form.diameter.setValue(30)
    _run(widget, qtbot)


def test_outputs_made_with_other_parameters_are_said_before_run(widget, tmp_path, example_files, qtbot):
    """QA: change a parameter, Run again: nothing happened with 'skip'. Before Run, the Files tab says
    which outputs were made with other parameters and what Run will do with them."""
    _segmented_at_diameter_30(widget, tmp_path, example_files, qtbot)
    qtbot.waitUntil(lambda: "exist already" in widget.output.preview.text(), timeout=10000)
    widget.form.diameter.setValue(45)  # tuning: the existing output no longer matches
    qtbot.waitUntil(lambda: "other parameters" in widget.output.preview.text(), timeout=10000)
    preview = widget.output.preview.text()
    said = "1 output(s) were made with other parameters (diameter 30.0 -> 45.0) and will be skipped"
    assert said in preview
    assert "choose 'overwrite it' or another suffix" in preview
    assert "exist already" not in preview
    # QA: said on the Files tab only; the run bar, in view on every tab (Settings, where the change
    # was made), says it too
    widget.tabs.setCurrentIndex(1)
    assert widget.bar.next_run.isVisibleTo(widget) and said in widget.bar.next_run.text()
    widget.output.existing.setCurrentIndex(widget.output.existing.findData("overwrite"))
    qtbot.waitUntil(lambda: "other parameters (diameter 30.0 -> 45.0) and will be overwritten"
                    in widget.output.preview.text(), timeout=10000)
    _run(widget, qtbot)
    assert ": 1 done" in widget.message.text()
    # back to the parameters of the output now on disk: it is the same output again
    same = "1 output(s) exist already and will be overwritten"
    qtbot.waitUntil(lambda: same in widget.output.preview.text(), timeout=10000)
    assert not widget.bar.next_run.isVisibleTo(widget)  # nothing a tuning user must know


def test_an_emptied_list_leaves_no_stale_note_and_no_check_pending(widget, tmp_path, example_files, qtbot):
    """A review: the "Next Run" note stayed after the list was cleared, and a check superseded by a
    preview that plans nothing left ``checking`` true for good."""
    _segmented_at_diameter_30(widget, tmp_path, example_files, qtbot)
    widget.form.diameter.setValue(45)
    qtbot.waitUntil(lambda: widget.bar.next_run.isVisibleTo(widget), timeout=10000)
    output, files = widget.output, widget.files.files()
    output.update_preview(files, {f: widget.infos.get(f) for f in files})  # a check starts...
    assert output.checking
    output.update_preview([], {})  # ...and the list is emptied before it answers
    qtbot.wait(1000)
    assert not output.checking
    widget.files.clear()
    qtbot.waitUntil(lambda: not widget.bar.next_run.isVisibleTo(widget), timeout=10000)
