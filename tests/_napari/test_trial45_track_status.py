"""The Track dock's status line forgets a failure once the layer it was about is removed.

GUI trial 45: "Tracking failed: …" stayed under the Labels box after the layer it named was gone (and the
box offered another layer, or none).
"""

from __future__ import annotations

from napari_batchseg.tracking.synthetic import synthetic_movie


def _failed_tracking(make_napari_viewer, qtbot):
    from napari_batchseg._napari._track_widget import TrackWidget

    viewer = make_napari_viewer()
    w = TrackWidget(viewer)
    viewer.window.add_dock_widget(w, name="Track cells")
    movie = synthetic_movie(seed=4)
    layer = viewer.add_labels(movie.masks, name="movie")
    other = viewer.add_labels(movie.masks, name="other movie")
    w.labels_combo.setCurrentText("movie")
    # trackastra: no intensity images (and no model here, nothing downloads): tracking fails for real
    w.method.setCurrentIndex(w.method.findData("trackastra"))
    assert w.track()
    qtbot.waitUntil(lambda: not w.busy, timeout=60000)
    assert w.status.text().startswith("Tracking failed: "), w.status.text()
    return viewer, w, layer, other


def test_failure_cleared_when_its_layer_goes(make_napari_viewer, qtbot) -> None:
    viewer, w, layer, _ = _failed_tracking(make_napari_viewer, qtbot)
    viewer.layers.remove(layer)
    assert "Tracking failed" not in w.status.text(), w.status.text()
    assert w.labels_combo.currentText() == "other movie"


def test_failure_kept_while_its_layer_stays(make_napari_viewer, qtbot) -> None:
    viewer, w, _, other = _failed_tracking(make_napari_viewer, qtbot)
    viewer.layers.remove(other)  # another layer goes: the failure is still about a layer there
    assert w.status.text().startswith("Tracking failed: "), w.status.text()
