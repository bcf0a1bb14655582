"""Session 46: the Files page says, while a run is going, that edits to its list apply to the next run."""

from __future__ import annotations

from ._fakes import held_factory

RUNNING_NOTE = "A run is going: edits to this list apply to the next run only."  # (view.phrasing's)


def test_edits_during_a_run_are_said_to_apply_to_the_next_run(widget, data_folder, qtbot):
    """A new-user trial: files removed and filters changed during a run, with no word that the run goes
    on with the files it started with."""
    widget.files.contains.setText("timelapse_BF")
    widget.files.add_paths([data_folder])
    qtbot.waitUntil(lambda: not widget.infos.busy, timeout=30000)
    assert RUNNING_NOTE not in widget.files.count.text()
    made: list = []
    widget.controller.segmenter_factory = held_factory(0.0, 1, made)
    widget.form.end_frame.setValue(3)
    assert widget.run()
    try:
        qtbot.waitUntil(lambda: bool(widget.session.tasks) and widget.session.tasks[0].frames_done >= 1,
                        timeout=60000)  # (held at its frame 1: running until released)
        assert widget.running
        assert widget.files.count.text().endswith(RUNNING_NOTE), widget.files.count.text()
        widget.files.contains.setText("nothing-matches")  # an edit while running: the note stays
        qtbot.waitUntil(lambda: "0 of" in widget.files.count.text(), timeout=10000)
        assert widget.files.count.text().endswith(RUNNING_NOTE), widget.files.count.text()
    finally:
        for seg in made:
            seg.release.set()
    qtbot.waitUntil(lambda: not widget.running, timeout=60000)
    assert RUNNING_NOTE not in widget.files.count.text()  # the run over: the note goes
