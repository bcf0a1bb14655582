"""3D segmentation (``z_mode`` 3d / stitch): identity with Cellpose's own ``do_3D``, TZYX masks, bad inputs.

The volume is a crop of a real Z stack (arcadia-microscopy-tools' ``example-zstack.nd2``, committed in
examples/more_data: 11 slices, Z step 6 µm, pixel 0.323 µm), segmented with the project's own Cellpose 3
model (Cellpose 3 applies its 2D network along the three axes of a volume).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile

from napari_batchseg._columns import INTENSITY_STATS
from napari_batchseg.api import segment_files
from napari_batchseg.errors import InputError
from napari_batchseg.io.masks import read_mask
from napari_batchseg.io.reader import open_source
from napari_batchseg.params import ParameterError, SegmentationParams

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "examples" / "models" / "batchseg_nuclei_cp3"
ZSTACK = ROOT / "examples" / "more_data" / "arcadia_cells_fitc_zstack.nd2"
#: the crop: slices 3-7, 40 x 40 pixels holding several cells (fast on a 2-core CPU)
Z0, Z1, Y0, X0, SIDE = 3, 8, 36, 40, 40
#: the given diameter (the model's own mean diameter: no rescaling, fewer network tiles)
DIAMETER = 30.0


def write_crop(path: Path, n_t: int = 1, pixel: bool = True) -> Path:
    """An OME-TIFF ``TZYX`` crop of the real Z stack (frame t is the crop rolled by t pixels)."""
    with open_source(ZSTACK) as src:
        ps = src.info.pixel_size
        stack = src.read_zstack(0, 0, 0, None)
    crop = stack[Z0:Z1, Y0:Y0 + SIDE, X0:X0 + SIDE]
    data = np.stack([np.roll(crop, t, axis=-1) for t in range(n_t)])
    meta: dict[str, object] = {"axes": "TZYX"}
    if pixel:
        meta.update(PhysicalSizeX=ps.x, PhysicalSizeY=ps.y, PhysicalSizeZ=ps.z)
    tifffile.imwrite(path, data, ome=True, metadata=meta)
    return path


def _params(tmp: Path, **kw: object) -> SegmentationParams:
    base: dict[str, object] = {"model": str(MODEL), "output_dir": str(tmp / "out"), "z_mode": "3d",
                               "anisotropy": 1.5, "diameter": DIAMETER}
    base.update(kw)
    return SegmentationParams(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def run_3d(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, SegmentationParams]:
    """One 3d run of a two-frame crop through the public API (shared by the tests below)."""
    tmp = tmp_path_factory.mktemp("run3d")
    image = write_crop(tmp / "cells.ome.tif", n_t=2)
    params = _params(tmp)
    batch = segment_files([image], params)
    report = batch.reports[0]
    assert report.status == "done", report.reason
    assert report.mask is not None
    return image, report.mask, params


# ------------------------------------------------------------------ identity
@pytest.mark.cp3
def test_3d_masks_equal_cellpose_do_3d(run_3d: tuple[Path, Path, SegmentationParams]) -> None:
    from cellpose import models

    from napari_batchseg.prepare_3d import prepare_volume

    image, mask_path, params = run_3d
    mask = read_mask(mask_path)
    assert mask.labels.shape == (2, Z1 - Z0, SIDE, SIDE)
    model = models.CellposeModel(gpu=False, pretrained_model=str(MODEL))
    with open_source(image) as src:
        for t in range(2):
            volume = prepare_volume(src, 0, t, 0, list(range(Z1 - Z0)), 1.5).image
            expected, _flows, _styles = model.eval(
                volume, channels=[0, 0], z_axis=0, do_3D=True, anisotropy=1.5, batch_size=8,
                diameter=DIAMETER, flow_threshold=0.4, cellprob_threshold=0.0, niter=None,
            )
            assert expected.max() >= 2  # several real cells, not an empty volume
            np.testing.assert_array_equal(mask.labels[t], expected)


@pytest.mark.cp3
def test_3d_mask_metadata_and_log(run_3d: tuple[Path, Path, SegmentationParams]) -> None:
    image, mask_path, _params_ = run_3d
    with tifffile.TiffFile(mask_path) as tf:
        assert tf.series[0].axes == "TZYX"
        xml = tf.ome_metadata or ""
    assert 'DimensionOrder="XYZCT"' in xml and 'SizeZ="5"' in xml and 'SizeT="2"' in xml
    mask = read_mask(mask_path)
    assert mask.is_volume
    assert mask.pixel_size.z == pytest.approx(6.0)
    assert mask.pixel_size.x == pytest.approx(0.32339, rel=1e-4)
    assert "z mode 3d (Cellpose do_3D) over 5 slice(s) 0-4; anisotropy 1.5 (given)" in mask.log_text
    with open_source(mask_path) as src:  # the readers take the mask back as a T Z Y X stack
        assert (src.info.sizes["T"], src.info.sizes["Z"]) == (2, 5)
    from napari_batchseg.provenance import parse_log

    logged = parse_log(mask.log_text).params  # what rerun reproduces
    assert (logged.z_mode, logged.anisotropy, logged.diameter) == ("3d", 1.5, DIAMETER)


@pytest.mark.cp3
def test_stitch_equals_cellpose_stitching(tmp_path: Path, capfd) -> None:
    from cellpose import models

    from napari_batchseg.prepare_3d import prepare_volume

    image = write_crop(tmp_path / "one.ome.tif")
    capfd.readouterr()
    batch = segment_files([image], _params(tmp_path, z_mode="stitch", anisotropy=None, stitch_threshold=0.3))
    assert "it/s" not in capfd.readouterr().err  # a walk: Cellpose's tqdm bar of stitch3D on stderr
    report = batch.reports[0]
    assert report.status == "done", report.reason
    assert report.mask is not None
    labels = read_mask(report.mask).labels
    with open_source(image) as src:
        volume = prepare_volume(src, 0, 0, 0, list(range(Z1 - Z0)), None).image
    model = models.CellposeModel(gpu=False, pretrained_model=str(MODEL))
    expected, _f, _s = model.eval(volume, channels=[0, 0], z_axis=0, stitch_threshold=0.3, batch_size=8,
                                  diameter=DIAMETER)
    assert expected.shape == volume.shape and expected.max() >= 1
    np.testing.assert_array_equal(labels[0], expected)


# ------------------------------------------------------------------ anisotropy
def test_anisotropy_from_file_and_default(tmp_path: Path) -> None:
    from napari_batchseg._volume_run import plan_volume

    with open_source(write_crop(tmp_path / "a.ome.tif")) as src:
        run = plan_volume(src.info, SegmentationParams(z_mode="3d"), 0)
    assert run is not None
    assert run.anisotropy == pytest.approx(6.0 / 0.323390342594048)
    assert "from the file: Z step 6 µm / XY pixel size 0.32339 µm" in run.note
    with open_source(write_crop(tmp_path / "b.ome.tif", pixel=False)) as src:
        run = plan_volume(src.info, SegmentationParams(z_mode="3d"), 0)
    assert run is not None and run.anisotropy == 1.0 and "give --anisotropy" in run.note
    with open_source(write_crop(tmp_path / "c.ome.tif")) as src:
        run = plan_volume(src.info, SegmentationParams(z_mode="3d", anisotropy=3, z_range="1-4"), 0)
    assert run is not None and run.anisotropy == 3.0 and run.shape_zyx == (4, SIDE, SIDE)


# ------------------------------------------------------------------ bad inputs
@pytest.mark.parametrize(("options", "message"), [
    ({"anisotropy": 0}, "anisotropy must be a finite number > 0"),
    ({"anisotropy": -1.5}, "anisotropy must be a finite number > 0"),
    ({"anisotropy": float("nan")}, "anisotropy must be a finite number > 0"),
    ({"stitch_threshold": 1.01}, "stitch_threshold must be between 0 and 1"),
    ({"stitch_threshold": -0.1}, "stitch_threshold must be between 0 and 1"),
    ({"stitch_threshold": float("nan")}, "stitch_threshold must be between 0 and 1"),
    ({"z_mode": "volume"}, "z_mode 'volume' unknown"),
    ({"z_mode": "3d", "z_range": "best:1"}, "is for z_mode 'project'"),
])
def test_bad_parameters_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        SegmentationParams(**options)  # type: ignore[arg-type]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "napari_batchseg.cli", "segment", *args],
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize(("option", "value"), [("--anisotropy", "0"), ("--anisotropy", "nan"),
                                                ("--stitch-threshold", "2")])
def test_cli_bad_values_one_line_nothing_written(tmp_path: Path, option: str, value: str) -> None:
    image = write_crop(tmp_path / "s.ome.tif")
    out = tmp_path / "out"
    proc = _cli(str(image), "--model", str(MODEL), "--z-mode", "3d", option, value, "--output-dir", str(out))
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]  # after segment's usage
    assert len(errors) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert option.lstrip("-").replace("-", "_") in errors[0]
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.cp3
def test_3d_on_a_file_without_z_fails_that_file_only(tmp_path: Path) -> None:
    flat = tmp_path / "flat.tif"
    tifffile.imwrite(flat, np.zeros((48, 48), np.uint16))
    image = write_crop(tmp_path / "stack.ome.tif")
    batch = segment_files([flat, image], _params(tmp_path, z_mode="stitch", anisotropy=None))
    by_name = {r.input.name: r for r in batch.reports}
    assert by_name["flat.tif"].status == "failed"
    assert "flat.tif: --z-mode stitch needs a Z stack; the file has 1 Z slice" in by_name["flat.tif"].reason
    assert by_name["stack.ome.tif"].status == "done"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "stack_vSM.log", "stack_vSM.ome.tif"]


def test_a_file_without_z_is_marked_before_any_work(tmp_path: Path) -> None:
    """The plan (CLI, API, --dry-run) and the widget's file list say it, as for a missing channel."""
    from napari_batchseg import engine
    from napari_batchseg.runnable import Reason, check_file

    flat = tmp_path / "flat.tif"
    tifffile.imwrite(flat, np.zeros((48, 48), np.uint16))
    params = SegmentationParams(z_mode="3d", anisotropy=2.0)
    problem = check_file(flat, params)
    assert problem is not None and problem.reason is Reason.VOLUME
    assert problem.brief == "--z-mode 3d needs a Z stack; the file has 1 Z slice (use --z-mode project)"
    assert check_file(flat, SegmentationParams()) is None
    (task,) = engine.plan([flat], params).tasks
    assert task.error is not None and "flat.tif: --z-mode 3d needs a Z stack" in task.error


def test_microsam_refuses_stitch_before_loading() -> None:
    """micro-sam's 3d is its own (tests/test_microsam_3d.py); Cellpose's stitching is refused, 3d offered."""
    from napari_batchseg.segmenters.microsam.segmenter import MicroSamSegmenter

    with pytest.raises(ParameterError, match="z_mode 'stitch': micro-sam offers 3d only .*use --z-mode 3d"):
        MicroSamSegmenter.from_params(SegmentationParams(method="sam", z_mode="stitch"))


@pytest.mark.cp3
def test_results_reopen_a_volume_mask(run_3d: tuple[Path, Path, SegmentationParams]) -> None:
    from napari_batchseg.engine import plan
    from napari_batchseg.results import load_result

    image, mask_path, params = run_3d
    task = plan([image], params).tasks[0]
    result = load_result(task, mask_path, params, "done")
    assert result.labels is not None and result.labels.shape == (2, Z1 - Z0, SIDE, SIDE)
    assert result.scale[1:] == pytest.approx((6.0, 0.32339, 0.32339), rel=1e-4)
    assert not result.note and result.image is not None
    assert getattr(result.image, "shape", None) == result.labels.shape
    with open_source(image) as src:
        np.testing.assert_array_equal(np.asarray(result.image[1, 2]), src.read_plane(0, 1, 0, 2))


def test_measure_volume_mask_gives_um3_and_3d_centroids(tmp_path: Path) -> None:
    from napari_batchseg.io.masks import write_mask
    from napari_batchseg.io.sources import PixelSize
    from napari_batchseg.measure import measure_file, measure_table

    labels = np.zeros((2, 5, 20, 30), np.uint16)
    labels[0, 1:4, 2:6, 10:15] = 3  # 3 x 4 x 5 = 60 voxels
    labels[1, 0:2, 0:3, 0:3] = 7  # 18 voxels at the border
    path = write_mask(tmp_path / "v_vSM.ome.tif", labels, PixelSize(0.5, 0.5, 2.0, 10.0), volume=True)
    table = measure_table(path)
    assert list(table["label"]) == [3, 7] and list(table["frame"]) == [0, 1]
    assert list(table["volume_vox"]) == [60, 18]
    assert table["volume_um3"].tolist() == pytest.approx([60 * 0.5, 18 * 0.5])
    first = table.iloc[0]
    assert (first.centroid_z_px, first.centroid_y_px, first.centroid_x_px) == pytest.approx((2, 3.5, 12))
    assert (first.centroid_z_um, first.centroid_y_um, first.centroid_x_um) == pytest.approx((4, 1.75, 6))
    assert list(table["touches_border"]) == [False, True]
    result = measure_file(path)
    assert (result.n_frames, result.n_objects) == (2, 2)
    summary = result.summary_csv.read_text().splitlines()
    # the mask's time step (10 s) gives time_s, as in 2D (walk: volumes never had it)
    assert summary[0] == "file,position,position_name,frame,time_s,n_objects,volume_um3_mean,volume_um3_sum"
    assert summary[1].endswith(",0,0.0,1,30.0,30.0") and summary[2].endswith(",1,10.0,1,9.0,9.0")
    assert table["time_s"].tolist() == [0.0, 10.0]


@pytest.mark.cp3
def test_measure_3d_run_with_intensities(run_3d: tuple[Path, Path, SegmentationParams]) -> None:
    from napari_batchseg.measure import measure_table

    image, mask_path, _p = run_3d
    table = measure_table(mask_path)
    labels = read_mask(mask_path).labels
    assert len(table) == sum(len(np.unique(v)) - 1 for v in labels)
    row = table.iloc[0]
    with open_source(image) as src:
        volume = src.read_zstack(0, int(row.frame), 0, None).astype(np.float64)
    inside = labels[int(row.frame)] == int(row.label)
    assert row.mean_intensity == pytest.approx(volume[inside].mean())
    assert row.sum_intensity == pytest.approx(volume[inside].sum())
    # a start frame other than the log's, without the image: refused (it renumbered the volumes and took
    # other input volumes' intensities); with the image given, it says where the mask's frames are
    with pytest.raises(InputError, match="log says its first frame is input frame 0, not --start-frame 1"):
        measure_table(mask_path, start_frame=1)
    assert sorted(set(measure_table(mask_path, image=image, start_frame=0)["frame"])) == [0, 1]


def test_measure_volume_takes_the_image_channels_and_z_range_given(tmp_path: Path, capsys) -> None:
    """Walk: on volume masks ``measure`` ignored ``--image``, ``--channel``, ``--image-channel``,
    ``--z-range`` and ``--start-frame`` (a moved input could not be measured at all), and counted the
    top and bottom slices as the border. Intensities here are computed from the arrays themselves."""
    from napari_batchseg.cli import main
    from napari_batchseg.io.masks import write_mask
    from napari_batchseg.io.sources import PixelSize
    from napari_batchseg.measure import measure_table

    rng = np.random.default_rng(3)
    image = rng.integers(0, 1000, (3, 6, 2, 16, 20)).astype(np.uint16)  # T, Z, C, Y, X
    tifffile.imwrite(tmp_path / "img.ome.tif", image, ome=True, metadata={"axes": "TZCYX"})
    labels = np.zeros((2, 3, 16, 20), np.uint16)  # input frames 1-2, slices 2-4
    labels[:, 1, 5:9, 6:10] = 4  # inside
    labels[:, 0, 10:12, 12:15] = 8  # on the first slice of the volume only: not cut by the field of view
    mask = write_mask(tmp_path / "m_vSM.ome.tif", labels, PixelSize(0.5, 0.5, 2.0), volume=True)
    with pytest.raises(InputError, match="no input image to measure channel"):
        measure_table(mask, channels=[1])
    table = measure_table(mask, channels=[0], image=tmp_path / "img.ome.tif", image_channel=1,
                          z_range="2-4", start_frame=1)
    assert list(table["frame"]) == [1, 1, 2, 2]
    for row in table.itertuples():
        inside = labels[row.frame - 1] == row.label
        seen = image[row.frame, 2:5, 1].astype(np.float64)[inside]
        assert row.mean_intensity == pytest.approx(seen.mean()) and row.max_intensity == seen.max()
        assert row.mean_intensity_0 == pytest.approx(image[row.frame, 2:5, 0][inside].mean())
    assert list(table["touches_border"]) == [False] * 4
    assert list(table["touches_z_border"]) == [False, True, False, True]
    # Z in input slices, as frame is an input frame (the ROIs and layers of the mask sit there too)
    for row in table.itertuples():
        slices = 2 + np.nonzero((labels[row.frame - 1] == row.label).any(axis=(1, 2)))[0]
        assert (row.bbox_min_z, row.bbox_max_z) == (slices.min(), slices.max() + 1)
        assert row.centroid_z_px == pytest.approx(slices.mean())
        assert row.centroid_z_um == pytest.approx(row.centroid_z_px * 2.0)
    from napari_batchseg.measure_3d import VOLUME_COLUMNS  # the documented order (time_s, extras beside)
    assert [c for c in table.columns if c in VOLUME_COLUMNS] == list(VOLUME_COLUMNS)
    assert list(table.columns[len(VOLUME_COLUMNS):]) == [f"{s}_intensity_0" for s in INTENSITY_STATS]
    assert main(["measure", str(mask), "--image", str(tmp_path / "img.ome.tif"), "--image-channel", "1",
                 "--z-range", "2-4", "--start-frame", "1", "--channel", "0"]) == 0
    written = pd.read_csv(tmp_path / "m_vSM_objects.csv")
    assert written["mean_intensity_0"].tolist() == pytest.approx(table["mean_intensity_0"].tolist())
    capsys.readouterr()


def test_a_volume_mask_of_a_z_range_opens_over_its_slices(tmp_path: Path) -> None:
    """Walk: a mask of ``--z-range 2-4`` opened with the plugin's reader sat over slices 0-2 of its input
    (T was placed at its first frame, Z was not)."""
    from napari_batchseg.io.masks import write_mask
    from napari_batchseg.io.sources import PixelSize
    from napari_batchseg.provenance import RunLog, log_parameters
    from napari_batchseg.view.layer_files import napari_get_reader

    log = RunLog()
    log.info(f"input: {tmp_path / 'cells.nd2'}")
    log_parameters(log, SegmentationParams(z_mode="stitch", z_range="2-4", start_frame=1))
    log.info("frames: 1-2 (2 of 3)")
    labels = np.zeros((2, 3, 8, 8), np.uint16)
    labels[:, 1, 2:4, 2:4] = 1
    mask = write_mask(tmp_path / "cells_vSM.ome.tif", labels, PixelSize(0.5, 0.5, 2.0, 60.0), log.text(),
                      volume=True)
    [(data, kwargs, kind)] = napari_get_reader(str(mask))(str(mask))
    assert kind == "labels" and np.shape(data) == (2, 3, 8, 8)
    assert kwargs["scale"] == pytest.approx((60.0, 2.0, 0.5, 0.5))
    assert kwargs["translate"] == pytest.approx((60.0, 4.0, 0.0, 0.0))  # frame 1, slice 2
    # the dock reopens it at the same place (its streamed layers too: tests/_napari/test_volume_run.py)
    from napari_batchseg.events import Task
    from napari_batchseg.io.naming import output_names
    from napari_batchseg.results import load_result

    task = Task(tmp_path / "cells.nd2", 0, 1, output_names(tmp_path / "cells.nd2"))
    result = load_result(task, mask, None, "done")
    assert (result.first_frame, result.first_z) == (1, 2)


def test_a_tiny_volume_mask_goes_through_export_evaluate_and_training_reading(tmp_path: Path) -> None:
    """Volume masks were refused downstream; now each reader takes them (in depth: tests/test_export_3d.py,
    tests/test_volume_masks.py)."""
    from napari_batchseg.evaluate import evaluate_files
    from napari_batchseg.export import export_masks
    from napari_batchseg.io.masks import write_mask

    labels = np.zeros((1, 3, 16, 16), np.uint16)
    labels[0, 1, 4:8, 4:8] = 1
    path = write_mask(tmp_path / "v_vSM.ome.tif", labels, volume=True)
    export_masks("outlines", [path], tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").rglob("*.png")) == [
        f"v_vSM_t0000_z{z:04d}.png" for z in range(3)]
    table = evaluate_files([(path, path)])  # a volume against itself, scored in 3D
    assert (table.iloc[0].n_true, table.iloc[0].ap_50) == (1, 1.0)


def test_ome_zarr_export_of_a_volume_mask_has_a_z_axis(tmp_path: Path) -> None:
    import zarr

    from napari_batchseg.export import ExportOptions, export_masks
    from napari_batchseg.io.masks import write_mask
    from napari_batchseg.io.sources import PixelSize

    labels = np.zeros((2, 3, 16, 20), np.uint16)
    labels[0, 1, 4:8, 4:8] = 5
    labels[1, 0:2, 10:12, 1:3] = 9
    path = write_mask(tmp_path / "v_vSM.ome.tif", labels, PixelSize(0.5, 0.5, 2.0, 30.0), volume=True)
    result = export_masks("ome-zarr", [path], tmp_path / "out")
    target = tmp_path / "out" / "v_vSM.ome.zarr"
    assert result.outputs[path] == [target]
    group = zarr.open_group(str(target / "labels" / "masks"), mode="r")
    np.testing.assert_array_equal(group["0"][:], labels)
    (scales,) = group.attrs["multiscales"]
    assert [a["name"] for a in scales["axes"]] == ["t", "z", "y", "x"]
    assert scales["datasets"][0]["coordinateTransformations"][0]["scale"] == [30.0, 2.0, 0.5, 0.5]
    assert [c["label-value"] for c in group.attrs["image-label"]["colors"]] == [5, 9]
    with pytest.raises(Exception, match="outputs exist"):  # nothing replaced without overwrite
        export_masks("ome-zarr", [path], tmp_path / "out")
    export_masks("ome-zarr", [path], tmp_path / "out", ExportOptions(overwrite=True))


@pytest.mark.cp3
def test_ome_zarr_export_of_a_3d_run_holds_its_input(run_3d: tuple[Path, Path, SegmentationParams],
                                                      tmp_path: Path) -> None:
    import zarr

    from napari_batchseg.export import export_masks

    image, mask_path, _p = run_3d
    export_masks("ome-zarr", [mask_path], tmp_path)
    root = zarr.open_group(str(tmp_path / "cells_vSM.ome.zarr"), mode="r")
    with open_source(image) as src:
        np.testing.assert_array_equal(root["0"][1], src.read_zstack(0, 1, 0, None).astype(np.float32))
    np.testing.assert_array_equal(root["labels/masks/0"][:], read_mask(mask_path).labels)


def test_volume_tables_name_the_position_of_a_multi_position_input(tmp_path: Path) -> None:
    """``position_name`` follows ``position`` in both tables of a volume mask: the log's name, else the
    input's own name of that position, else empty (no log). The input holds two real crops of the Z stack
    as series named as wells."""
    from napari_batchseg.export import export_masks
    from napari_batchseg.io.masks import write_mask
    from napari_batchseg.io.sources import PixelSize
    from napari_batchseg.measure import measure_file, measure_table
    from napari_batchseg.measure_3d import VOLUME_COLUMNS, VOLUME_SUMMARY_COLUMNS
    from napari_batchseg.provenance import RunLog, log_parameters

    crop = tifffile.imread(write_crop(tmp_path / "crop.ome.tif"))
    plate = tmp_path / "plate.ome.tif"
    with tifffile.TiffWriter(plate, ome=True) as tw:
        for well, volume in (("B02", crop), ("C05", np.flip(crop, -1))):
            tw.write(volume, metadata={"axes": "ZYX", "Name": well})
    volume = np.flip(crop, -1)
    labels = (volume > volume.mean() + volume.std()).astype(np.uint16)[None]  # (T, Z, Y, X)

    def mask(name: str, record: str | None, labels: np.ndarray = labels) -> Path:
        log = RunLog()
        if record is not None:
            log.info(f"input: {plate}")
            log.info(record)
            log_parameters(log, SegmentationParams(z_mode="stitch"))
        return write_mask(tmp_path / name, labels, PixelSize(0.5, 0.5, 2.0), log.text() if record else "",
                          volume=True)

    named = mask("named_vSM.ome.tif", "position: 1 of 2 (C05)")
    result = measure_file(named, output_dir=tmp_path / "out")
    objects, summary = pd.read_csv(result.objects_csv), pd.read_csv(result.summary_csv)
    assert tuple(objects.columns) == VOLUME_COLUMNS and tuple(summary.columns) == VOLUME_SUMMARY_COLUMNS
    assert list(objects.columns[:4]) == list(summary.columns[:4]) == ["file", "position", "position_name",
                                                                      "frame"]
    assert len(objects) and set(objects["position"]) == {1} and set(objects["position_name"]) == {"C05"}
    assert list(summary["position_name"]) == ["C05"]
    unnamed = mask("unnamed_vSM.ome.tif", "position: 1 of 2 ()")  # the log names none: the input's name
    assert set(measure_table(unnamed)["position_name"]) == {"C05"}
    for volume_mask in (named, unnamed):  # an export with the image names it too (it gave only the index)
        (out,) = export_masks("ome-zarr", [volume_mask], tmp_path / volume_mask.stem).outputs[volume_mask]
        preparation = json.loads(out.with_name(out.name + ".provenance.json").read_text())["preparation"]
        assert (preparation["position"], preparation["position_name"]) == (1, "C05")
    logless = mask("bare_vSM.ome.tif", None)
    assert measure_table(logless)["position_name"].isna().all()
    assert measure_table(logless, image=plate)["position_name"].isna().all()  # position not known
    result = measure_file(logless, output_dir=tmp_path / "out")
    assert result.summary_csv.read_text().splitlines()[1].split(",")[2] == ""
    # a volume with no object still names its position in the summary (it said position 0)
    empty = mask("empty_vSM.ome.tif", "position: 1 of 2 (C05)", np.zeros_like(labels))
    summary = pd.read_csv(measure_file(empty, output_dir=tmp_path / "out").summary_csv)
    assert summary[["position", "position_name", "n_objects"]].values.tolist() == [[1, "C05", 0]]
