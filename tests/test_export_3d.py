"""Every export of a volume mask (``TZYX``), read back and checked against the mask.

The mask is a real 3D run: the crop of a real Z stack that tests/test_3d.py segments (5 slices, Z step
6 µm, pixel 0.323 µm, two time points), segmented with the project's own Cellpose 3 model.
"""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import roifile
import tifffile
import zarr
from PIL import Image
from scipy import ndimage as ndi
from skimage.draw import polygon as fill_polygon

from napari_batchseg.api import segment_files
from napari_batchseg.errors import InputError
from napari_batchseg.export import KINDS, ExportOptions, export_masks
from napari_batchseg.io.masks import read_mask, write_mask
from napari_batchseg.io.reader import open_source
from napari_batchseg.io.sources import PixelSize
from napari_batchseg.results import logged_position, logged_position_name
from test_3d import SIDE, Z0, Z1, _params, write_crop

NZ = Z1 - Z0
Z_STEP, PIXEL = 6.0, 0.32339034


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, np.ndarray]:
    """A 3d run of a two-time-point crop through the API: (input, mask, its labels)."""
    tmp = tmp_path_factory.mktemp("export3d")
    image = write_crop(tmp / "cells.ome.tif", n_t=2)
    report = segment_files([image], _params(tmp)).reports[0]
    assert report.status == "done", report.reason
    assert report.mask is not None
    labels = read_mask(report.mask).labels
    assert labels.shape == (2, NZ, SIDE, SIDE)
    assert all(len(np.unique(v)) >= 3 for v in labels)  # several real cells in each volume
    return image, report.mask, labels


def _slices(labels: np.ndarray):
    for t in range(labels.shape[0]):
        for z in range(labels.shape[1]):
            yield t, z, labels[t, z]


def _nothing_but(folder: Path, *names: str) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)


# ------------------------------------------------------------------ outlines
@pytest.mark.cp3
def test_outlines_one_png_per_slice_with_z(run, tmp_path):
    _image, mask, labels = run
    result = export_masks("outlines", [mask], tmp_path)
    files = result.outputs[mask]
    assert len(files) == 2 * NZ
    meta = pd.read_csv(tmp_path / "outlines_metadata.csv")
    assert list(meta.columns) == ["outline", "mask", "position", "position_name", "frame", "z", "z_um",
                                  "plate", "well", "site"]
    logged = read_mask(mask).log_text  # the position and its name the volume mask's log records
    assert (meta["position"] == logged_position(logged)).all()
    assert (meta["position_name"] == logged_position_name(logged)).all()
    for (t, z, lab), row in zip(_slices(labels), meta.itertuples(), strict=True):
        png = tmp_path / row.outline
        assert png.name == f"cells_vSM_t{t:04d}_z{z:04d}.png" and png in files
        assert (row.frame, row.z) == (t, z) and row.z_um == pytest.approx(z * Z_STEP)
        img = np.asarray(Image.open(png))
        assert img.shape == (SIDE, SIDE) and set(np.unique(img)) <= {0, 255}
        assert (lab[img == 255] > 0).all()  # outlines lie on objects of this slice
        for v in np.unique(lab)[1:]:
            assert (img[lab == v] == 255).any()  # every object of the slice is outlined
    assert (tmp_path / "cells_vSM_outlines.provenance.json").is_file()


@pytest.mark.cp3
def test_outlines_of_2d_and_volume_masks_together(run, tmp_path):
    _image, mask, labels = run
    flat = write_mask(tmp_path / "flat_vSM.ome.tif", labels[:, 2], PixelSize(PIXEL, PIXEL))
    out = tmp_path / "out"
    export_masks("outlines", [flat, mask], out)
    meta = pd.read_csv(out / "outlines_metadata.csv")
    assert len(meta) == 2 + 2 * NZ
    assert meta.loc[meta["mask"] == flat.name, "z"].isna().all()  # 2D masks: no Z
    assert list(meta.loc[meta["mask"] == mask.name, "z"]) == list(range(NZ)) * 2


# ------------------------------------------------------------------ rois
@pytest.mark.cp3
def test_rois_per_slice_at_their_hyperstack_position(run, tmp_path):
    _image, mask, labels = run
    (zpath,) = export_masks("rois", [mask], tmp_path).outputs[mask]
    rois = roifile.roiread(zpath)
    rois = rois if isinstance(rois, list) else [rois]
    expected = {(t, z, int(v)) for t, z, lab in _slices(labels) for v in np.unique(lab)[1:]}
    found = set()
    for roi in rois:
        t, z = roi.t_position - 1, roi.z_position - 1  # ImageJ counts from 1
        assert roi.c_position == 1
        lab = int(roi.name.split("-")[2])
        assert roi.name == f"t{t:04d}-z{z:04d}-{lab:05d}"
        found.add((t, z, lab))
        obj = labels[t, z] == lab
        pieces, n = ndi.label(obj)
        largest = pieces == 1 + int(np.argmax(ndi.sum(obj, pieces, range(1, n + 1))))  # one polygon a piece
        xy = roi.coordinates()
        rr, cc = fill_polygon(xy[:, 1] - 0.5, xy[:, 0] - 0.5, (SIDE, SIDE))
        drawn = np.zeros((SIDE, SIDE), bool)
        drawn[rr, cc] = True
        iou = (drawn & largest).sum() / (drawn | largest).sum()
        assert iou > 0.6 if largest.sum() < 10 else iou > 0.9, (roi.name, iou)
    assert found == expected  # one ROI per object per slice, none more


# ------------------------------------------------------------------ semantic
@pytest.mark.cp3
def test_semantic_is_a_calibrated_tzyx_hyperstack(run, tmp_path):
    _image, mask, labels = run
    (out,) = export_masks("semantic", [mask], tmp_path).outputs[mask]
    with tifffile.TiffFile(out) as tf:
        assert tf.series[0].axes == "TZYX"
        np.testing.assert_array_equal(tf.asarray(), (labels > 0).astype(np.uint8) * 255)
        meta = tf.imagej_metadata
        assert meta is not None
        assert (meta["slices"], meta["frames"], meta["hyperstack"]) == (NZ, 2, True)
        assert meta["spacing"] == pytest.approx(Z_STEP) and meta["unit"] == "um"
        x_res = tf.pages[0].tags["XResolution"].value
    assert x_res[1] / x_res[0] == pytest.approx(PIXEL, rel=1e-5)


# ------------------------------------------------------------------ ome-zarr
@pytest.mark.cp3
@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_ome_zarr_has_z_and_its_input(run, tmp_path, version):
    image, mask, labels = run
    (target,) = export_masks("ome-zarr", [mask], tmp_path, ExportOptions(ngff_version=version)).outputs[mask]
    root = zarr.open_group(str(target), mode="r")
    lab = root["labels/masks/0"]
    np.testing.assert_array_equal(lab[:], labels)
    attrs = dict(zarr.open_group(str(target / "labels" / "masks"), mode="r").attrs)
    attrs = attrs.get("ome", attrs)
    (scales,) = attrs["multiscales"]
    assert [a["name"] for a in scales["axes"]] == ["t", "z", "y", "x"]
    scale = scales["datasets"][0]["coordinateTransformations"][0]["scale"]
    assert scale[1:] == pytest.approx([Z_STEP, PIXEL, PIXEL], rel=1e-5)
    with open_source(image) as src:
        np.testing.assert_array_equal(root["0"][0], src.read_zstack(0, 0, 0, None).astype(np.float32))


# ------------------------------------------------------------------ dacapo
@pytest.mark.cp3
def test_dacapo_three_spatial_axes_and_time_split(run, tmp_path):
    image, mask, labels = run
    (target,) = export_masks("dacapo", [mask], tmp_path, ExportOptions(test_fraction=0.5)).outputs[mask]
    root = zarr.open_group(str(target), mode="r")
    with open_source(image) as src:
        volumes = np.stack([src.read_zstack(0, t, 0, None) for t in range(2)]).astype(np.float64)
    lo, hi = volumes.min(), volumes.max()
    np.testing.assert_allclose(root["raw"][:], (volumes - lo) / (hi - lo), atol=1e-6)
    np.testing.assert_array_equal(root["labels"][:], labels)
    assert root["mask"][:].min() == 1 and root["mask"].shape == labels.shape
    for name in ("raw", "labels", "mask"):
        attrs = root[name].attrs
        assert attrs["axis_names"] == ["t^", "z", "y", "x"]
        assert attrs["units"] == ["", "pm", "pm", "pm"]  # 0.32339034 µm is no whole number of nm
        assert attrs["voxel_size"] == [1, 6_000_000, 323390, 323390]
        assert attrs["offset"] == [0, 0, 0, 0]
    assert dict(root.attrs)["pixel_size_um"]["z"] == pytest.approx(Z_STEP)
    np.testing.assert_array_equal(root["train/labels"][:], labels[:1])
    np.testing.assert_array_equal(root["test/labels"][:], labels[1:])
    assert root["test/labels"].attrs["offset"] == [1, 0, 0, 0]


@pytest.mark.cp3
def test_dacapo_of_one_volume_with_its_image_given(run, tmp_path):
    """A log-less single volume with --image: (z, y, x) axes, the test crop is the bottom rows."""
    image, mask, labels = run
    bare = tmp_path / "bare_vSM.ome.tif"
    tifffile.imwrite(bare, labels[1], ome=True, metadata={
        "axes": "ZYX", "PhysicalSizeX": PIXEL, "PhysicalSizeY": PIXEL, "PhysicalSizeZ": Z_STEP})
    opts = ExportOptions(image=image, start_frame=1, test_fraction=0.25)
    (target,) = export_masks("dacapo", [bare], tmp_path / "out", opts).outputs[bare]
    root = zarr.open_group(str(target), mode="r")
    assert root["labels"].attrs["axis_names"] == ["z", "y", "x"]
    np.testing.assert_array_equal(root["labels"][:], labels[1])
    with open_source(image) as src:
        volume = src.read_zstack(0, 1, 0, None).astype(np.float64)
    np.testing.assert_allclose(root["raw"][:], (volume - volume.min()) / np.ptp(volume), atol=1e-6)
    np.testing.assert_array_equal(root["test/labels"][:], labels[1][:, 30:])
    assert root["test/labels"].attrs["offset"] == [0, 30 * 323390, 0]
    assert dict(root.attrs)["first_frame"] == 1


def test_a_log_less_volume_with_its_image_takes_the_channel_and_z_range_given(tmp_path):
    """--image with --image-channel and --z-range: the raw volume is that channel's slices (a review: the
    options were dropped for an image given by hand, giving channel 0, or every slice: refused)."""
    labels = np.zeros((1, 3, 16, 16), np.uint16)
    labels[0, 1, 4:8, 4:8] = 1
    mask = write_mask(tmp_path / "v_vSM.ome.tif", labels, volume=True)  # no log
    data = np.random.default_rng(0).integers(0, 1000, (2, 6, 16, 16)).astype(np.uint16)  # C, Z, Y, X
    tifffile.imwrite(tmp_path / "img.ome.tif", data, ome=True, metadata={"axes": "CZYX"})
    opts = ExportOptions(image=tmp_path / "img.ome.tif", image_channel=1, z_range="2-4")
    (target,) = export_masks("dacapo", [mask], tmp_path / "out", opts).outputs[mask]
    raw = zarr.open_group(str(target), mode="r")["raw"][:]
    volume = data[1, 2:5].astype(np.float64)
    np.testing.assert_allclose(raw, (volume - volume.min()) / np.ptp(volume), atol=1e-6)


# ------------------------------------------------------------------ cellpose
@pytest.mark.cp3
def test_cellpose_pairs_per_slice(run, tmp_path):
    image, mask, labels = run
    files = export_masks("cellpose", [mask], tmp_path).outputs[mask]
    assert len(files) == 2 * 2 * NZ
    with open_source(image) as src:
        for t, z, lab in _slices(labels):
            stem = tmp_path / f"cells_vSM_t{t:04d}_z{z:04d}"
            np.testing.assert_array_equal(tifffile.imread(f"{stem}_masks.tif"), lab)
            img = tifffile.imread(f"{stem}.tif")
            assert img.dtype == np.float32
            np.testing.assert_array_equal(img, src.read_plane(0, t, 0, z).astype(np.float32))


# ------------------------------------------------------------------ ctc
@pytest.mark.cp3
def test_ctc_of_one_volume_and_of_tracked_volumes(run, tmp_path):
    _image, mask, labels = run
    with pytest.raises(InputError, match=r"cells_vSM.ome.tif: a volume mask of 2 time points has no tracks"):
        export_masks("ctc", [mask], tmp_path / "a")
    assert not (tmp_path / "a").exists() or not any((tmp_path / "a").iterdir())
    one = write_mask(tmp_path / "one_vSM.ome.tif", labels[:1], PixelSize(PIXEL, PIXEL, Z_STEP), volume=True)
    (out,) = {f.parent for f in export_masks("ctc", [one], tmp_path / "b").outputs[one]}
    np.testing.assert_array_equal(tifffile.imread(out / "mask000.tif"), labels[0])  # a (Z, Y, X) volume
    ids = [int(v) for v in np.unique(labels[0])[1:]]
    assert (out / "res_track.txt").read_text().splitlines() == [f"{i} 0 0 0" for i in ids]
    # tracks made elsewhere, beside the mask as batchseg track names them: the 3D+t layout
    tracked = write_mask(tmp_path / "cells_vSM-tracked.ome.tif", labels, PixelSize(PIXEL, PIXEL, Z_STEP),
                         volume=True)
    copy = tmp_path / "cells_vSM.ome.tif"
    copy.write_bytes(mask.read_bytes())
    rows = [(int(v), t) for t in range(2) for v in np.unique(labels[t])[1:]]
    pd.DataFrame({"track_id": [r[0] for r in rows], "frame": [r[1] for r in rows], "parent_track_id": 0}
                 ).to_csv(tmp_path / "cells_vSM_tracks.csv", index=False)
    export_masks("ctc", [copy], tmp_path / "c")
    folder = tmp_path / "c" / "cells_vSM_ctc"
    _nothing_but(folder, "mask000.tif", "mask001.tif", "res_track.txt")
    assert tracked.is_file()
    for t in range(2):
        written = tifffile.imread(folder / f"mask{t:03d}.tif")
        assert written.shape == (NZ, SIDE, SIDE)
        for v in np.unique(labels[t])[1:]:  # same objects (a track cut at a gap gets a new label)
            assert len(np.unique(written[labels[t] == v])) == 1
    lines = [tuple(map(int, line.split())) for line in (folder / "res_track.txt").read_text().splitlines()]
    for label, first, last, _parent in lines:
        present = [t for t in range(2) if (tifffile.imread(folder / f"mask{t:03d}.tif") == label).any()]
        assert present == list(range(first, last + 1))


# ------------------------------------------------------------------ every kind, bad inputs, CLI
@pytest.mark.cp3
def test_every_kind_takes_a_volume_mask(run, tmp_path):
    _image, mask, labels = run
    one = write_mask(tmp_path / "one_vSM.ome.tif", labels[:1], PixelSize(PIXEL, PIXEL, Z_STEP), volume=True)
    for kind in KINDS:
        source = one if kind == "ctc" else mask  # CTC without tracks: one time point
        result = export_masks(kind, [source], tmp_path / kind)
        assert result.outputs[source], kind
        assert not [p for p in (tmp_path / kind).iterdir() if ".partial-" in p.name]


def test_volume_mask_without_its_input_writes_nothing(tmp_path):
    labels = np.zeros((1, 3, 16, 16), np.uint16)
    labels[0, 1, 4:8, 4:8] = 1
    path = write_mask(tmp_path / "v_vSM.ome.tif", labels, volume=True)
    out = tmp_path / "out"
    for kind in ("dacapo", "cellpose"):
        with pytest.raises(InputError, match=r"v_vSM.ome.tif: its log is missing.*--image"):
            export_masks(kind, [path], out)
    wrong = tmp_path / "wrong.ome.tif"
    tifffile.imwrite(wrong, np.zeros((4, 16, 16), np.uint16), ome=True, metadata={"axes": "ZYX"})
    with pytest.raises(InputError, match=r"v_vSM.ome.tif: mask volumes are \(3, 16, 16\).*\(4, 16, 16\)"):
        export_masks("dacapo", [path], out, ExportOptions(image=wrong))
    assert not out.exists() or not any(out.iterdir())


def test_one_volume_in_memory_at_a_time(tmp_path):
    """Peak traced memory of each export stays near one volume, far below the whole mask (10 volumes)."""
    rng = np.random.default_rng(0)
    small = rng.integers(0, 12, (10, 4, 12, 12)).astype(np.uint16)
    labels = np.kron(small, np.ones((1, 1, 16, 16), np.uint16))  # 10 x 4 x 192 x 192 blocky objects
    path = write_mask(tmp_path / "big_vSM.ome.tif", labels, PixelSize(0.5, 0.5, 2.0), volume=True)
    volume = labels[0].nbytes  # 288 KiB; the mask is 10 times that
    del labels, small
    for kind in ("outlines", "rois", "semantic", "ome-zarr"):
        export_masks(kind, [path], tmp_path / f"{kind}-first")  # imports are not the export's memory
        tracemalloc.start()
        export_masks(kind, [path], tmp_path / kind)
        _now, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < 5 * volume, (kind, peak / volume)  # measured 2.9-4.2 volumes


@pytest.mark.cp3
def test_cli_exports_rois_of_a_volume_mask(run, tmp_path):
    _image, mask, labels = run
    proc = subprocess.run([sys.executable, "-m", "napari_batchseg.cli", "export", "rois", str(mask),
                           "--output-dir", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rois = roifile.roiread(tmp_path / "cells_vSM_rois.zip")
    rois = rois if isinstance(rois, list) else [rois]
    assert {r.z_position - 1 for r in rois} == {z for _t, z, lab in _slices(labels) if lab.any()}
    assert len(rois) == sum(len(np.unique(lab)) - 1 for _t, _z, lab in _slices(labels))


def test_axes_tyx_reads_a_z_stack_of_frames_as_a_movie(tmp_path):
    """An ImageJ stack saved as Z slices is a volume unless ``--axes TYX`` says its pages are frames."""
    labels = np.zeros((3, 16, 16), np.uint16)
    labels[:, 4:8, 4:8] = 1
    labels[1, 10:14, 2:6] = 2
    path = tmp_path / "gt.tif"
    tifffile.imwrite(path, labels, imagej=True, metadata={"axes": "ZYX"})
    as_volume = export_masks("outlines", [path], tmp_path / "a").outputs[path]
    assert [f.name for f in as_volume] == [f"gt_t0000_z{z:04d}.png" for z in range(3)]
    as_movie = export_masks("outlines", [path], tmp_path / "b", ExportOptions(axes="TYX")).outputs[path]
    assert [f.name for f in as_movie] == [f"gt_t{t:04d}.png" for t in range(3)]
    for f, lab in zip(as_movie, labels, strict=True):
        img = np.asarray(Image.open(f))
        assert (lab[img == 255] > 0).all() and all((img[lab == v] == 255).any() for v in np.unique(lab)[1:])
