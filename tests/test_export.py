"""Every export reopened by the library its downstream tool uses: PIL/tifffile, roifile, zarr, ome-zarr."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import roifile
import tifffile
import zarr
from PIL import Image
from skimage.draw import polygon as fill_polygon

from _downstream import DSB_GT, DSB_IMAGE, ND2, segmented
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
    assert list(meta.columns) == ["outline", "mask", "frame", "plate", "well", "site"]
    assert (tmp_path / meta.loc[0, "outline"]).resolve() == png.resolve()
    assert (meta.loc[0, "plate"], meta.loc[0, "well"], meta.loc[0, "site"]) == ("dsb2018", "nuclei", "masks")
    assert (tmp_path / "dsb2018_nuclei_masks_outlines.provenance.json").exists()


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
    np.testing.assert_array_equal(np.asarray(image.data[0])[:, 0], movie)
    labels = read_mask(mask).labels
    np.testing.assert_array_equal(np.asarray(label.data[0])[:, 0], labels)
    scale = image.metadata["coordinateTransformations"][0][0]["scale"]
    assert scale[-2:] == [0.325, 0.325]
    props = label.metadata["properties"]
    last = labels[2]
    for value, p in props.items():  # the reader keeps one entry per label value (the last frame's)
        assert p["area_px"] == int((last == value).sum())
    if version == "0.4":
        attrs = json.loads((out / "labels" / "masks" / ".zattrs").read_text())
        assert attrs["image-label"]["version"] == "0.4"
    else:
        meta = json.loads((out / "labels" / "masks" / "zarr.json").read_text())
        assert meta["zarr_format"] == 3
        attrs = meta["attributes"]["ome"]
        assert attrs["version"] == "0.5"
        arr = json.loads((out / "0" / "zarr.json").read_text())
        assert arr["dimension_names"] == ["t", "c", "y", "x"]
    assert attrs["image-label"]["source"] == {"image": "../../"}
    assert {c["label-value"] for c in attrs["image-label"]["colors"]} == set(np.unique(labels)) - {0}


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
    tifffile.imwrite(float_mask, GT.astype(np.float32))
    opts = ExportOptions(image=DSB_IMAGE)
    with pytest.raises(InputError, match="float_mask.tif"):  # a good mask first: still nothing written
        export_masks(kind, [DSB_GT, float_mask], out, opts)
    assert list(out.iterdir()) == []
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
