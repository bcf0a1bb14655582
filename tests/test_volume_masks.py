"""Volume masks (``TZYX``, ``--z-mode 3d``) downstream: the run's log, its rerun, evaluation in 3D, training.

The mask is a real one: the project's Cellpose 3 model run in 3D on a crop of the real Z stack of
tests/test_3d.py (two time points). Expected scores are computed here from the objects themselves
(which ones were dropped or merged, their voxel counts), not copied from a run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile

from napari_batchseg.api import segment_files
from napari_batchseg.errors import InputError
from napari_batchseg.evaluate import THRESHOLDS, evaluate_files, evaluate_paths
from napari_batchseg.io.masks import read_mask, write_mask
from napari_batchseg.io.reader import open_source
from napari_batchseg.params import SegmentationParams
from test_3d import DIAMETER, MODEL, write_crop

pytestmark = pytest.mark.cp3

ANISOTROPY = 1.5


@pytest.fixture(scope="module")
def run_3d(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One ``z_mode`` 3d run (anisotropy given) of a two-frame crop of the real Z stack."""
    tmp = tmp_path_factory.mktemp("volmasks")
    image = write_crop(tmp / "cells.ome.tif", n_t=2)
    params = SegmentationParams(model=str(MODEL), output_dir=str(tmp / "out"), z_mode="3d",
                                anisotropy=ANISOTROPY, diameter=DIAMETER)
    report = segment_files([image], params).reports[0]
    assert report.status == "done", report.reason
    assert report.mask is not None
    labels = read_mask(report.mask).labels
    counts = [len(np.unique(v)) - 1 for v in labels]
    assert min(counts) >= 2, counts  # real objects to drop and to merge
    return {"tmp": tmp, "image": image, "mask": report.mask, "labels": labels}


# ------------------------------------------------------------------ the run's log and its rerun
def test_log_of_a_3d_run_says_what_happens_to_z(run_3d: dict[str, Any]) -> None:
    log = read_mask(run_3d["mask"]).log_text
    z_line = next(line for line in log.splitlines() if "| z: " in line)
    assert "projection" in z_line and "no projection: z mode 3d (Cellpose do_3D)" in z_line
    assert f"anisotropy {ANISOTROPY:g} (given)" in z_line
    assert "projection mean" not in log


def test_z_line_per_mode(tmp_path: Path) -> None:
    from napari_batchseg._engine_log import z_treatment

    image = write_crop(tmp_path / "crop.ome.tif")
    with open_source(image) as src:
        info = src.info
    ps = info.pixel_size
    from_file = z_treatment(info, SegmentationParams(z_mode="3d"))
    assert f"anisotropy {float(ps.z) / float(ps.x):.4g} (from the file" in from_file  # type: ignore[arg-type]
    stitch = z_treatment(info, SegmentationParams(z_mode="stitch", stitch_threshold=0.3))
    assert stitch == "no projection: z mode stitch (2D per slice, stitch threshold 0.3)"
    assert "micro-sam" in z_treatment(info, SegmentationParams(z_mode="3d", method="sam"))
    assert z_treatment(info, SegmentationParams(z_projection="max")) == "projection max"


def test_rerun_of_a_3d_log_gives_identical_masks(run_3d: dict[str, Any], tmp_path: Path) -> None:
    from napari_batchseg.cli import main

    log = Path(run_3d["mask"]).with_name(Path(run_3d["mask"]).name.replace(".ome.tif", ".log"))
    assert log.is_file()
    assert main(["rerun", str(log), "--output-dir", str(tmp_path)]) == 0
    again = read_mask(tmp_path / Path(run_3d["mask"]).name)
    assert again.is_volume
    np.testing.assert_array_equal(again.labels, run_3d["labels"])
    assert f"anisotropy {ANISOTROPY:g} (given)" in again.log_text


# ------------------------------------------------------------------ evaluation in 3D
def _expected(pred: np.ndarray, dropped: int | None, merged: tuple[int, int] | None) -> dict[float, int]:
    """True positives per threshold, from what was changed: other objects match themselves (IoU 1)."""
    ids = [int(i) for i in np.unique(pred) if i]
    tps = {}
    for th in THRESHOLDS:
        tp = len(ids) - (1 if dropped is not None else 0) - (2 if merged is not None else 0)
        if merged is not None:
            a, b = (int((pred == i).sum()) for i in merged)
            tp += int(max(a, b) / (a + b) >= th)  # the larger part against the merged object
        tps[float(th)] = tp
    return tps


def test_volume_prediction_scored_in_3d_against_changed_ground_truth(run_3d: dict[str, Any]) -> None:
    from cellpose import metrics
    from skimage.segmentation import relabel_sequential

    pred = run_3d["labels"]
    sizes0 = {int(i): int((pred[0] == i).sum()) for i in np.unique(pred[0]) if i}
    sizes1 = {int(i): int((pred[1] == i).sum()) for i in np.unique(pred[1]) if i}
    dropped = max(sizes0, key=lambda i: sizes0[i])
    a, b = sorted(sizes1, key=lambda i: -sizes1[i])[:2]
    gt = pred.copy()
    gt[0][gt[0] == dropped] = 0
    gt[1][gt[1] == b] = a
    gt_path = write_mask(run_3d["tmp"] / "cells_gt.ome.tif", gt, volume=True)  # no log: checked as labels
    table = evaluate_files([(run_3d["mask"], gt_path)])
    assert list(table["frame"]) == [0, 1, "all"]
    per_frame = [_expected(pred[0], dropped, None), _expected(pred[1], None, (a, b))]
    n_pred = [len(sizes0), len(sizes1)]
    n_true = [n_pred[0] - 1, n_pred[1] - 1]
    for t in range(2):
        row = table.iloc[t]
        tp50, tp75 = per_frame[t][0.5], per_frame[t][0.75]
        assert (row.n_true, row.n_pred, row.tp_50, row.tp_75) == (n_true[t], n_pred[t], tp50, tp75)
        assert row.fp_50 == n_pred[t] - tp50 and row.fn_50 == n_true[t] - tp50
        assert row.ap_50 == pytest.approx(tp50 / (n_pred[t] + n_true[t] - tp50))
        assert row.precision_50 == pytest.approx(tp50 / n_pred[t])
        assert row.recall_50 == pytest.approx(tp50 / n_true[t])
        aps = [tp / (n_pred[t] + n_true[t] - tp) for tp in per_frame[t].values()]
        assert row.ap_50_95 == pytest.approx(np.mean(aps))
        # Cellpose's own average precision on the same 3D arrays agrees (it counts ids up to the largest)
        seq = [relabel_sequential(x)[0] for x in (gt[t], pred[t])]
        ap_cp = metrics.average_precision([seq[0]], [seq[1]], threshold=[0.5, 0.75])[0][0]
        assert (row.ap_50, row.ap_75) == pytest.approx(tuple(ap_cp))
    assert (table.iloc[0].splits, table.iloc[1].splits) == (0, 1)  # the merged truth holds two predictions
    overall = table.iloc[2]
    tp50 = per_frame[0][0.5] + per_frame[1][0.5]
    assert (overall.n_true, overall.n_pred, overall.tp_50) == (sum(n_true), sum(n_pred), tp50)
    assert overall.f1_50 == pytest.approx(2 * tp50 / (2 * tp50 + sum(n_pred) - tp50 + sum(n_true) - tp50))


def test_volume_ground_truth_as_a_plain_zyx_tiff_with_axes(run_3d: dict[str, Any], tmp_path: Path) -> None:
    pred = run_3d["labels"]
    plain = tmp_path / "one_volume.tif"
    tifffile.imwrite(plain, pred[0])  # a plain multi-page TIFF: its axes are ambiguous without --gt-axes
    one = write_mask(tmp_path / "one_vSM.ome.tif", pred[:1], volume=True)
    table = evaluate_paths(one, plain, gt_axes="ZYX")
    n = len(np.unique(pred[0])) - 1
    assert (table.iloc[0].n_true, table.iloc[0].tp_75, table.iloc[0].ap_50_95) == (n, n, 1.0)


def test_2d_against_volume_is_refused_naming_both(run_3d: dict[str, Any], tmp_path: Path) -> None:
    from napari_batchseg.cli import main

    flat = write_mask(tmp_path / "flat.ome.tif", run_3d["labels"][:, 2])
    with pytest.raises(InputError) as info:
        evaluate_files([(run_3d["mask"], flat)])
    message = str(info.value)
    assert "\n" not in message and str(run_3d["mask"]) in message and str(flat) in message
    assert "a volume mask (TZYX)" in message and "a 2D mask (TYX)" in message
    with pytest.raises(InputError, match=r"a 2D mask \(TYX\) but its ground truth .* is a volume mask"):
        evaluate_files([(flat, run_3d["mask"])])
    out = tmp_path / "scores.csv"
    assert main(["evaluate", str(flat), str(run_3d["mask"]), "--output", str(out)]) == 1
    assert not out.exists()


def test_volumes_of_different_depth_are_refused(run_3d: dict[str, Any], tmp_path: Path) -> None:
    shallow = write_mask(tmp_path / "shallow.ome.tif", run_3d["labels"][:, :3], volume=True)
    with pytest.raises(InputError, match=r"volumes of 5x40x40 \(ZxYxX\) voxels but ground truth .* 3x40x40"):
        evaluate_files([(run_3d["mask"], shallow)])


# ------------------------------------------------------------------ training from XY slices
def test_volume_mask_gives_one_training_pair_per_xy_slice(run_3d: dict[str, Any]) -> None:
    from napari_batchseg.prepare_3d import prepare_volume
    from napari_batchseg.training.sources import frames_from_vsm

    labels = run_3d["labels"]
    data = frames_from_vsm(run_3d["mask"], min_masks=2)
    assert data.frames, "slices holding both objects are expected"
    counts = {(t, z): len(np.unique(labels[t, z])) - 1 for t in range(2) for z in range(labels.shape[1])}
    assert sorted((f.index, f.z) for f in data.frames) == sorted(k for k, n in counts.items() if n >= 2)
    assert sorted((s.index, s.z) for s in data.skipped) == sorted(k for k, n in counts.items() if n < 2)
    assert all(s.reason.startswith(f"z {s.z}: ") for s in data.skipped)
    with open_source(run_3d["image"]) as src:
        for frame in data.frames:
            assert frame.z is not None
            volume = prepare_volume(src, 0, frame.index, 0, list(range(labels.shape[1])), None).image
            np.testing.assert_array_equal(frame.image, volume[frame.z])
            assert frame.n_masks == counts[(frame.index, frame.z)]
            assert frame.preparation["slice_axes"] == "yx" and frame.preparation["z_mode"] == "3d"


@pytest.mark.slow
def test_training_on_a_volume_mask_saves_a_model_that_loads(run_3d: dict[str, Any], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from cellpose import models

    from napari_batchseg.training import TrainingParams, train_model

    monkeypatch.setenv("BATCHSEG_CONFIG_DIR", str(tmp_path / "config"))
    labels = run_3d["labels"]
    n_pairs = sum(len(np.unique(labels[t, z])) > 1 for t in range(2) for z in range(labels.shape[1]))
    params = TrainingParams(base_model=str(MODEL), epochs=2, batch_size=2, images_per_epoch=2, crop_size=32,
                            validation_fraction=0.3, min_masks=1, seed=0)
    result = train_model([run_3d["mask"]], tmp_path / "from_volume", params, remember=False)
    record = json.loads(result.provenance_path.read_text())
    assert record == result.provenance
    frames = record["train_frames"] + record["validation_frames"]
    assert len(frames) == n_pairs
    assert all(f["preparation"]["slice_axes"] == "yx" and f["z"] == f["preparation"]["z"] for f in frames)
    assert len(result.train_losses) == 2
    with open_source(run_3d["image"]) as src:
        plane = src.read_zstack(0, 0, 0, [2])[0].astype(np.float32)
    model = models.CellposeModel(gpu=False, pretrained_model=str(result.model_path))
    masks = model.eval(plane, channels=[0, 0], diameter=DIAMETER)[0]
    assert masks.shape == labels.shape[2:]
