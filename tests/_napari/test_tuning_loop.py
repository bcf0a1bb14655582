"""Tuning: change a parameter, Run again; the widget says what happens to the outputs that exist."""

from __future__ import annotations

import shutil

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
    # the preview is checked again after the run: the output exists now
    qtbot.waitUntil(lambda: "exist already" in widget.output.preview.text(), timeout=10000)
    assert "1 output(s) exist already and will be skipped" in widget.output.preview.text()
    _run(widget, qtbot)
    said = widget.message.text()
    assert ": 1 skipped" in said and "nuclei_BF_vSM.ome.tif" in said
    assert "If output exists: overwrite it, or another suffix" in said
