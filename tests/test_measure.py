"""Per-object measurements on real data, checked against plain numpy on the same arrays."""

from __future__ import annotations

import json
from pathlib import Path

import nd2
import numpy as np
import pandas as pd
import pytest
import tifffile
from skimage.measure import regionprops_table

from _downstream import DSB_GT, DSB_IMAGE, ND2, segmented
from _timelapse import FIRST, LAST, frames_10_13, logless_copy, nd2_time_increment
from napari_batchseg.errors import InputError, OutputError
from napari_batchseg.io.masks import read_mask, write_mask
from napari_batchseg.measure import (
    OBJECT_COLUMNS,
    SUMMARY_COLUMNS,
    measure_file,
    measure_labels,
    measure_table,
)


def _numpy_reference(labels: np.ndarray, image: np.ndarray) -> pd.DataFrame:
    rows = []
    for lab in np.unique(labels):
        if lab == 0:
            continue
        ys, xs = np.nonzero(labels == lab)
        vals = image[ys, xs].astype(np.float64)
        rows.append({
            "label": lab, "area_px": ys.size, "centroid_y_px": ys.mean(), "centroid_x_px": xs.mean(),
            "bbox_min_y": ys.min(), "bbox_min_x": xs.min(), "bbox_max_y": ys.max() + 1,
            "bbox_max_x": xs.max() + 1, "mean_intensity": vals.mean(), "min_intensity": vals.min(),
            "max_intensity": vals.max(), "sum_intensity": vals.sum(), "std_intensity": vals.std(),
            "touches_border": bool(ys.min() == 0 or xs.min() == 0 or ys.max() == labels.shape[0] - 1
                                   or xs.max() == labels.shape[1] - 1),
        })
    return pd.DataFrame(rows)


def test_dsb2018_ground_truth_equals_numpy(tmp_path):
    result = measure_file(DSB_GT, output_dir=tmp_path, image=DSB_IMAGE)
    table = pd.read_csv(result.objects_csv)
    assert tuple(table.columns) == OBJECT_COLUMNS
    gt = tifffile.imread(DSB_GT)
    image = tifffile.imread(DSB_IMAGE)
    ref = _numpy_reference(gt, image)
    assert len(table) == len(ref) == result.n_objects
    assert 0 not in set(table["label"])  # background is never an object
    table = table.set_index("label").loc[ref["label"]]
    for col in ref.columns.drop("label"):
        np.testing.assert_allclose(table[col].to_numpy(dtype=float), ref[col].to_numpy(dtype=float),
                                   rtol=1e-9, atol=1e-9, err_msg=col)
    # no pixel size in this file: physical columns are empty, never invented
    raw = (tmp_path / result.objects_csv.name).read_text().splitlines()[1].split(",")
    header = list(OBJECT_COLUMNS)
    for col in ("area_um2", "centroid_y_um", "centroid_x_um", "perimeter_um"):
        assert raw[header.index(col)] == ""
    summary = pd.read_csv(result.summary_csv)
    assert tuple(summary.columns) == SUMMARY_COLUMNS
    areas = ref["area_px"].to_numpy(dtype=float)
    assert summary.loc[0, "n_objects"] == len(ref)
    assert summary.loc[0, "area_px_median"] == np.median(areas)
    assert summary.loc[0, "area_px_sum"] == areas.sum() == np.count_nonzero(gt)
    assert summary.loc[0, "area_px_std"] == pytest.approx(np.std(areas, ddof=1))
    assert summary["area_um2_mean"].isna().all()


@pytest.mark.cp3  # the project's Cellpose 3 model
@pytest.mark.cp3  # the project's Cellpose 3 model
def test_nd2_movie_micrometre_columns_from_the_mask_log(tmp_path):
    mask = segmented("nd2")
    result = measure_file(mask, output_dir=tmp_path)
    assert result.image == ND2 and result.n_frames == 3
    table = pd.read_csv(result.objects_csv)
    labels = read_mask(mask).labels
    movie = nd2.imread(ND2)  # read by the nd2 library itself, not by the project's reader
    px = 0.325
    assert sorted(table["frame"].unique()) == [0, 1, 2]
    for t in range(3):
        ref = _numpy_reference(labels[t], movie[t])
        rows = table[table["frame"] == t].set_index("label").loc[ref["label"]]
        np.testing.assert_array_equal(rows["area_px"], ref["area_px"])
        np.testing.assert_allclose(rows["area_um2"], ref["area_px"] * px * px)
        np.testing.assert_allclose(rows["centroid_y_um"], ref["centroid_y_px"] * px)
        np.testing.assert_allclose(rows["centroid_x_um"], ref["centroid_x_px"] * px)
        np.testing.assert_allclose(rows["mean_intensity"], ref["mean_intensity"])
        np.testing.assert_allclose(rows["sum_intensity"], ref["sum_intensity"])
        # the µm perimeter is what regionprops gives with the pixel spacing
        sp = regionprops_table(labels[t], properties=("label", "perimeter"), spacing=(px, px))
        np.testing.assert_allclose(rows["perimeter_um"], sp["perimeter"])
    summary = pd.read_csv(result.summary_csv)
    assert list(summary["frame"]) == [0, 1, 2]
    counts = table.groupby("frame").size().reindex([0, 1, 2], fill_value=0).to_numpy()
    np.testing.assert_array_equal(summary["n_objects"], counts)


@pytest.mark.cp3  # the project's Cellpose 3 model
@pytest.mark.cp3  # the project's Cellpose 3 model
def test_extra_channel_and_image_override(tmp_path):
    mask = segmented("nd2")
    moved = tmp_path / "moved" / ND2.name
    moved.parent.mkdir()
    moved.write_bytes(ND2.read_bytes())
    result = measure_file(mask, channels=["GFP 488 nm"], output_dir=tmp_path, image=moved)
    assert result.image == moved
    table = pd.read_csv(result.objects_csv)
    np.testing.assert_allclose(table["mean_intensity_GFP 488 nm"], table["mean_intensity"])
    np.testing.assert_allclose(table["std_intensity_GFP 488 nm"], table["std_intensity"])


def test_measure_labels_in_memory_matches_file(tmp_path):
    """measure_labels on the arrays gives the rows measure_file writes for the same mask and image."""
    gt = tifffile.imread(DSB_GT)
    image = tifffile.imread(DSB_IMAGE).astype(np.float32)
    written = pd.read_csv(measure_file(DSB_GT, output_dir=tmp_path, image=DSB_IMAGE).objects_csv)
    table = measure_labels(gt, image, file=str(written.loc[0, "file"]))
    assert tuple(table.columns) == tuple(written.columns) == OBJECT_COLUMNS
    assert len(table) == len(written) == len(np.unique(gt)) - 1
    for col in OBJECT_COLUMNS:
        ours, theirs = table[col].to_numpy(), written[col].to_numpy()
        if ours.dtype.kind in "fc" or theirs.dtype.kind in "fc":
            np.testing.assert_allclose(ours.astype(float), theirs.astype(float), rtol=1e-12, err_msg=col)
        else:
            np.testing.assert_array_equal(ours, theirs, err_msg=col)
    # with a pixel size the physical columns scale the pixel ones
    scaled = measure_labels(gt, image, (0.5, 0.5))
    np.testing.assert_allclose(scaled["area_um2"], table["area_px"] * 0.25)
    np.testing.assert_allclose(scaled["perimeter_um"], table["perimeter_px"] * 0.5)


# --- bad input: a clear error naming the file, nothing written -----------------------------------

def _nothing_written(folder):
    assert not [p for p in folder.iterdir() if p.suffix == ".csv" or ".partial-" in p.name]


def test_shape_mismatch(tmp_path):
    with pytest.raises(InputError, match="dsb2018_nuclei_masks.tif.*512x512.*64x64"):
        measure_file(DSB_GT, output_dir=tmp_path, image=ND2)
    _nothing_written(tmp_path)


@pytest.mark.cp3  # the project's Cellpose 3 model
@pytest.mark.cp3  # the project's Cellpose 3 model
def test_frame_count_mismatch(tmp_path):
    with pytest.raises(InputError, match="arcadia.*3 frame\\(s\\) from frame 51"):
        measure_file(segmented("nd2"), output_dir=tmp_path, image=ND2, start_frame=51)
    _nothing_written(tmp_path)


@pytest.mark.cp3  # the project's Cellpose 3 model
def test_a_start_frame_other_than_the_logs_is_refused_without_an_image(tmp_path):
    """A review: ``--start-frame 1`` on a mask whose log says frames 0-2 renumbered its frames and took
    intensities of input frames 1-3, silently (export refused it already)."""
    mask = segmented("nd2")
    with pytest.raises(InputError, match="log says its first frame is input frame 0, not --start-frame 1"):
        measure_file(mask, output_dir=tmp_path, start_frame=1)
    _nothing_written(tmp_path)
    table = measure_table(mask, start_frame=0)  # the log's own: fine
    assert sorted(set(table["frame"])) == [0, 1, 2]
    moved = measure_table(mask, image=ND2, start_frame=1)  # with the image given: its frames 1-3
    assert sorted(set(moved["frame"])) == [1, 2, 3]


def test_float_mask(tmp_path):
    # the one rule of every command: whole-number floats are labels, other values are refused
    values = tifffile.imread(DSB_GT).astype(np.float32)
    values[values == values.max()] += 0.5
    bad = tmp_path / "float_mask.tif"
    tifffile.imwrite(bad, values)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InputError, match="float_mask.tif: not a label mask: .*not whole numbers"):
        measure_file(bad, output_dir=out, image=DSB_IMAGE)
    _nothing_written(out)


def test_negative_mask(tmp_path):
    bad = tmp_path / "negative_mask.tif"
    arr = tifffile.imread(DSB_GT).astype(np.int16)
    arr[0, 0] = -3
    tifffile.imwrite(bad, arr)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InputError, match="negative_mask.tif.*negative"):
        measure_file(bad, output_dir=out, image=DSB_IMAGE)
    _nothing_written(out)


def test_missing_log_needs_image(tmp_path):
    with pytest.raises(InputError, match="dsb2018_nuclei_masks.tif.*log is missing.*--image"):
        measure_file(DSB_GT, output_dir=tmp_path)
    _nothing_written(tmp_path)


@pytest.mark.cp3  # the project's Cellpose 3 model
@pytest.mark.cp3  # the project's Cellpose 3 model
def test_unreadable_log_needs_image(tmp_path):
    labels = read_mask(segmented("nd2")).labels
    bad = tmp_path / "garbled_vSM.ome.tif"
    write_mask(bad, labels, log_text="this is not a segmentation log")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InputError, match="garbled_vSM.ome.tif.*log is missing or unreadable"):
        measure_file(bad, output_dir=out)
    _nothing_written(out)
    # with the image and the mask's first input frame given it works
    assert measure_file(bad, output_dir=out, image=ND2, start_frame=0).n_frames == 3


@pytest.mark.cp3  # the project's Cellpose 3 model
@pytest.mark.cp3  # the project's Cellpose 3 model
def test_missing_image(tmp_path):
    with pytest.raises(InputError, match="arcadia_ecoli_gfp_timelapse_vSM.ome.tif.*not found"):
        measure_file(segmented("nd2"), output_dir=tmp_path, image=tmp_path / "gone.nd2")
    _nothing_written(tmp_path)


def test_output_folder_not_writable(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="a_file"):
        measure_file(DSB_GT, output_dir=blocker / "sub", image=DSB_IMAGE)


def test_refuses_to_overwrite(tmp_path):
    first = measure_file(DSB_GT, output_dir=tmp_path, image=DSB_IMAGE)
    before = first.objects_csv.read_text()
    with pytest.raises(OutputError, match="exist"):
        measure_file(DSB_GT, output_dir=tmp_path, image=DSB_IMAGE)
    assert first.objects_csv.read_text() == before
    measure_file(DSB_GT, output_dir=tmp_path, image=DSB_IMAGE, overwrite=True)


@pytest.mark.cp3  # the project's Cellpose 3 model
@pytest.mark.cp3  # the project's Cellpose 3 model
def test_measure_table_equals_the_written_csv(tmp_path):
    from napari_batchseg.measure import measure_table

    mask = segmented("nd2")
    written = pd.read_csv(measure_file(mask, output_dir=tmp_path).objects_csv)
    before = sorted(tmp_path.iterdir())
    table = measure_table(mask)
    assert sorted(tmp_path.iterdir()) == before  # the in-memory table writes nothing
    pd.testing.assert_frame_equal(table, written, check_dtype=False)


# --- shape columns against skimage, and the in-memory table against the file -------------------

def _moments_reference(labels: np.ndarray, label: int) -> dict[str, float]:
    """Axes, eccentricity and orientation from the object's second central moments (plain numpy)."""
    ys, xs = np.nonzero(labels == label)
    var_r, var_c = ys.var(), xs.var()
    cov = ((ys - ys.mean()) * (xs - xs.mean())).mean()
    # skimage's inertia tensor [[var_c, -cov], [-cov, var_r]]: eigenvalues l1 >= l2
    l1, l2 = sorted(np.linalg.eigvalsh(np.array([[var_c, -cov], [-cov, var_r]])), reverse=True)
    if var_c == var_r:
        orientation = np.pi / 4 if cov >= 0 else -np.pi / 4
    else:
        orientation = 0.5 * np.arctan2(2 * cov, var_r - var_c)
    return {"major_axis_px": 4 * np.sqrt(l1), "minor_axis_px": 4 * np.sqrt(max(l2, 0.0)),
            "eccentricity": np.sqrt(1 - l2 / l1) if l1 > 0 else 0.0, "orientation": orientation}


@pytest.mark.parametrize("spacing", [(0.5, 0.5), (0.325, 0.65)], ids=["square", "anisotropic"])
def test_shape_columns_equal_regionprops_table(spacing):
    gt = tifffile.imread(DSB_GT)
    image = tifffile.imread(DSB_IMAGE).astype(np.float32)
    table = measure_labels(gt, image, spacing).set_index("label")
    px = pd.DataFrame(regionprops_table(gt, properties=(
        "label", "perimeter", "eccentricity", "solidity", "axis_major_length", "axis_minor_length",
        "orientation"))).set_index("label")
    assert len(table) == len(px) > 50 and list(table.index) == list(px.index)
    for ours, theirs in (("perimeter_px", "perimeter"), ("eccentricity", "eccentricity"),
                         ("solidity", "solidity"), ("major_axis_px", "axis_major_length"),
                         ("minor_axis_px", "axis_minor_length"), ("orientation", "orientation")):
        np.testing.assert_allclose(table[ours], px[theirs], rtol=1e-12, atol=1e-12, err_msg=ours)
    # the physical columns are what skimage gives with the pixel size as spacing
    um_props = ("label", "area", "centroid") + (("perimeter",) if spacing[0] == spacing[1] else ())
    um = pd.DataFrame(regionprops_table(gt, spacing=spacing, properties=um_props)).set_index("label")
    np.testing.assert_allclose(table["area_um2"], um["area"], rtol=1e-12)
    np.testing.assert_allclose(table["centroid_y_um"], um["centroid-0"], rtol=1e-12)
    np.testing.assert_allclose(table["centroid_x_um"], um["centroid-1"], rtol=1e-12)
    if "perimeter" in um:
        np.testing.assert_allclose(table["perimeter_um"], um["perimeter"], rtol=1e-12)
    else:  # skimage has no perimeter for non-square pixels: the column stays empty, never invented
        assert table["perimeter_um"].isna().all()
    # axes, eccentricity and orientation also follow from the second moments, computed here
    for label in table.index[::7]:
        for col, value in _moments_reference(gt, label).items():
            assert table.loc[label, col] == pytest.approx(value, rel=1e-9, abs=1e-9), (label, col)


@pytest.mark.cp3  # the project's Cellpose 3 model
def test_time_column_when_the_input_time_step_is_known(tmp_path):
    result = measure_file(frames_10_13(), output_dir=tmp_path)
    table = pd.read_csv(result.objects_csv)
    dt = nd2_time_increment()  # the nd2 library's own frame times
    cols = list(table.columns)
    assert cols[cols.index("frame") + 1] == "time_s"
    assert sorted(table["frame"].unique()) == list(range(FIRST, LAST + 1))
    np.testing.assert_allclose(table["time_s"], table["frame"] * dt, rtol=1e-9)
    summary = pd.read_csv(result.summary_csv)
    assert list(summary.columns[:5]) == ["file", "position", "position_name", "frame", "time_s"]
    np.testing.assert_allclose(summary["time_s"], np.arange(FIRST, LAST + 1) * dt, rtol=1e-9)


@pytest.mark.cp3  # the project's Cellpose 3 model
def test_frames_come_from_the_log(tmp_path):
    """A mask of input frames 10-13 is measured on frames 10-13 of its movie, as its log says."""
    mask = frames_10_13()
    table = pd.read_csv(measure_file(mask, output_dir=tmp_path).objects_csv)
    labels = read_mask(mask).labels
    movie = nd2.imread(ND2)
    for i, t in enumerate(range(FIRST, LAST + 1)):
        ref = _numpy_reference(labels[i], movie[t])
        rows = table[table["frame"] == t].set_index("label").loc[ref["label"]]
        np.testing.assert_allclose(rows["mean_intensity"], ref["mean_intensity"], rtol=1e-9)


@pytest.mark.cp3  # the project's Cellpose 3 model
def test_tracks_of_a_logless_mask_join_its_table_at_the_start_frame_given(tmp_path):
    """A walk: a log-less mask of input frames 10-13, tracked (``batchseg track`` numbers it from 0), then
    measured with ``--start-frame 10``: refused ("the tracks hold no object of frame 10"), and the way out
    it named (the first frame it was tracked with, 0) measured input frames 0-3. The tracks now follow."""
    from napari_batchseg.tracking.files import track_file

    bare, labels = logless_copy(tmp_path)
    tracked = track_file(bare, force_labels=True)
    assert sorted(set(pd.read_csv(tracked.tracks_csv)["frame"])) == [0, 1, 2, 3]
    result = measure_file(bare, output_dir=tmp_path, image=ND2, start_frame=FIRST)
    table = pd.read_csv(result.objects_csv)
    assert sorted(set(table["frame"])) == list(range(FIRST, LAST + 1)) and (table["track_id"] > 0).all()
    tracks = pd.read_csv(tracked.tracks_csv)
    first = tracks[tracks["frame"] == 0].set_index("label")["track_id"]
    rows = table[table["frame"] == FIRST].set_index("label")["track_id"]
    assert rows.sort_index().tolist() == first.loc[rows.index].sort_index().tolist()  # the same tracks
    assert result.track_summary_csv is not None
    assert pd.read_csv(result.track_summary_csv)["first_frame"].min() == FIRST


@pytest.mark.cp3  # the project's Cellpose 3 model
def test_logless_mask_needs_start_frame_when_frame_counts_differ(tmp_path):
    """A log-less 4-frame mask against the 53-frame movie: an error naming --start-frame, not frames 0-3."""
    from napari_batchseg.cli_downstream import main

    bare, labels = logless_copy(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InputError, match="bare_masks.tif.*4 frame.*53.*--start-frame"):
        measure_file(bare, output_dir=out, image=ND2)
    _nothing_written(out)
    result = measure_file(bare, output_dir=out, image=ND2, start_frame=FIRST)
    table = pd.read_csv(result.objects_csv)
    movie = nd2.imread(ND2)
    for i, t in enumerate(range(FIRST, LAST + 1)):
        ref = _numpy_reference(labels[i], movie[t])
        rows = table[table["frame"] == t].set_index("label").loc[ref["label"]]
        np.testing.assert_allclose(rows["mean_intensity"], ref["mean_intensity"], rtol=1e-9)
    # the command line says the same, and has the option it names
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stderr(buf):  # a file's failure: one line on stderr
        status = main(["measure", str(bare), "--image", str(ND2), "--output-dir", str(tmp_path / "cli"),
                       "--overwrite"])
    assert status == 1 and "--start-frame" in buf.getvalue()
    with contextlib.redirect_stdout(buf):
        status = main(["measure", str(bare), "--image", str(ND2), "--start-frame", str(FIRST),
                       "--output-dir", str(out), "--overwrite"])
    assert status == 0


def test_position_name_names_the_well_of_a_multi_position_file(tmp_path):
    """Both tables name each object's well (``position_name``, after ``position``): from the mask's log,
    else from the input's metadata; empty for a mask without a log. The input is a multi-position
    OME-TIFF of two real fields (DSB2018 crops) whose series are named as a plate's wells."""
    from napari_batchseg import SegmentationParams, segment_files
    from napari_batchseg.testing import ThresholdSegmenter

    image = tifffile.imread(DSB_IMAGE)[:128, :160]
    plate = tmp_path / "plate.ome.tif"
    with tifffile.TiffWriter(plate, ome=True) as tw:
        for well, field in (("B02", image), ("B03", np.flipud(image))):
            tw.write(field, metadata={"axes": "YX", "Name": well})
    summary = segment_files([plate], SegmentationParams(output_dir=str(tmp_path / "out")),
                            segmenter=ThresholdSegmenter())
    assert summary.ok and len(summary.reports) == 2
    masks = {r.position: Path(str(r.mask)) for r in summary.reports}
    assert "position: 1 of 2 (B03)" in read_mask(masks[1]).log_text
    for position, well in ((0, "B02"), (1, "B03")):
        result = measure_file(masks[position], output_dir=tmp_path)
        objects, summ = pd.read_csv(result.objects_csv), pd.read_csv(result.summary_csv)
        assert tuple(objects.columns) == OBJECT_COLUMNS and tuple(summ.columns) == SUMMARY_COLUMNS
        assert list(objects.columns[:4]) == ["file", "position", "position_name", "frame"]
        assert list(summ.columns[:4]) == ["file", "position", "position_name", "frame"]
        assert len(objects) > 3 and set(objects["position"]) == set(summ["position"]) == {position}
        assert set(objects["position_name"]) == set(summ["position_name"]) == {well}
        assert set(measure_table(masks[position])["position_name"]) == {well}
    # a log that names no position (written by another tool): the input's own name of it
    mask = read_mask(masks[1])
    assert "(B03)" in mask.log_text
    unnamed = write_mask(tmp_path / "unnamed_vSM.ome.tif", mask.labels, mask.pixel_size,
                         mask.log_text.replace("(B03)", "()"))
    assert set(measure_table(unnamed)["position_name"]) == {"B03"}
    # no log: the position is not known, its name is left empty (never guessed)
    bare = tmp_path / "bare_masks.tif"
    tifffile.imwrite(bare, mask.labels[0])
    result = measure_file(bare, output_dir=tmp_path, image=plate)
    for csv in (result.objects_csv, result.summary_csv):
        header, first = csv.read_text().splitlines()[:2]
        column = header.split(",").index("position_name")
        assert first.split(",")[column] == ""
    assert measure_table(bare, image=plate)["position_name"].isna().all()
    # an export's provenance names the position too (it gave only its index)
    from napari_batchseg.export import export_masks

    (out,) = export_masks("semantic", [masks[1]], tmp_path / "export").outputs[masks[1]]
    preparation = json.loads(out.with_name(out.name + ".provenance.json").read_text())["preparation"]
    assert (preparation["position"], preparation["position_name"]) == (1, "B03")
