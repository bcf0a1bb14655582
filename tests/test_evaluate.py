"""Evaluation against ground truth equals cellpose.metrics on the same real arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tifffile
from cellpose import metrics
from scipy import ndimage as ndi
from skimage.segmentation import relabel_sequential

from _downstream import DSB_GT, DSB_IMAGE, eval_folders, segmented
from napari_batchseg.errors import InputError, OutputError
from napari_batchseg.evaluate import (
    EVAL_COLUMNS,
    FAILED_ATTR,
    MISSING_ATTR,
    THRESHOLDS,
    evaluate_frame,
    evaluate_paths,
)
from napari_batchseg.io.masks import read_mask


@pytest.fixture(scope="module")
def arrays():
    pred = read_mask(segmented("dsb")).labels[0]
    gt = tifffile.imread(DSB_GT)
    return pred, gt


def test_equals_cellpose_average_precision(arrays):
    pred, gt = arrays
    # Cellpose counts objects as the largest id, so it needs consecutive ids: give it those
    gt_seq = relabel_sequential(gt)[0]
    ap, tp, fp, fn = metrics.average_precision([gt_seq], [pred], threshold=list(THRESHOLDS))
    ours = evaluate_frame(pred, gt)  # ours counts the objects present, whatever their ids
    assert ours["n_true"] == len(np.unique(gt)) - 1
    assert ours["ap_50"] == pytest.approx(ap[0, 0], rel=1e-6)
    assert ours["ap_75"] == pytest.approx(ap[0, 5], rel=1e-6)
    assert ours["ap_50_95"] == pytest.approx(ap[0].mean(), rel=1e-6)
    assert [ours["tp_t"][float(t)] for t in THRESHOLDS] == tp[0].astype(int).tolist()
    assert (ours["tp_50"], ours["fp_50"], ours["fn_50"]) == (tp[0, 0], fp[0, 0], fn[0, 0])
    assert (ours["tp_75"], ours["fp_75"], ours["fn_75"]) == (tp[0, 5], fp[0, 5], fn[0, 5])
    tp50, fp50, fn50 = tp[0, 0], fp[0, 0], fn[0, 0]
    assert ours["precision_50"] == pytest.approx(tp50 / (tp50 + fp50))
    assert ours["recall_50"] == pytest.approx(tp50 / (tp50 + fn50))
    assert ours["f1_50"] == pytest.approx(2 * tp50 / (2 * tp50 + fp50 + fn50))


def test_perfect_prediction(arrays):
    _, gt = arrays
    m = evaluate_frame(gt, gt)
    assert m["ap_50_95"] == 1.0 and m["fp_50"] == 0 and m["fn_50"] == 0
    assert m["merges"] == 0 and m["splits"] == 0


def _touching_pair(gt):
    """Two ground-truth objects that touch (8-connectivity), found in the real annotation."""
    for lab in np.unique(gt)[1:]:
        grown = ndi.binary_dilation(gt == lab, structure=np.ones((3, 3)))
        others = set(np.unique(gt[grown])) - {0, lab}
        if others:
            return int(lab), int(min(others))
    pytest.skip("no touching objects in the annotation")


def test_merges_and_splits(arrays):
    _, gt = arrays
    a, b = _touching_pair(gt)
    merged = gt.copy()
    merged[merged == b] = a  # prediction merging two true objects
    m = evaluate_frame(merged, gt)
    assert m["merges"] == 1 and m["splits"] == 0
    assert m["fn_50"] >= 1
    # the other way round: the true object a+b is split into a and b by the prediction
    s = evaluate_frame(gt, merged)
    assert s["splits"] == 1 and s["merges"] == 0


def test_folders_matched_by_name_and_csv(tmp_path, arrays):
    pred_mask = segmented("dsb")
    pred_dir, gt_dir = tmp_path / "pred", tmp_path / "gt"
    pred_dir.mkdir()
    gt_dir.mkdir()
    (pred_dir / pred_mask.name).write_bytes(pred_mask.read_bytes())
    (gt_dir / DSB_GT.name).write_bytes(DSB_GT.read_bytes())
    out = tmp_path / "eval.csv"
    table = evaluate_paths(pred_dir, gt_dir, out)
    back = pd.read_csv(out)
    assert tuple(back.columns) == EVAL_COLUMNS
    assert list(back["frame"].astype(str)) == ["0", "all"]
    assert back.loc[1, "pred"] == "overall"
    frame = evaluate_frame(*arrays)
    assert back.loc[0, "ap_50"] == pytest.approx(frame["ap_50"])
    assert back.loc[1, "tp_50"] == frame["tp_50"]  # one frame: overall equals it
    assert table.shape[0] == 2
    with pytest.raises(OutputError, match="eval.csv"):
        evaluate_paths(pred_dir, gt_dir, out)


def test_a_prediction_folder_of_inputs_beside_their_masks_scores_the_masks(tmp_path, arrays):
    """A walk: masks are written beside their inputs by default; evaluating that folder scored the input
    image as a prediction (refused: "looks like an intensity image") and, after `batchseg track`, the
    tracked copy too (every object counted twice in the overall row)."""
    pred_mask = segmented("dsb")
    pred_dir, gt_dir = eval_folders(tmp_path)
    (pred_dir / DSB_IMAGE.name).write_bytes(DSB_IMAGE.read_bytes())  # the input beside its mask
    tracked = pred_dir / pred_mask.name.replace(".ome.tif", "-tracked.ome.tif")
    tracked.write_bytes(pred_mask.read_bytes())
    table = evaluate_paths(pred_dir, gt_dir)
    assert list(table["pred"]) == [pred_mask.name, "overall"] and not table.attrs[FAILED_ATTR]
    assert table.loc[1, "tp_50"] == evaluate_frame(*arrays)["tp_50"]
    other = tmp_path / "other"  # another tool's masks (no _vSM mask there): each TIFF is a prediction
    other.mkdir()
    (other / "dsb2018_nuclei_cp_masks.tif").write_bytes(DSB_GT.read_bytes())
    assert list(evaluate_paths(other, gt_dir)["pred"]) == ["dsb2018_nuclei_cp_masks.tif", "overall"]


def test_mismatched_shapes(tmp_path):
    with pytest.raises(InputError, match="arcadia.*dsb2018_nuclei_masks.tif"):
        evaluate_paths(segmented("nd2"), DSB_GT, tmp_path / "e.csv")
    assert not (tmp_path / "e.csv").exists()


def test_unmatched_prediction(tmp_path):
    pred_dir, gt_dir = tmp_path / "pred", tmp_path / "gt"
    pred_dir.mkdir()
    gt_dir.mkdir()
    (pred_dir / "other_vSM.ome.tif").write_bytes(segmented("nd2").read_bytes())
    (gt_dir / DSB_GT.name).write_bytes(DSB_GT.read_bytes())
    with pytest.raises(InputError, match="nothing could be evaluated.*other_vSM.ome.tif"):
        evaluate_paths(pred_dir, gt_dir)


def test_folder_scores_the_predictions_that_have_ground_truth(tmp_path, arrays):
    pred_dir, gt_dir = eval_folders(tmp_path, {"other_vSM.ome.tif": segmented("nd2")})  # no truth for it
    dsb = segmented("dsb")
    out = tmp_path / "eval.csv"
    table = evaluate_paths(pred_dir, gt_dir, out)
    assert list(table["pred"]) == [dsb.name, "overall"]
    assert table.loc[0, "ap_50"] == pytest.approx(evaluate_frame(*arrays)["ap_50"])
    assert table.attrs[MISSING_ATTR] == [str(pred_dir / "other_vSM.ome.tif")]
    assert table.attrs[FAILED_ATTR] == {}
    assert list(pd.read_csv(out)["pred"]) == [dsb.name, "overall"]


def test_folder_pair_that_cannot_be_compared_does_not_stop_the_others(tmp_path, arrays):
    # a 512x512 annotation for a movie of 64x64 frames
    pred_dir, gt_dir = eval_folders(tmp_path, {"movie_vSM.ome.tif": segmented("nd2")},
                                    {"movie_masks.tif": DSB_GT})
    dsb = segmented("dsb")
    table = evaluate_paths(pred_dir, gt_dir)
    assert list(table["pred"]) == [dsb.name, "overall"]
    (failed,) = table.attrs[FAILED_ATTR].items()
    assert failed[0].endswith("movie_vSM.ome.tif") and "movie_masks.tif" in failed[1]


def test_prediction_of_a_frame_range_against_the_whole_movie(tmp_path):
    from napari_batchseg.io.masks import write_mask

    movie = read_mask(segmented("nd2")).labels  # input frames 0-2
    gt_path = tmp_path / "movie_gt.tif"
    write_mask(gt_path, movie)  # ground truth of the whole movie (no log)
    part = segmented("nd2", 1, 2)  # its log says: input frames 1-2
    pred = read_mask(part).labels
    assert not np.array_equal(pred[0], movie[0])  # lining up frames 0-1 instead would be wrong
    table = evaluate_paths(part, gt_path)
    frames = table[table["frame"] != "all"]
    assert list(frames["frame"]) == [1, 2]  # input frames
    for i, row in enumerate(frames.itertuples()):
        expected = evaluate_frame(pred[i], movie[1 + i])
        assert (row.tp_50, row.fp_50, row.fn_50) == (expected["tp_50"], expected["fp_50"], expected["fn_50"])
    assert list(frames["ap_50_95"]) == [1.0, 1.0]  # the same model on the same input frames
    # without a log that says where the frames start, a shorter prediction cannot be lined up
    plain = tmp_path / "part_vSM.ome.tif"
    write_mask(plain, pred)
    with pytest.raises(InputError, match="2 frame\\(s\\) but ground truth .*movie_gt.tif has 3"):
        evaluate_paths(plain, gt_path)


def test_plain_multipage_ground_truth_needs_axes(tmp_path):
    movie = read_mask(segmented("nd2")).labels
    gt_path = tmp_path / "man_seg.tif"  # Cell Tracking Challenge style: pages, no axes metadata
    with tifffile.TiffWriter(gt_path) as tw:
        for frame in movie:
            tw.write(frame, metadata=None)
    with pytest.raises(InputError, match="man_seg.tif: ambiguous axes.*--axes TYX"):
        evaluate_paths(segmented("nd2"), gt_path)
    table = evaluate_paths(segmented("nd2"), gt_path, gt_axes="TYX")
    assert list(table["ap_50_95"]) == [1.0] * 4
    table = evaluate_paths(segmented("nd2"), gt_path, axes="TYX")  # --axes also applies to the truth
    assert len(table) == 4


def test_intensity_image_is_not_ground_truth(tmp_path, arrays):
    dsb = segmented("dsb")
    with pytest.raises(InputError) as exc:
        evaluate_paths(dsb, DSB_IMAGE)
    message = str(exc.value)
    assert "dsb2018_nuclei.tif: looks like an intensity image" in message and "--force-labels" in message
    assert "\n" not in message
    forced = evaluate_paths(dsb, DSB_IMAGE, force_labels=True)  # the user insists: scored as labels
    assert forced.loc[0, "n_true"] == len(np.unique(tifffile.imread(DSB_IMAGE))) - 1


def test_float_masks_with_whole_numbers_are_labels(tmp_path, arrays):
    pred, gt = arrays
    as_float = tmp_path / "gt_float.tif"
    tifffile.imwrite(as_float, gt.astype(np.float32))
    table = evaluate_paths(segmented("dsb"), as_float)
    expected = evaluate_frame(pred, gt)
    assert table.loc[0, "ap_50_95"] == pytest.approx(expected["ap_50_95"])
    assert table.loc[0, "n_true"] == expected["n_true"]
    fractional = gt.astype(np.float32)
    fractional[gt == gt.max()] += 0.5
    tifffile.imwrite(tmp_path / "gt_half.tif", fractional)
    with pytest.raises(InputError, match="gt_half.tif: not a label mask: .*not whole numbers"):
        evaluate_paths(segmented("dsb"), tmp_path / "gt_half.tif")


def test_movie_per_frame_and_overall(tmp_path):
    from napari_batchseg.io.masks import write_mask

    pred = segmented("nd2")
    labels = read_mask(pred).labels
    gt = labels.copy()
    gt[1][gt[1] == gt[1].max()] = 0  # the ground truth lacks frame 1's largest id: a false positive there
    gt_path = tmp_path / "movie_gt.tif"
    write_mask(gt_path, gt)
    table = evaluate_paths(pred, gt_path)
    frames = table[table["frame"] != "all"]
    overall = table.iloc[-1]
    assert len(frames) == 3
    expected = [evaluate_frame(labels[t], gt[t]) for t in range(3)]
    assert list(frames["fp_50"]) == [e["fp_50"] for e in expected]
    assert frames["fp_50"].iloc[1] == 1
    assert overall["tp_50"] == sum(e["tp_50"] for e in expected)
    assert overall["fp_50"] == sum(e["fp_50"] for e in expected)
    tp, fp, fn = overall["tp_50"], overall["fp_50"], overall["fn_50"]
    assert overall["ap_50"] == pytest.approx(tp / (tp + fp + fn))


def test_volume_ground_truth_in_a_plain_tiff_of_few_slices(tmp_path):
    """A plain 4-slice TIFF (tifffile reads its pages as samples of one page) is a volume with --gt-axes
    ZYX; without it the pair is refused in one line that says how to read it as a volume."""
    from napari_batchseg.io.masks import write_mask

    labels = np.zeros((1, 4, 24, 24), np.uint16)
    labels[0, 0:3, 2:10, 2:10] = 1
    labels[0, 1:4, 12:22, 12:22] = 2
    pred = write_mask(tmp_path / "v_vSM.ome.tif", labels, volume=True)
    gt = labels[0].copy()
    gt[0:2][gt[0:2] == 1] = 0  # object 1 keeps 64 of its 192 voxels in the truth: IoU 1/3
    tifffile.imwrite(tmp_path / "v_gt.tif", gt)
    table = evaluate_paths(pred, tmp_path / "v_gt.tif", gt_axes="ZYX")
    row = table.iloc[0]
    assert (row.n_true, row.n_pred, row.tp_50, row.fp_50, row.fn_50) == (2, 2, 1, 1, 1)
    with pytest.raises(InputError, match=r"is a 2D mask \(TYX\): .*--gt-axes ZYX or TZYX\)$"):
        evaluate_paths(pred, tmp_path / "v_gt.tif")
