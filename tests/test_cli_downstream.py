"""``batchseg measure / export / evaluate`` end to end on real data; exit codes 0 / 1 / 2."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tifffile

from _downstream import DSB_GT, DSB_IMAGE, MODEL, ND2, eval_folders, segmented
from napari_batchseg.cli import main


def test_measure_folder_of_masks(tmp_path, capsys):
    mask = segmented("nd2")
    out = tmp_path / "tables"
    assert main(["measure", str(mask.parent), "--output-dir", str(out), "--channel", "0"]) == 0
    table = pd.read_csv(out / "arcadia_ecoli_gfp_timelapse_vSM_objects.csv")
    assert sorted(table["frame"].unique()) == [0, 1, 2]
    np.testing.assert_allclose(table["mean_intensity_0"], table["mean_intensity"])
    assert (out / "arcadia_ecoli_gfp_timelapse_vSM_summary.csv").exists()
    # again: the tables exist -> that file fails (1) and is left as it was
    before = (out / "arcadia_ecoli_gfp_timelapse_vSM_objects.csv").read_bytes()
    assert main(["measure", str(mask), "--output-dir", str(out)]) == 1
    failed = capsys.readouterr().err  # one line on stderr, naming the file once (a user walk: twice)
    assert failed.startswith("failed: ") and failed.count(mask.name) == 1 and len(failed.splitlines()) == 1
    assert (out / "arcadia_ecoli_gfp_timelapse_vSM_objects.csv").read_bytes() == before
    assert main(["measure", str(mask), "--output-dir", str(out), "--overwrite"]) == 0


def test_measure_without_log_needs_image(tmp_path, capsys):
    assert main(["measure", str(DSB_GT), "--output-dir", str(tmp_path)]) == 1
    assert "dsb2018_nuclei_masks.tif" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    assert main(["measure", str(DSB_GT), "--output-dir", str(tmp_path), "--image", str(DSB_IMAGE)]) == 0


def test_export_each_kind(tmp_path):
    mask = segmented("nd2")
    for kind in ("outlines", "rois", "semantic", "ome-zarr", "dacapo", "cellpose"):
        assert main(["export", kind, str(mask), "--output-dir", str(tmp_path / kind),
                     "--test-fraction", "0.3"]) == 0, kind
    assert (tmp_path / "rois" / "arcadia_ecoli_gfp_timelapse_vSM_rois.zip").exists()
    sem = tifffile.imread(tmp_path / "semantic" / "arcadia_ecoli_gfp_timelapse_vSM_semantic.tif")
    assert sem.shape == (3, 64, 64)
    assert (tmp_path / "cellpose" / "arcadia_ecoli_gfp_timelapse_vSM_t0002_masks.tif").exists()


def test_export_usage_and_file_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["export", "tiff", str(DSB_GT), "--output-dir", str(tmp_path)])
    assert exc.value.code == 2  # unknown kind: usage error
    assert main(["export", "outlines", str(DSB_GT), "--output-dir", str(tmp_path),
                 "--pattern", "(?P<plate>["]) == 2  # bad regex: usage error
    assert main(["export", "outlines", str(DSB_GT), "--output-dir", str(tmp_path),
                 "--pattern", r"(?P<plate>P\d+)"]) == 1
    assert "dsb2018_nuclei_masks.tif" in capsys.readouterr().err  # failures: stderr
    assert list(tmp_path.iterdir()) == []


def test_evaluate(tmp_path, capsys):
    out = tmp_path / "eval.csv"
    assert main(["evaluate", str(segmented("dsb")), str(DSB_GT), "--output", str(out)]) == 0
    table = pd.read_csv(out)
    assert table.iloc[-1]["pred"] == "overall"
    assert 0.0 < table.iloc[-1]["ap_50"] <= 1.0
    assert "overall" in capsys.readouterr().out
    assert main(["evaluate", str(ND2), str(DSB_GT)]) == 1  # 53 frames against 1: that pair fails


def test_segment_with_measure(tmp_path):
    from napari_batchseg.measure import measure_table

    out = tmp_path / "seg"
    args = ["segment", str(ND2), "--model", str(MODEL), "--start-frame", "0", "--end-frame", "1",
            "--output-dir", str(out), "--quiet", "--measure"]
    assert main(args) == 0
    mask = out / "arcadia_ecoli_gfp_timelapse_vSM.ome.tif"
    table = pd.read_csv(out / "arcadia_ecoli_gfp_timelapse_vSM_objects.csv")
    pd.testing.assert_frame_equal(table, measure_table(mask), check_dtype=False)
    summary = pd.read_csv(out / "arcadia_ecoli_gfp_timelapse_vSM_summary.csv")
    assert list(summary["frame"]) == [0, 1]
    # a second run skips the existing mask: nothing new to measure, the tables stay as they are
    stamp = (out / "arcadia_ecoli_gfp_timelapse_vSM_objects.csv").stat().st_mtime_ns
    assert main(args) == 0
    assert (out / "arcadia_ecoli_gfp_timelapse_vSM_objects.csv").stat().st_mtime_ns == stamp


def _plain_pages(path, stack):
    """A plain multi-page TIFF (Cell Tracking Challenge style): one page per frame, no axes metadata."""
    with tifffile.TiffWriter(path) as tw:
        for frame in stack:
            tw.write(frame, metadata=None)
    return path


def test_intensity_image_as_mask_is_refused_by_every_command(tmp_path, capsys):
    for argv in (["measure", str(DSB_IMAGE), "--image", str(DSB_IMAGE), "--output-dir", str(tmp_path / "m")],
                 ["export", "rois", str(DSB_IMAGE), "--output-dir", str(tmp_path / "e")],
                 ["evaluate", str(segmented("dsb")), str(DSB_IMAGE)],
                 ["evaluate", str(DSB_IMAGE), str(DSB_GT)]):
        assert main(argv) == 1, argv
        captured = capsys.readouterr()
        lines = [ln for ln in (captured.out + captured.err).splitlines() if "looks like an intensity" in ln]
        assert len(lines) == 1 and "dsb2018_nuclei.tif" in lines[0] and "--force-labels" in lines[0], argv
    assert not (tmp_path / "m").exists() or list((tmp_path / "m").iterdir()) == []
    assert not (tmp_path / "e").exists() or list((tmp_path / "e").iterdir()) == []
    # the real annotation is accepted; the user may insist on the intensity image
    assert main(["measure", str(DSB_GT), "--image", str(DSB_IMAGE),
                 "--output-dir", str(tmp_path / "gt")]) == 0
    assert main(["measure", str(DSB_IMAGE), "--image", str(DSB_IMAGE), "--output-dir", str(tmp_path / "m"),
                 "--force-labels"]) == 0
    assert (tmp_path / "m" / "dsb2018_nuclei_objects.csv").exists()


def test_plain_multipage_masks_with_axes(tmp_path, capsys):
    from napari_batchseg.io.masks import read_mask
    from napari_batchseg.io.reader import open_source
    from napari_batchseg.measure import measure_table

    vsm = segmented("nd2")
    labels = read_mask(vsm).labels
    with open_source(ND2) as src:
        frames = np.stack([src.read_plane(0, t, 0, 0) for t in range(labels.shape[0])])
    image = _plain_pages(tmp_path / "movie.tif", frames)
    mask = _plain_pages(tmp_path / "movie_masks.tif", labels)
    out = tmp_path / "tables"
    # without --axes: one line that names an option this command has
    assert main(["measure", str(mask), "--image", str(image), "--output-dir", str(out)]) == 1
    text = capsys.readouterr().err
    assert "movie_masks.tif: ambiguous axes" in text and "--axes TYX" in text
    assert main(["measure", str(mask), "--image", str(image), "--output-dir", str(out), "--axes", "TYX"]) == 0
    ours = pd.read_csv(out / "movie_masks_objects.csv")
    logged = measure_table(vsm)  # the same labels and pixels, read through the mask's log
    for col in ("frame", "label", "area_px", "mean_intensity", "max_intensity"):
        np.testing.assert_allclose(ours[col], logged[col], err_msg=col)
    assert main(["export", "rois", str(mask), "--output-dir", str(tmp_path / "rois")]) == 1
    assert "--axes TYX" in capsys.readouterr().err
    assert main(["export", "rois", str(mask), "--output-dir", str(tmp_path / "rois"), "--axes", "TYX"]) == 0
    assert (tmp_path / "rois" / "movie_masks_rois.zip").exists()
    assert main(["evaluate", str(vsm), str(mask)]) == 1
    assert main(["evaluate", str(vsm), str(mask), "--gt-axes", "TYX"]) == 0
    assert "overall" in capsys.readouterr().out


def test_float_mask_with_whole_numbers_measures_like_integers(tmp_path):
    gt = tifffile.imread(DSB_GT)
    as_float = tmp_path / "dsb_float_masks.tif"
    tifffile.imwrite(as_float, gt.astype(np.float32))
    for mask, folder in ((DSB_GT, "int"), (as_float, "float")):
        assert main(["measure", str(mask), "--image", str(DSB_IMAGE), "--output-dir",
                     str(tmp_path / folder)]) == 0
    a = pd.read_csv(tmp_path / "int" / "dsb2018_nuclei_masks_objects.csv").drop(columns="file")
    b = pd.read_csv(tmp_path / "float" / "dsb_float_masks_objects.csv").drop(columns="file")
    pd.testing.assert_frame_equal(a, b)
    assert main(["export", "rois", str(as_float), "--output-dir", str(tmp_path / "rois")]) == 0


def test_errors_name_the_flag(tmp_path, capsys):
    out = tmp_path / "eval.csv"
    out.write_text("old")
    assert main(["evaluate", str(segmented("dsb")), str(DSB_GT), "--output", str(out)]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert out.read_text() == "old"
    args = ["measure", str(DSB_GT), "--image", str(DSB_IMAGE), "--output-dir", str(tmp_path)]
    assert main(args) == 0
    assert main(args) == 1
    assert "pass --overwrite" in capsys.readouterr().err


def test_evaluate_folder_scores_the_rest_and_lists_the_missing(tmp_path, capsys):
    pred_dir, gt_dir = eval_folders(tmp_path, {"lonely_vSM.ome.tif": segmented("nd2")})
    dsb = segmented("dsb")
    out = tmp_path / "eval.csv"
    assert main(["evaluate", str(pred_dir), str(gt_dir), "--output", str(out)]) == 1
    captured = capsys.readouterr()
    assert "dsb2018_nuclei_vSM.ome.tif" in captured.out and "overall" in captured.out
    missing = [ln for ln in captured.err.splitlines() if "lonely_vSM.ome.tif" in ln]
    assert len(missing) == 1 and "no ground truth" in missing[0]
    assert list(pd.read_csv(out)["pred"]) == [dsb.name, "overall"]


def test_measure_refuses_masks_of_one_name_sharing_an_output_folder(tmp_path, capsys):
    """Two folders' ``m.tif`` with one ``--output-dir``: the second is refused, not written over the first.

    A review: both were measured, the second's tables replaced the first's, and the run said all went well.
    """
    image = tmp_path / "image.tif"
    tifffile.imwrite(image, np.arange(3 * 16 * 16, dtype=np.uint16).reshape(3, 16, 16),
                     metadata={"axes": "TYX"})
    for folder, n in (("a", 1), ("b", 2)):
        labels = np.zeros((3, 16, 16), np.uint16)
        for i in range(n):
            labels[:, 2 + 6 * i:6 + 6 * i, 2:6] = i + 1
        (tmp_path / folder).mkdir()
        tifffile.imwrite(tmp_path / folder / "m.tif", labels, metadata={"axes": "TYX"})
    a, b, out = tmp_path / "a" / "m.tif", tmp_path / "b" / "m.tif", tmp_path / "out"
    args = ["--image", str(image), "--axes", "TYX", "--force-labels", "--output-dir", str(out), "--overwrite"]
    assert main(["measure", str(a), str(b), str(a), *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"failed (nothing written): {b}: its tables would replace those of {a}"), err
    assert len(err.splitlines()) == 1  # a given twice: measured once, no line
    assert len(pd.read_csv(out / "m_objects.csv")) == 3  # a's one object in 3 frames
