"""``batchseg measure / export / evaluate`` end to end on real data; exit codes 0 / 1 / 2."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tifffile

from _downstream import DSB_GT, DSB_IMAGE, MODEL, ND2, segmented
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
    assert "FAILED" in capsys.readouterr().out
    assert (out / "arcadia_ecoli_gfp_timelapse_vSM_objects.csv").read_bytes() == before
    assert main(["measure", str(mask), "--output-dir", str(out), "--overwrite"]) == 0


def test_measure_without_log_needs_image(tmp_path, capsys):
    assert main(["measure", str(DSB_GT), "--output-dir", str(tmp_path)]) == 1
    assert "dsb2018_nuclei_masks.tif" in capsys.readouterr().out
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
    assert "dsb2018_nuclei_masks.tif" in capsys.readouterr().out
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
