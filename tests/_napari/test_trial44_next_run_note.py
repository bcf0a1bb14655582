"""The *Next Run* note names a frame range to the end as the Frames field shows it: ``last``, not ``None``.

GUI trial 44: frames 0-9 segmented, then *to* set back to *last*: the note read "made with other
parameters (end_frame 9 -> None)", the Python value, while the field beside it reads "last".
"""

from __future__ import annotations

from ._fakes import factory


def test_the_note_says_last_for_frames_to_the_end(widget, data_folder, qtbot):
    widget.files.contains.setText("timelapse_BF")
    widget.files.add_paths([data_folder])
    widget.controller.segmenter_factory = factory()
    widget.form.end_frame.setValue(2)
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running, timeout=60000)
    assert widget.status.status(widget.status.keys()[0]) == "done"
    widget.form.end_frame.setValue(widget.form.end_frame.minimum())  # the spin box's "last"
    assert widget.form.end_frame.text() == "last"
    qtbot.waitUntil(lambda: "other parameters" in widget.bar.next_run.text(), timeout=20000)
    note = widget.bar.next_run.text()
    assert "end_frame 2 -> last" in note and "None" not in note, note
