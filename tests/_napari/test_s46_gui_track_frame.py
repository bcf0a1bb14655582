"""Session 46: the Track dock's Frame field for a movie from frame N, whole in a 440 px dock."""

from __future__ import annotations

from qtpy.QtCore import QPoint
from qtpy.QtWidgets import QScrollArea

from .test_layout import WIDTH, _cut_off, _docked
from .test_tracking_widget import track_dock_on_movie


def test_frame_field_of_a_movie_from_frame_2_is_whole_in_a_440_px_dock(make_napari_viewer, qtbot, tmp_path):
    """A new-user trial: a movie segmented from frame 2; the box showed "ame 3" (its "file frame " prefix
    cut off); widened to its size hint it pushed the 440 px dock wider."""
    from napari_batchseg._napari._track_widget import TrackWidget
    from napari_batchseg.tracking.synthetic import synthetic_movie

    viewer = make_napari_viewer(show=True)
    w = TrackWidget(viewer)
    dock = _docked(viewer, w, qtbot)
    movie = synthetic_movie(seed=4)
    viewer.add_labels(movie.masks, name="movie", metadata={"batchseg": {"role": "mask", "first_frame": 2}})
    w.max_distance.setValue(movie.max_step + 1)
    assert w.track()
    qtbot.waitUntil(lambda: not w.busy, timeout=60000)
    qtbot.wait(50)
    assert w.frame.value() == 3
    # the numbering the box uses is written beside it, whole
    label = w.frame_label
    assert label.text() == "File frame" and label.isVisibleTo(w)
    assert label.width() >= label.sizeHint().width()
    assert "slider at k shows file frame 2 + k" in w.frame.toolTip()
    # the box shows its whole number
    edit = w.frame.lineEdit()
    assert edit.fontMetrics().horizontalAdvance(w.frame.text()) < edit.width(), (w.frame.text(), edit.width())
    assert w.frame.width() >= w.frame.sizeHint().width()
    # and the dock stays 440 px: nothing beyond its right edge, no horizontal scrolling
    assert dock.width() <= WIDTH + 10
    area = w.findChild(QScrollArea)
    assert area is not None and area.horizontalScrollBar().maximum() == 0
    assert _cut_off(w, area.widget()) == []
    assert w.frame.mapTo(w, QPoint(w.frame.width(), 0)).x() <= w.width()
    viewer.window._qt_window.grab().save(str(tmp_path / "track_dock.png"))
    w.grab().save("/tmp/s46gui/track_dock.png")


def test_frame_field_of_a_movie_from_frame_0_says_frame(make_napari_viewer, qtbot):
    viewer, w, _ = track_dock_on_movie(make_napari_viewer)
    assert w.track()
    qtbot.waitUntil(lambda: not w.busy, timeout=60000)
    assert (w.frame_label.text(), w.frame.text()) == ("Frame", "1")
