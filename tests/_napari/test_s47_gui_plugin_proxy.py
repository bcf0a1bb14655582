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


def test_measure_dock_opened_from_the_menu_says_its_table_is_of_the_earlier_output(
        make_napari_viewer, qtbot, tmp_path):
    """The walk of ``test_measure_widget``'s table-stays-with-its-output test, the dock built as the menu
    builds it: the status line never said that the measured layer now shows the run's next output."""
    import numpy as np
    import tifffile

    from napari_batchseg._napari._measure_widget import MeasureExportWidget

    from .test_measure_widget import DSB_GT, _next_output, _stream_layer

    viewer = make_napari_viewer()
    w = MeasureExportWidget(PublicOnlyProxy(viewer))
    viewer.window.add_dock_widget(w, name="Measure and export")
    gt = tifffile.imread(DSB_GT)
    layer = _stream_layer(viewer, gt.copy(), "a_nuclei", tmp_path / "a_nuclei_vSM.ome.tif")
    assert w.measure()
    qtbot.waitUntil(lambda: not w.busy, timeout=30000)
    n = len(w.model.frame)
    assert n > 0 and "a_nuclei.tif" in w.status.text()
    _next_output(layer, np.zeros_like(gt), "b_ecoli", tmp_path / "b_ecoli_vSM.ome.tif")
    qtbot.wait(1000)  # (the recompute's debounce is 400 ms)
    said = w.status.text()
    assert said == f"{n} object(s) in a_nuclei_vSM.ome.tif (its layer shows b_ecoli_vSM.ome.tif now).", said
