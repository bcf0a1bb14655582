"""Session 47: docks opened from napari's Plugins menu get the viewer behind napari's ``PublicOnlyProxy``.

A new-user trial: *Track cells* on a real ND2 time-lapse mask, dock opened from the menu, said "Not shown:
the layer ... was removed while it was being tracked" with the layer still there, and showed no tracks.
The tests build the docks as napari's menu does (the viewer wrapped in ``PublicOnlyProxy``).
"""

from __future__ import annotations

from napari.utils._proxies import PublicOnlyProxy


def test_track_dock_opened_from_the_menu_shows_the_tracks(make_napari_viewer, qtbot):
    from napari_batchseg._napari._track_widget import TrackWidget
    from napari_batchseg.tracking.synthetic import synthetic_movie

    viewer = make_napari_viewer()
    w = TrackWidget(PublicOnlyProxy(viewer))  # as napari's Plugins menu builds it
    viewer.window.add_dock_widget(w, name="Track cells")
    movie = synthetic_movie(seed=4)
    viewer.add_labels(movie.masks, name="movie", metadata={"batchseg": {"role": "mask"}})
    w.max_distance.setValue(movie.max_step + 1)
    assert w.track()
    qtbot.waitUntil(lambda: not w.busy, timeout=60000)
    qtbot.wait(50)
    assert "removed" not in w.status.text(), w.status.text()
    assert "track" in w.status.text().lower()
    kinds = [type(layer).__name__ for layer in viewer.layers]
    assert kinds.count("Tracks") == 1 and kinds.count("Labels") == 2, kinds
    assert w.result is not None and w.join_btn.isEnabled()
