"""The "Track cells" dock: tracking off the GUI thread, a Tracks layer (with divisions) over the Labels."""

from __future__ import annotations

import numpy as np

from napari_batchseg.tracking import track_masks
from napari_batchseg.tracking.synthetic import synthetic_movie


def track_dock_on_movie(make_napari_viewer, **labels_kwargs):
    """``(viewer, dock, layer)``: a Track cells dock beside a synthetic movie's Labels layer "movie",
    its maximum distance set for that movie."""
    from napari_batchseg._napari._track_widget import TrackWidget

    viewer = make_napari_viewer()
    w = TrackWidget(viewer)
    viewer.window.add_dock_widget(w, name="Track cells")
    movie = synthetic_movie(seed=4)
    layer = viewer.add_labels(movie.masks, name="movie", **labels_kwargs)
    w.max_distance.setValue(movie.max_step + 1)
    return viewer, w, layer


def test_track_widget_adds_tracks_and_tracked_labels(make_napari_viewer, qtbot) -> None:
    from napari_batchseg._napari._track_widget import TrackWidget

    viewer = make_napari_viewer()
    w = TrackWidget(viewer)
    viewer.window.add_dock_widget(w, name="Track cells")
    movie = synthetic_movie(seed=4)
    layer = viewer.add_labels(movie.masks, name="movie", scale=(30.0, 0.5, 0.5))
    viewer.add_labels(movie.masks[0], name="one frame")  # 2D: not offered
    assert [w.labels_combo.itemText(i) for i in range(w.labels_combo.count())] == ["movie"]
    w.max_distance.setValue(movie.max_step + 1)
    assert w.track()
    qtbot.waitUntil(lambda: not w.busy, timeout=60000)
    assert "movie tracks" in viewer.layers, w.status.text()
    expected = track_masks(movie.masks, max_distance=movie.max_step + 1)
    tracks = viewer.layers["movie tracks"]
    assert len(np.unique(tracks.data[:, 0])) == expected.n_tracks
    daughters = {k: v for k, v in tracks.graph.items() if v}
    assert len(daughters) == 2 * len(set(movie.parents.values()))
    assert np.allclose(tracks.scale, layer.scale)
    tracked = viewer.layers["movie tracked"]
    assert expected.labels is not None and np.array_equal(np.asarray(tracked.data), expected.labels)
    assert "tracks in 12 frames" in w.status.text() and w.track_btn.isEnabled()


def test_closed_track_dock_receives_no_layer_event(make_napari_viewer, qtbot) -> None:
    """Issue #20's crash class: a closed dock still connected to the layer list got events once deleted."""
    from qtpy.QtCore import QCoreApplication, QEvent

    from napari_batchseg._napari._track_widget import TrackWidget

    viewer = make_napari_viewer()
    events = (viewer.layers.events.inserted, viewer.layers.events.removed)
    before = [len(e.callbacks) for e in events]
    w = TrackWidget(viewer)
    viewer.window.add_dock_widget(w, name="Track cells")
    # the dock follows the layer list (inserted: its layer choices, and the mask layers' edit marks)
    assert [len(e.callbacks) for e in events] == [before[0] + 2, before[1] + 1]
    viewer.add_labels(np.zeros((3, 8, 8), np.uint16), name="movie")
    assert w.labels_combo.currentText() == "movie"
    destroyed: list[bool] = []
    w.destroyed.connect(lambda *_: destroyed.append(True))
    viewer.window.remove_dock_widget("all")
    w.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert destroyed
    assert [len(e.callbacks) for e in events] == before  # nothing is delivered to the deleted dock
    viewer.add_labels(np.zeros((3, 8, 8), np.uint16), name="after")  # no RuntimeError from a deleted widget
    viewer.layers.remove("movie")
    assert [layer.name for layer in viewer.layers] == ["after"]


def test_closed_track_dock_is_called_by_no_click(make_napari_viewer, qtbot) -> None:
    """Issue #20's crash class: the layers' click callbacks of a closed dock called into deleted widgets."""
    from qtpy.QtCore import QCoreApplication, QEvent


    viewer, w, layer = track_dock_on_movie(make_napari_viewer)
    assert w.track()
    qtbot.waitUntil(lambda: not w.busy, timeout=60000)
    hooked = [lay.name for lay in viewer.layers if w._on_click in lay.mouse_drag_callbacks]
    assert sorted(hooked) == ["movie", "movie tracked", "movie tracks"]
    click = w._on_click
    viewer.window.remove_dock_widget("all")
    w.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert [lay.name for lay in viewer.layers if click in lay.mouse_drag_callbacks] == []
    assert layer in viewer.layers  # the layers stay, without the dock's callbacks
