"""The "Measure and export" dock widget on real data: table, row click, histogram, CSV, recompute,
export and evaluation, all computed in worker threads."""

from __future__ import annotations

import numpy as np
import pandas as pd
import tifffile

from _downstream import DSB_GT, DSB_IMAGE, segmented
from napari_batchseg.evaluate import evaluate_frame
from napari_batchseg.measure import measure_labels
from napari_batchseg.view.measure_form import NO_TRUTH


def _widget(make_napari_viewer):
    from napari_batchseg._napari._measure_widget import MeasureExportWidget

    viewer = make_napari_viewer()
    w = MeasureExportWidget(viewer)
    viewer.window.add_dock_widget(w, name="Measure and export")
    return viewer, w


def scored_pair(viewer, truth: str, prediction: str):
    """Add the DSB2018 annotation as ``truth``, then a copy less one nucleus as ``prediction``; both."""
    gt = tifffile.imread(DSB_GT)
    pred = gt.copy()
    pred[pred == int(np.unique(gt)[3])] = 0
    viewer.add_labels(gt, name=truth)
    viewer.add_labels(pred, name=prediction)
    return gt, pred


def _wait(qtbot, w):
    qtbot.waitUntil(lambda: not w.busy, timeout=30000)


def test_measure_table_click_histogram_save(make_napari_viewer, qtbot, tmp_path, monkeypatch):
    from qtpy.QtWidgets import QFileDialog

    from napari_batchseg.view.measure_form import NOTHING_TO_SAVE

    viewer, w = _widget(make_napari_viewer)
    # a walk: Save CSV… before any measure wrote a 1-byte file and said "Saved"
    asked = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: asked.append(1) or ("", ""))
    w.save_btn.click()
    assert w.status.text() == NOTHING_TO_SAVE and not asked
    image = tifffile.imread(DSB_IMAGE)
    gt = tifffile.imread(DSB_GT)
    viewer.add_image(image, name="nuclei")
    layer = viewer.add_labels(gt.copy(), name="gt")
    assert w.labels_combo.currentText() == "gt"  # follows the selected Labels layer
    assert w.image_combo.currentText() == "nuclei"
    assert w.measure()
    _wait(qtbot, w)
    expected = measure_labels(gt, image.astype(np.float32), None, file="gt")
    pd.testing.assert_frame_equal(layer.features.reset_index(drop=True), expected, check_dtype=False)
    assert w.model.rowCount() == len(expected)
    # a row click centres the view on that object and selects its label
    row = 7
    w.go_to_row(row)
    rec = expected.iloc[row]
    assert layer.selected_label == rec["label"]
    np.testing.assert_allclose(w.camera.center[-2:], (rec["centroid_y_px"], rec["centroid_x_px"]))
    # the histogram of a chosen column
    w.histogram.column.setCurrentText("mean_intensity")
    assert w.histogram.n_bars > 0
    assert w.histogram.axes.get_xlabel() == "mean_intensity"
    # save CSV (worker thread)
    out = tmp_path / "objects.csv"
    w.save_csv(out)
    _wait(qtbot, w)
    back = pd.read_csv(out)
    np.testing.assert_allclose(back["area_px"], expected["area_px"])


def test_a_result_of_later_frames_is_numbered_and_found_by_input_frame(make_napari_viewer, qtbot):
    """A user walk: a mask of frames 3-9 was measured as frames 0-6, and a row click showed the wrong
    frame. Rows carry input frames (as ``batchseg measure`` writes them); a click shows that frame."""
    viewer, w = _widget(make_napari_viewer)
    gt = tifffile.imread(DSB_GT)
    movie = np.stack([np.roll(gt, 4 * t, axis=1) for t in range(4)])  # the objects move right
    frames = np.broadcast_to(np.arange(10, dtype=np.float32)[:, None, None] + 1, (10, *gt.shape))
    viewer.add_image(np.array(frames), name="input")  # frames 0-9, frame t of value t + 1
    layer = viewer.add_labels(movie, name="frames 3-6", translate=(3, 0, 0),
                              metadata={"batchseg": {"first_frame": 3}})
    assert w.measure()
    _wait(qtbot, w)
    table = w.model.frame
    assert sorted(set(table["frame"])) == [3, 4, 5, 6]
    # a walk: the input's other frames made its shape differ, so no intensities; they are its frames 3-6
    assert "no intensities" not in w.status.text(), w.status.text()
    assert np.allclose(table["mean_intensity"], table["frame"] + 1)
    row = int(np.flatnonzero(table["frame"].to_numpy() == 5)[0])
    w.go_to_row(row)
    assert viewer.dims.current_step[0] == 5  # input frame 5: the layer's frame 2
    assert layer.selected_label == table.iloc[row]["label"]
    at_5 = table[table["frame"] == 5].drop(columns=["frame", "file"]).reset_index(drop=True)
    of_2 = measure_labels(movie[2], frames[5], None).drop(columns=["frame", "file"])  # the layer's frame 2
    pd.testing.assert_frame_equal(at_5, of_2, check_dtype=False)


def test_recomputed_after_correction(make_napari_viewer, qtbot):
    viewer, w = _widget(make_napari_viewer)
    gt = tifffile.imread(DSB_GT)
    layer = viewer.add_labels(gt.copy(), name="gt")
    w.measure()
    _wait(qtbot, w)
    n = len(layer.features)
    victim = int(np.unique(gt)[5])
    edited = layer.data.copy()
    edited[edited == victim] = 0
    layer.data = edited  # a correction: the table follows (debounced, worker thread)
    qtbot.waitUntil(lambda: len(layer.features) == n - 1, timeout=30000)
    assert victim not in set(layer.features["label"])


def test_no_table_is_computed_unasked(make_napari_viewer, qtbot):
    # a change of the chosen layer recomputes a table the user asked for, not one never asked for (e.g.
    # the Batch segmentation dock's stream layer, pointed at each next output of a run)
    viewer, w = _widget(make_napari_viewer)
    gt = tifffile.imread(DSB_GT)
    layer = viewer.add_labels(gt.copy(), name="gt")
    assert w.labels_combo.currentText() == "gt"
    edited = layer.data.copy()
    edited[edited == int(np.unique(gt)[5])] = 0
    layer.data = edited
    qtbot.wait(1000)  # (the recompute's debounce is 400 ms)
    assert not w.busy and w.model.rowCount() == 0 and layer.features.empty
    w.measure()
    _wait(qtbot, w)
    n = len(layer.features)
    edited = layer.data.copy()
    edited[edited == int(np.unique(gt)[6])] = 0
    layer.data = edited  # now asked for: recomputed
    qtbot.waitUntil(lambda: len(layer.features) == n - 1, timeout=30000)


def test_evaluate_two_layers(make_napari_viewer, qtbot):
    viewer, w = _widget(make_napari_viewer)
    gt, pred = scored_pair(viewer, "truth", "prediction")
    w.labels_combo.setCurrentText("prediction")
    assert w.gt_combo.currentText() == NO_TRUTH  # the ground truth is the user's choice (GUI trial 45)
    w.gt_combo.setCurrentText("truth")
    w.gt_combo.activated.emit(w.gt_combo.currentIndex())  # as a user choosing it: evaluates at once
    assert w.busy
    _wait(qtbot, w)
    table = w.eval_model.frame
    expected = evaluate_frame(pred, gt)
    assert table.loc[0, "ap_50"] == expected["ap_50"]
    assert table.loc[0, "fn_50"] == 1 and table.loc[0, "fp_50"] == 0
    # a walk: a correction left the scores as they were, without a word; they follow it now
    layer = viewer.layers["prediction"]
    edited = layer.data.copy()
    edited[edited == int(np.unique(gt)[5])] = 0
    layer.data = edited
    qtbot.waitUntil(lambda: w.eval_model.frame.loc[0, "fn_50"] == 2, timeout=10000)


def test_export_from_widget(make_napari_viewer, qtbot, tmp_path):
    from napari_batchseg.view.layer_files import mask_layer_data

    viewer, w = _widget(make_napari_viewer)
    mask = segmented("nd2")
    data, kwargs, _ = mask_layer_data(mask)[0]
    viewer.add_labels(data, **kwargs)
    assert w.mask_path.text() == str(mask.resolve())  # taken from the layer's file
    w.export_dir.setText(str(tmp_path))
    w.kind.setCurrentText("semantic")
    assert w.export()
    _wait(qtbot, w)
    out = tmp_path / "arcadia_ecoli_gfp_timelapse_vSM_semantic.tif"
    np.testing.assert_array_equal(tifffile.imread(out), (np.asarray(data) > 0).astype(np.uint8) * 255)
    assert "Wrote" in w.export_status.text() and "unsaved" not in w.export_status.text()
    # a walk: the file was exported without a word while its layer held unsaved corrections; a review:
    # napari's own brush marked nothing unless the Batch segmentation dock's Correct panel watched
    layer = viewer.layers[kwargs["name"]]
    layer.paint((0, 20, 20), 999)  # a brush stroke, as napari's paint tool makes it
    assert layer.metadata["batchseg"].get("dirty")
    w.overwrite.setChecked(True)
    assert w.export()
    _wait(qtbot, w)
    assert "Wrote" in w.export_status.text() and "has unsaved corrections, not in this export" in \
        w.export_status.text()
    # outlines with a pattern that does not match: the error names the file, nothing is written
    w.kind.setCurrentText("outlines")
    w.pattern.setText(r"(?P<plate>P\d+)_(?P<well>[A-H]\d\d)")
    assert w.export()
    _wait(qtbot, w)
    assert "Export failed" in w.export_status.text() and "arcadia" in w.export_status.text()
    assert not (tmp_path / "outlines_metadata.csv").exists()
    # QA: the mask field kept the first layer's file when another was chosen (Export wrote the wrong one)
    other = segmented("dsb")
    data2, kwargs2, _ = mask_layer_data(other)[0]
    viewer.add_labels(data2, **kwargs2)
    w.labels_combo.setCurrentText(kwargs2["name"])
    assert w.mask_path.text() == str(other.resolve())
    w.mask_path.setText(str(tmp_path / "typed_vSM.ome.tif"))  # a path the user chose stays
    w.labels_combo.setCurrentText(kwargs["name"])
    assert w.mask_path.text() == str(tmp_path / "typed_vSM.ome.tif")


def test_a_layers_table_names_its_file_and_times_frames_as_the_command_line(make_napari_viewer, qtbot):
    """A walk: the dock's table named the layer in ``file`` and had no ``time_s`` (the CLI's has both)."""
    from napari_batchseg.measure import TIME_COLUMN, measure_table
    from napari_batchseg.view.layer_files import mask_layer_data

    viewer, w = _widget(make_napari_viewer)
    mask = segmented("nd2", 1, 2)  # input frames 1-2, 0.5 s apart
    data, kwargs, _ = mask_layer_data(mask)[0]
    viewer.add_labels(data, **kwargs)
    assert w.measure()
    _wait(qtbot, w)
    table, cli = w.model.frame, measure_table(mask)
    same = [c for c in cli.columns if "intensity" not in c]  # (no Intensity image chosen here)
    assert [c for c in table.columns if "intensity" not in c] == same and table.columns[4] == TIME_COLUMN
    pd.testing.assert_frame_equal(table[same], cli[same], check_dtype=False)
    assert set(table["file"]) == {mask.name} and np.allclose(table[TIME_COLUMN], table["frame"] * 0.50016)


def test_measure_finished_file(make_napari_viewer, qtbot):
    from napari_batchseg.measure import measure_table
    from napari_batchseg.view.layer_files import mask_layer_data

    viewer, w = _widget(make_napari_viewer)
    mask = segmented("nd2")
    data, kwargs, _ = mask_layer_data(mask)[0]
    layer = viewer.add_labels(data, **kwargs)
    assert w.measure_file()
    _wait(qtbot, w)
    expected = measure_table(mask)  # intensities of the ND2 frames named in the mask's log
    pd.testing.assert_frame_equal(layer.features.reset_index(drop=True), expected)
    assert expected["mean_intensity"].notna().all() and expected["area_um2"].notna().all()
    assert w.model.rowCount() == len(expected)
    # a walk: the file's table replaced the table of a layer holding unsaved corrections
    from napari_batchseg.view.layer_ops import mark_edited

    layer.data[0][layer.data[0] == layer.data[0].max()] = 0  # one object deleted by hand
    mark_edited(layer)  # (as a brush stroke or a correction helper marks it)
    own = measure_table(mask).iloc[:3]
    layer.features = own
    assert w.measure_file()
    _wait(qtbot, w)
    pd.testing.assert_frame_equal(layer.features, own)  # its own table stays
    assert "unsaved corrections" in w.status.text() and w.model.rowCount() == len(expected)


def test_ome_zarr_export_opens_with_napari_ome_zarr(tmp_path):
    from napari_ome_zarr import napari_get_reader

    from napari_batchseg.export import export_masks
    from napari_batchseg.io.masks import read_mask

    mask = segmented("nd2")
    (out,) = export_masks("ome-zarr", [mask], tmp_path).outputs[mask]
    reader = napari_get_reader(str(out))
    assert reader is not None
    layers = {kind: (data, kwargs) for data, kwargs, kind in reader(str(out))}
    image, image_kw = layers["image"]
    labels, labels_kw = layers["labels"]
    assert list(image_kw["scale"][-2:]) == [0.325, 0.325]
    np.testing.assert_array_equal(np.asarray(labels[0]) > 0, read_mask(mask).labels > 0)  # (t, y, x)
    assert "area_um2" in labels_kw["properties"]


def test_plots_follow_napari_theme_and_epochs_are_whole(make_napari_viewer):
    """A user walk: the plots were white panels in napari's dark theme, epochs ticked 1.2, 1.4."""
    from matplotlib.colors import to_hex
    from napari.settings import get_settings
    from napari.utils.theme import get_theme

    from napari_batchseg._napari._train_widget import TrainWidget

    viewer, w = _widget(make_napari_viewer)
    train = TrainWidget(viewer)
    theme = get_theme(get_settings().appearance.theme)
    for plot in (w.histogram, train.plot):
        assert to_hex(plot.figure.get_facecolor()) == to_hex(theme.background.as_hex())
        assert to_hex(plot.axes.get_facecolor()) == to_hex(theme.background.as_hex())
        assert to_hex(plot.axes.xaxis.label.get_color()) == to_hex(theme.text.as_hex())
    # review: the colours were taken once; napari's theme switched later left them
    settings = get_settings().appearance
    before = settings.theme
    other = "light" if theme.background.as_hex() != get_theme("light").background.as_hex() else "dark"
    try:
        settings.theme = other
        switched = get_theme(other)
        for plot in (w.histogram, train.plot):
            assert to_hex(plot.figure.get_facecolor()) == to_hex(switched.background.as_hex())
            assert to_hex(plot.axes.get_facecolor()) == to_hex(switched.background.as_hex())
            assert to_hex(plot.axes.xaxis.label.get_color()) == to_hex(switched.text.as_hex())
        legend = train.plot.axes.get_legend()
        assert to_hex(legend.get_texts()[0].get_color()) == to_hex(switched.text.as_hex())
    finally:
        settings.theme = before
    train.plot.canvas.draw()  # before any epoch: whole epochs too (its empty axis ticked -0.045, -0.030…)
    assert all(float(t).is_integer() for t in train.plot.axes.get_xticks())
    for epoch in (1, 2, 3):
        train.plot.add(epoch, 1.0 / epoch, 0.5 / epoch)
    train.plot.canvas.draw()
    ticks = [t for t in train.plot.axes.get_xticks() if 1 <= t <= 3]
    assert ticks and all(float(t).is_integer() for t in ticks)


def test_a_row_click_goes_to_the_measured_layer_after_the_labels_choice_moved_on(make_napari_viewer, qtbot):
    """A user walk: a time series measured, then tracked (the Track dock adds a relabelled "… tracked"
    layer, selected, which the Labels box follows); a click on a row of the table, still of the first
    layer, selected that row's label in the tracked layer, whose objects are numbered by track (another
    object), and placed the view with that layer's frames. The row's own layer is the one shown now."""
    viewer, w = _widget(make_napari_viewer)
    gt = tifffile.imread(DSB_GT)
    movie = np.stack([np.roll(gt, 4 * t, axis=1) for t in range(4)])
    measured = viewer.add_labels(movie, name="movie", translate=(3, 0, 0),
                                 metadata={"batchseg": {"first_frame": 3}})
    assert w.measure()
    _wait(qtbot, w)
    table = w.model.frame
    # as the Track dock adds it: its own numbers, the same scale and translate (no first frame of its own)
    other = viewer.add_labels(np.zeros_like(movie), name="movie tracked", translate=(3, 0, 0))
    assert w.labels_combo.currentText() == "movie tracked"
    other.selected_label = 1
    row = int(np.flatnonzero((table["frame"].to_numpy() == 5) & (table["label"].to_numpy() > 1))[0])
    w.go_to_row(row)
    assert measured.selected_label == table.iloc[row]["label"]
    assert other.selected_label == 1  # the other layer's selection is left alone
    assert viewer.dims.point[0] == 5  # (world T) input frame 5, by the measured layer's first frame
    viewer.layers.remove(measured)  # the table's layer is gone: a click selects nothing elsewhere
    w.go_to_row(0)
    assert other.selected_label == 1


def _stream_layer(viewer, labels, key, mask):
    """A layer as the Batch segmentation dock streams an output into it (its metadata names the output)."""
    return viewer.add_labels(labels, name=f"{key}.tif", metadata={"batchseg": {
        "role": "mask", "task_key": key, "mask_path": str(mask)}})


def _next_output(layer, labels, key, mask):
    """The dock's stream layer pointed at the run's next output, as the streamer does it."""
    from napari_batchseg.view.layer_ops import retarget

    meta = {"role": "mask", "task_key": key, "mask_path": str(mask)}
    retarget(layer, labels, (1.0, 1.0), f"{key}.tif", meta)


def test_a_table_stays_with_its_output_when_a_run_points_the_layer_at_the_next_one(
        make_napari_viewer, qtbot, tmp_path):
    """A user walk: during a batch, the nuclei result measured; the run then reused its layer for the next
    file. The table's status named the next file, its rows were attached to that file's layer as its
    features (shown on hover), a row click went there, and a recompute measured the next file, still
    empty, into the table (\"0 object(s)\") and never again."""
    viewer, w = _widget(make_napari_viewer)
    gt = tifffile.imread(DSB_GT)
    layer = _stream_layer(viewer, gt.copy(), "a_nuclei", tmp_path / "a_nuclei_vSM.ome.tif")
    assert w.measure()
    _wait(qtbot, w)
    n = len(w.model.frame)
    assert n > 0 and len(layer.features) == n and "a_nuclei.tif" in w.status.text()
    _next_output(layer, np.zeros_like(gt), "b_ecoli", tmp_path / "b_ecoli_vSM.ome.tif")
    assert layer.features.empty  # the nuclei's rows are not the next file's features
    qtbot.wait(1000)  # (the recompute's debounce is 400 ms)
    assert not w.busy and len(w.model.frame) == n  # the next file's empty start is not measured
    edited = layer.data.copy()
    edited[:8, :8] = 1
    layer.data = edited  # the run's frames land in it: still not the table's
    qtbot.wait(1000)
    assert not w.busy and len(w.model.frame) == n and layer.features.empty
    layer.selected_label = 1
    w.go_to_row(3)
    assert layer.selected_label == 1  # a row of the nuclei is not looked for in the next file
    said = w.status.text()  # the table's own output, and the one its layer shows now
    assert said == f"{n} object(s) in a_nuclei_vSM.ome.tif (its layer shows b_ecoli_vSM.ome.tif now).", said


def test_a_table_computed_while_its_layer_moved_on_names_its_own_output(make_napari_viewer, qtbot, tmp_path):
    """The same walk, the run faster than the measure: the table came after the layer showed the next
    file; it said "115 object(s) in b_ecoli_BF.nd2" and its rows became that file's features."""
    viewer, w = _widget(make_napari_viewer)
    gt = tifffile.imread(DSB_GT)
    layer = _stream_layer(viewer, gt.copy(), "a_nuclei", tmp_path / "a_nuclei_vSM.ome.tif")
    assert w.measure()  # computed from the nuclei's labels, in a worker thread
    _next_output(layer, np.zeros_like(gt), "b_ecoli", tmp_path / "b_ecoli_vSM.ome.tif")
    _wait(qtbot, w)
    assert len(w.model.frame) == len(np.unique(gt)) - 1
    assert "a_nuclei" in w.status.text().split(" (its")[0] and "b_ecoli_vSM.ome.tif now" in w.status.text()
    assert layer.features.empty


def test_a_row_click_on_a_volume_table_shows_the_objects_slice(make_napari_viewer, qtbot):
    """A walk: a volume run's (T, Z, Y, X) layer measured; a row click centred Y, X at whatever slice was
    shown, often one without the object."""
    viewer, w = _widget(make_napari_viewer)
    gt = tifffile.imread(DSB_GT)[:128, :128]
    volume = np.zeros((1, 9, *gt.shape), gt.dtype)
    volume[0, 6:9] = gt  # every object on slices 6-8: centroid slice 7
    layer = viewer.add_labels(volume, name="stack_vSM", scale=(1, 2.0, 0.5, 0.5))
    viewer.dims.set_point(1, 0.0)
    assert w.measure()
    _wait(qtbot, w)
    assert "centroid_z_px" in w.model.frame.columns
    w.go_to_row(0)
    assert viewer.dims.point[1] == 14.0  # slice 7 at 2 µm per slice
    assert layer.selected_label == w.model.frame.iloc[0]["label"]
