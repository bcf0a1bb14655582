"""Every export reopened by the library its downstream tool uses: PIL/tifffile, roifile, zarr, ome-zarr."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import roifile
import tifffile
import zarr
from PIL import Image
from skimage.draw import polygon as fill_polygon

from _downstream import DSB_GT, DSB_IMAGE, ND2, segmented
from _timelapse import FIRST, LAST, frames_10_13, logless_copy, nd2_time_increment
from napari_batchseg.errors import InputError, OutputError
from napari_batchseg.export import KINDS, ExportOptions, export_masks
from napari_batchseg.io.masks import read_mask

GT = tifffile.imread(DSB_GT)
WITH_IMAGE = ExportOptions(image=DSB_IMAGE)


def _touching_labels(labels):
    from scipy import ndimage as ndi

    for lab in np.unique(labels)[1:]:
        ring = ndi.binary_dilation(labels == lab) & (labels != lab) & (labels > 0)
        if ring.any():
            return int(lab), int(labels[ring][0])
    return None


def test_outlines_and_metadata(tmp_path):
    pattern = r"(?P<plate>[a-z0-9]+)_(?P<well>[a-z]+)_(?P<site>masks)"
    result = export_masks("outlines", [DSB_GT], tmp_path, ExportOptions(pattern=pattern))
    (png,) = result.outputs[DSB_GT]
    img = np.asarray(Image.open(png))
    assert img.dtype == np.uint8 and set(np.unique(img)) == {0, 255}
    assert (GT[img == 255] > 0).all()  # outlines lie on objects, white on black
    for lab in np.unique(GT)[1:]:
        assert (img[GT == lab] == 255).any()
    pair = _touching_labels(GT)
    assert pair is not None
    a, b = pair
    from scipy import ndimage as ndi

    border_a = (GT == a) & ndi.binary_dilation(GT == b)  # pixels of a with a 4-neighbour in b
    assert (img[border_a] == 255).all()  # touching objects keep their own outlines
    meta = pd.read_csv(tmp_path / "outlines_metadata.csv")
    assert list(meta.columns) == ["outline", "mask", "position", "position_name", "frame", "plate", "well",
                                  "site"]
    assert (tmp_path / meta.loc[0, "outline"]).resolve() == png.resolve()
    assert (meta.loc[0, "plate"], meta.loc[0, "well"], meta.loc[0, "site"]) == ("dsb2018", "nuclei", "masks")
    assert (tmp_path / "dsb2018_nuclei_masks_outlines.provenance.json").exists()


def test_one_outlines_index_per_folder_keeps_every_masks_rows(tmp_path):
    """A walk: exporting a second mask's outlines into the folder was refused ("outputs exist"), and with
    overwrite its index lost the first mask's rows (its outlines left unlisted). The dock exports one
    mask at a time."""
    nd2 = segmented("nd2")
    export_masks("outlines", [DSB_GT], tmp_path)
    export_masks("outlines", [nd2], tmp_path)  # another mask: no overwrite needed
    meta = pd.read_csv(tmp_path / "outlines_metadata.csv")
    n_nd2 = read_mask(nd2).labels.shape[0]
    assert list(meta["mask"]) == [DSB_GT.name] + [nd2.name] * n_nd2
    assert "time_s" in meta and meta["time_s"].isna().tolist() == [True] + [False] * n_nd2
    assert all((tmp_path / name).is_file() for name in meta["outline"])
    with pytest.raises(OutputError, match="_outlines"):  # the same mask again: its outlines exist
        export_masks("outlines", [nd2], tmp_path)
    export_masks("outlines", [nd2], tmp_path, ExportOptions(overwrite=True))  # its rows replaced, once
    assert pd.read_csv(tmp_path / "outlines_metadata.csv").equals(meta)


def test_pattern_without_match(tmp_path):
    with pytest.raises(InputError, match="dsb2018_nuclei_masks.tif.*pattern"):
        opts = ExportOptions(pattern=r"(?P<plate>P\d+)_(?P<well>[A-H]\d\d)")
        export_masks("outlines", [DSB_GT], tmp_path, opts)
    assert list(tmp_path.iterdir()) == []


def test_rois_reopened_and_rasterised(tmp_path):
    mask = segmented("nd2")
    labels = read_mask(mask).labels
    for path, stack in ((DSB_GT, GT[None]), (mask, labels)):
        (zpath,) = export_masks("rois", [path], tmp_path).outputs[path]
        rois = roifile.roiread(zpath)
        rois = rois if isinstance(rois, list) else [rois]
        n_objects = sum(len(np.unique(f)) - 1 for f in stack)
        assert len(rois) == n_objects
        for roi in rois:
            t = roi.t_position - 1 if stack.shape[0] > 1 else 0
            lab = int(roi.name.split("-")[1])
            xy = roi.coordinates()
            rr, cc = fill_polygon(xy[:, 1] - 0.5, xy[:, 0] - 0.5, stack.shape[1:])
            drawn = np.zeros(stack.shape[1:], bool)
            drawn[rr, cc] = True
            obj = stack[t] == lab
            iou = (drawn & obj).sum() / (drawn | obj).sum()
            assert iou > 0.9, (path.name, roi.name, iou)


def test_semantic(tmp_path):
    (out,) = export_masks("semantic", [DSB_GT], tmp_path).outputs[DSB_GT]
    np.testing.assert_array_equal(tifffile.imread(out), (GT > 0).astype(np.uint8) * 255)
    (tmp_path / "b").mkdir()
    opts = ExportOptions(foreground_value=1)
    (out,) = export_masks("semantic", [DSB_GT], tmp_path / "b", opts).outputs[DSB_GT]
    np.testing.assert_array_equal(tifffile.imread(out), (GT > 0).astype(np.uint8))


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_ome_zarr_read_by_ome_zarr_py(tmp_path, version):
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Label, Multiscales, Reader

    mask = segmented("nd2")
    opts = ExportOptions(ngff_version=version)
    (out,) = export_masks("ome-zarr", [mask], tmp_path, opts).outputs[mask]
    nodes = list(Reader(parse_url(str(out)))())
    image = next(n for n in nodes if any(isinstance(s, Multiscales) for s in n.specs)
                 and not any(isinstance(s, Label) for s in n.specs))
    label = next(n for n in nodes if any(isinstance(s, Label) for s in n.specs))
    import nd2

    movie = nd2.imread(ND2)[:3].astype(np.float32)
    np.testing.assert_array_equal(np.asarray(image.data[0]), movie)
    labels = read_mask(mask).labels
    shown = np.asarray(label.data[0])
    assert shown.shape == movie.shape  # same axes as the image: (t, y, x), no channel axis in either
    np.testing.assert_array_equal(shown > 0, labels > 0)
    dt = nd2_time_increment()
    for node in (image, label):
        assert [a["name"] for a in node.metadata["axes"]] == ["t", "y", "x"]
        assert node.metadata["axes"][0] == {"name": "t", "type": "time", "unit": "second"}
        assert node.metadata["axes"][1]["unit"] == "micrometer"
        scale = node.metadata["coordinateTransformations"][0][0]["scale"]
        assert scale[0] == pytest.approx(dt, rel=1e-9) and scale[1:] == [0.325, 0.325]
    props = label.metadata["properties"]
    n_objects = sum(len(np.unique(f)) - 1 for f in labels)
    assert len(props) == n_objects  # one entry per object of every frame: none collide
    for value, p in props.items():
        t, lab = p["frame"], p["label"]
        assert (shown[t] == value).sum() == (labels[t] == lab).sum() == p["area_px"]
        assert p["time_s"] == pytest.approx(t * dt)
    if version == "0.4":
        attrs = json.loads((out / "labels" / "masks" / ".zattrs").read_text())
        assert attrs["image-label"]["version"] == "0.4"
    else:
        meta = json.loads((out / "labels" / "masks" / "zarr.json").read_text())
        assert meta["zarr_format"] == 3
        attrs = meta["attributes"]["ome"]
        assert attrs["version"] == "0.5"
        for arr in (out / "0", out / "labels" / "masks" / "0"):
            assert json.loads((arr / "zarr.json").read_text())["dimension_names"] == ["t", "y", "x"]
    assert attrs["image-label"]["source"] == {"image": "../../"}
    assert {c["label-value"] for c in attrs["image-label"]["colors"]} == set(np.unique(shown)) - {0}


def test_ome_zarr_time_lapse_in_napari(tmp_path):
    """napari-ome-zarr's layers in a napari viewer: each frame shows the image, labels and properties of
    that one frame (the time slider drives the same axis in both layers)."""
    pytest.importorskip("napari_ome_zarr")
    from napari.components import ViewerModel
    from napari_ome_zarr._reader import napari_get_reader

    mask = segmented("nd2")
    (out,) = export_masks("ome-zarr", [mask], tmp_path).outputs[mask]
    viewer = ViewerModel()
    for data, meta, kind in napari_get_reader(str(out))():
        viewer._add_layer_from_data(data, meta, kind)
    image, labels_layer = viewer.layers
    assert image.ndim == labels_layer.ndim == viewer.dims.ndim == 3
    labels_layer.visible = True
    import nd2

    movie = nd2.imread(ND2)
    labels = read_mask(mask).labels
    features = labels_layer.features.set_index("index")
    for t in range(3):
        viewer.dims.current_step = (t, 0, 0)
        for layer in (image, labels_layer):
            layer._slice_dims(viewer.dims)
        np.testing.assert_array_equal(np.asarray(image._slice.image.raw), movie[t])
        shown = np.asarray(labels_layer._slice.image.raw)
        np.testing.assert_array_equal(shown > 0, labels[t] > 0)
        values = set(np.unique(shown)) - {0}
        assert len(values) == len(np.unique(labels[t])) - 1
        for value in values:
            row = features.loc[value]
            assert row["frame"] == t  # the properties of the object on screen, not of another frame's
            assert row["area_px"] == (shown == value).sum() == (labels[t] == row["label"]).sum()


def test_dacapo_container(tmp_path):
    mask = segmented("nd2")
    (out,) = export_masks("dacapo", [mask], tmp_path, ExportOptions(test_fraction=0.34)).outputs[mask]
    root = zarr.open(str(out), mode="r")
    raw, labels, m = root["raw"], root["labels"], root["mask"]
    assert raw.dtype == np.float32 and raw.shape == (3, 64, 64)
    data = np.asarray(raw)
    assert data.min() == 0.0 and data.max() == 1.0
    np.testing.assert_array_equal(np.asarray(labels), read_mask(mask).labels)
    assert np.asarray(m).min() == 1
    for arr in (raw, labels, m):
        assert arr.attrs["axis_names"] == ["t^", "y", "x"]
        assert arr.attrs["voxel_size"] == [1, 325, 325]
        assert arr.attrs["units"] == ["", "nm", "nm"]
        assert arr.attrs["offset"] == [0, 0, 0]
    assert root["train/raw"].shape == (2, 64, 64) and root["test/raw"].shape == (1, 64, 64)
    assert root["test/labels"].attrs["offset"] == [2, 0, 0]
    np.testing.assert_array_equal(np.asarray(root["test/labels"]), np.asarray(labels)[2:])
    # raw is the movie scaled linearly: same order of values as the ND2 frames
    import nd2

    movie = nd2.imread(ND2)[:3].astype(np.float64)
    np.testing.assert_allclose(data, (movie - movie.min()) / (movie.max() - movie.min()), atol=1e-6)


def test_dacapo_single_frame_split_by_rows(tmp_path):
    (out,) = export_masks("dacapo", [DSB_GT], tmp_path,
                          ExportOptions(image=DSB_IMAGE, test_fraction=0.25)).outputs[DSB_GT]
    root = zarr.open(str(out), mode="r")
    assert root["raw"].attrs["axis_names"] == ["y", "x"]
    assert root["raw"].attrs["units"] == ["", ""]  # no pixel size: nothing invented
    assert root["train/labels"].shape == (384, 512) and root["test/labels"].shape == (128, 512)
    np.testing.assert_array_equal(np.asarray(root["test/labels"]), GT[384:])


def test_cellpose_training_folder(tmp_path):
    from cellpose import io as cp_io

    result = export_masks("cellpose", [DSB_GT], tmp_path, WITH_IMAGE)
    names = sorted(p.name for p in result.outputs[DSB_GT])
    assert names == ["dsb2018_nuclei_masks_t0000.tif", "dsb2018_nuclei_masks_t0000_masks.tif"]
    images, labels, files, *_ = cp_io.load_train_test_data(str(tmp_path), mask_filter="_masks")
    assert len(images) == 1
    np.testing.assert_array_equal(np.squeeze(labels[0]), GT)
    np.testing.assert_array_equal(np.squeeze(images[0]), tifffile.imread(DSB_IMAGE).astype(np.float32))
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_provenance_and_overwrite(tmp_path):
    mask = segmented("nd2")
    (out,) = export_masks("semantic", [mask], tmp_path).outputs[mask]
    record = json.loads(out.with_name(out.name + ".provenance.json").read_text())
    assert record["source_mask"] == str(mask.resolve())
    assert record["source_image"] == str(ND2)
    assert record["segmentation_parameters"]["end_frame"] == 2
    assert "numpy" in record["versions"]
    stamp = out.stat().st_mtime_ns
    with pytest.raises(OutputError, match="semantic.tif"):
        export_masks("semantic", [mask], tmp_path)
    assert out.stat().st_mtime_ns == stamp
    export_masks("semantic", [mask], tmp_path, ExportOptions(overwrite=True))
    for kind in ("ome-zarr", "outlines"):  # folders are replaced whole
        export_masks(kind, [mask], tmp_path)
        export_masks(kind, [mask], tmp_path, ExportOptions(overwrite=True))
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_unknown_kind(tmp_path):
    with pytest.raises(ValueError, match="unknown export kind 'tiff'.*outlines"):
        export_masks("tiff", [DSB_GT], tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_bad_inputs_write_nothing(tmp_path, kind):
    out = tmp_path / "out"
    out.mkdir()
    float_mask = tmp_path / "float_mask.tif"
    values = GT.astype(np.float32)
    values[values == values.max()] += 0.5  # not whole numbers: not labels
    tifffile.imwrite(float_mask, values)
    opts = ExportOptions(image=DSB_IMAGE)
    with pytest.raises(InputError, match="float_mask.tif"):  # the one mask is bad: nothing written
        export_masks(kind, [float_mask], out, opts)
    assert list(out.iterdir()) == []
    other = tmp_path / "other_float_mask.tif"
    tifffile.imwrite(other, values)
    with pytest.raises(InputError) as both:  # review: all bad named only the first
        export_masks(kind, [float_mask, other], out, opts)
    assert str(both.value).startswith("none of the 2 masks can be exported: ")
    assert f"{float_mask}:" in str(both.value) and f"{other}:" in str(both.value)
    many = [tmp_path / f"bad{i}.tif" for i in range(5)]
    for path in many:
        tifffile.imwrite(path, values)
    with pytest.raises(InputError, match=r"none of the 5 masks can be exported: .*; and 2 more$"):
        export_masks(kind, many, out, opts)  # a review: every one in one line, unbounded
    assert list(out.iterdir()) == []
    # a bad mask beside a good one is left out, said, and the good one exported (a user walk: one bad
    # mask stopped the whole export, its good masks unexported and unmentioned; ctc: test_tracking_ctc)
    if kind == "ctc":
        return
    result = export_masks(kind, [DSB_GT, float_mask], out, opts)
    assert list(result.failed) == [float_mask] and "float_mask.tif" in result.failed[float_mask]
    assert list(result.outputs) == [DSB_GT] and all(p.exists() for p in result.outputs[DSB_GT])
    assert not any("float_mask" in p.name for p in out.iterdir())
    shutil.rmtree(out)
    out.mkdir()
    if KINDS[kind]:
        with pytest.raises(InputError, match="dsb2018_nuclei_masks.tif.*64x64"):
            export_masks(kind, [DSB_GT], out, ExportOptions(image=ND2))
        with pytest.raises(InputError, match="dsb2018_nuclei_masks.tif.*log is missing"):
            export_masks(kind, [DSB_GT], out)
        with pytest.raises(InputError, match="not found"):
            export_masks(kind, [DSB_GT], out, ExportOptions(image=tmp_path / "gone.tif"))
        assert list(out.iterdir()) == []


def test_output_folder_not_writable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OutputError, match="file"):
        export_masks("semantic", [DSB_GT], blocker / "out")


def test_dacapo_mask_marks_the_corrected_frames(tmp_path):
    from napari_batchseg.corrections import delete_label, save_corrections

    mask = tmp_path / "movie_vSM.ome.tif"
    mask.write_bytes(segmented("nd2").read_bytes())
    labels = read_mask(mask).labels
    victim = int(labels[1].max())
    save_corrections(mask, delete_label(labels, victim, frames=[1]), write_log_file=False)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out,) = export_masks("dacapo", [mask], out_dir,
                          ExportOptions(annotated_frames="corrected")).outputs[mask]
    root = zarr.open(str(out), mode="r")
    m = np.asarray(root["mask"])
    assert [int(m[t].max()) for t in range(3)] == [0, 1, 0]
    np.testing.assert_array_equal(np.asarray(root["labels"])[1], read_mask(mask).labels[1])


def test_rois_sit_on_their_input_frame(tmp_path):
    """A mask of input frames 10-13: the ROI named t0010 is at T position 11 (ImageJ counts from 1)."""
    mask = frames_10_13()
    labels = read_mask(mask).labels
    (zpath,) = export_masks("rois", [mask], tmp_path).outputs[mask]
    rois = roifile.roiread(zpath)
    rois = rois if isinstance(rois, list) else [rois]
    assert len(rois) == sum(len(np.unique(f)) - 1 for f in labels)
    frames = set()
    for roi in rois:
        frame = int(roi.name[1:5])
        assert roi.t_position == frame + 1  # lands on input frame `frame` of the movie in Fiji
        frames.add(frame)
    assert frames == set(range(FIRST, LAST + 1))


def test_semantic_is_a_calibrated_imagej_movie(tmp_path):
    from napari_batchseg.io.reader import read_info

    mask = segmented("nd2")
    labels = read_mask(mask).labels
    (out,) = export_masks("semantic", [mask], tmp_path).outputs[mask]
    with tifffile.TiffFile(out) as tf:
        assert tf.is_imagej
        meta = tf.imagej_metadata
        assert tf.series[0].axes == "TYX"  # Fiji: frames, not a Z stack
        num, den = tf.pages[0].tags["XResolution"].value
        np.testing.assert_array_equal(tf.asarray(), (labels > 0).astype(np.uint8) * 255)
    assert meta["frames"] == 3 and meta["unit"] in ("um", "micron")
    assert den / num == pytest.approx(0.325, rel=1e-6)
    assert meta["finterval"] == pytest.approx(nd2_time_increment(), rel=1e-9)
    info = read_info(out)  # and the project's own reader takes the calibration back
    assert info.sizes["T"] == 3
    assert info.pixel_size.x == pytest.approx(0.325, rel=1e-6)
    assert info.pixel_size.t == pytest.approx(nd2_time_increment(), rel=1e-9)


def test_dacapo_keeps_the_exact_voxel_size(tmp_path):
    from napari_batchseg.export.zarr_formats import voxel_sizes

    image = tmp_path / "nuclei.ome.tif"  # the real DSB image, calibrated at 65.5 nm
    tifffile.imwrite(image, tifffile.imread(DSB_IMAGE), metadata={
        "axes": "YX", "PhysicalSizeX": 0.0655, "PhysicalSizeY": 0.0655})
    (out,) = export_masks("dacapo", [DSB_GT], tmp_path, ExportOptions(image=image)).outputs[DSB_GT]
    root = zarr.open(str(out), mode="r")
    voxel, units = root["labels"].attrs["voxel_size"], root["labels"].attrs["units"]
    assert all(isinstance(v, int) for v in voxel)  # funlib.persistence stores whole numbers
    assert units == ["pm", "pm"] and voxel == [65500, 65500]  # 65.5 nm exactly, not 66 nm
    assert root.attrs["pixel_size_um"] == {"y": 0.0655, "x": 0.0655}
    assert voxel_sizes([0.325, 0.325]) == ([325, 325], "nm")
    assert voxel_sizes([None, 0.325]) == ([1, 1], "")


def test_dacapo_and_provenance_carry_time(tmp_path):
    mask = frames_10_13()
    (out,) = export_masks("dacapo", [mask], tmp_path).outputs[mask]
    root = zarr.open(str(out), mode="r")
    assert root.attrs["time_increment_s"] == pytest.approx(nd2_time_increment(), rel=1e-9)
    assert root.attrs["first_frame"] == FIRST
    record = json.loads(out.with_name(out.name + ".provenance.json").read_text())
    assert record["time_increment_s"] == pytest.approx(nd2_time_increment(), rel=1e-9)
    assert record["first_frame"] == FIRST
    assert record["pixel_size_um"] == {"x": 0.325, "y": 0.325, "z": None}


def test_outline_index_has_input_frames_and_times(tmp_path):
    mask = frames_10_13()
    export_masks("outlines", [mask], tmp_path)
    meta = pd.read_csv(tmp_path / "outlines_metadata.csv")
    assert list(meta.columns) == ["outline", "mask", "position", "position_name", "frame", "time_s", "plate",
                                  "well", "site"]
    assert list(meta["frame"]) == list(range(FIRST, LAST + 1))
    np.testing.assert_allclose(meta["time_s"], meta["frame"] * nd2_time_increment(), rtol=1e-9)


def test_logless_mask_of_later_frames_needs_start_frame(tmp_path):
    """Without a log a frame-count mismatch is an error naming --start-frame; with it, the right frames."""
    bare, labels = logless_copy(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InputError, match="bare_masks.tif.*4 frame.*53.*--start-frame"):
        export_masks("cellpose", [bare], out, ExportOptions(image=ND2))
    assert list(out.iterdir()) == []
    result = export_masks("cellpose", [bare], out, ExportOptions(image=ND2, start_frame=FIRST))
    import nd2

    movie = nd2.imread(ND2)
    for t in range(FIRST, LAST + 1):
        image = tifffile.imread(out / f"bare_masks_t{t:04d}.tif")
        np.testing.assert_array_equal(image, movie[t].astype(np.float32))
    assert len(result.outputs[bare]) == 8
