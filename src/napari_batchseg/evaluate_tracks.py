"""Tracking scores against Cell Tracking Challenge ground truth, computed by ``traccuracy``.

:func:`evaluate_tracks` compares a prediction -- a mask tracked by ``batchseg track`` (its
``-tracked.ome.tif`` and ``_tracks.csv``), or a CTC result folder (``mask###.tif`` + ``*_track.txt``)
-- with a CTC ground-truth folder (``man_track###.tif`` + ``man_track.txt``, or any CTC folder), and
returns one row: TRA, DET, LNK (CTC metrics), division precision / recall / F1 and the error counts.
Frames are matched by position (the CTC convention: frame files in order).
"""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from ._labels import open_mask_stack
from .errors import InputError, OutputError, describe
from .export.ctc import tracked_files, write_ctc_folder
from .io.atomic import atomic_path

__all__ = ["TRACK_SCORE_COLUMNS", "evaluate_tracks"]

#: Columns of the table :func:`evaluate_tracks` returns, in order.
TRACK_SCORE_COLUMNS: tuple[str, ...] = (
    "pred", "gt", "TRA", "DET", "LNK", "division_precision", "division_recall", "division_f1",
    "gt_divisions", "pred_divisions", "fp_nodes", "fn_nodes", "ns_nodes", "fp_edges", "fn_edges",
    "ws_edges", "traccuracy",
)


def _ctc_folder(path: Path, scratch: Path, name: str) -> tuple[Path, Path]:
    """``(folder, track file)`` in CTC layout for ``path`` (a CTC folder, or a tracked mask)."""
    if not path.exists():  # (a mistyped path was told to run batchseg track first)
        raise InputError(f"{'ground truth' if name == 'gt' else 'prediction'} {path}: no such file or folder")
    if path.is_dir():
        found = sorted(path.glob("*_track.txt"))
        if len(found) != 1:
            raise InputError(f"{path}: not a CTC folder: expected one *_track.txt, found {len(found)}")
        return path, found[0]
    tracked, csv = tracked_files(path)
    missing = [str(p) for p in (tracked, csv) if not p.is_file()]
    if missing:
        raise InputError(f"{path}: no tracks ({', '.join(missing)} missing): run batchseg track first")
    table = pd.read_csv(csv, usecols=["track_id", "parent_track_id"]).drop_duplicates("track_id")
    parents = dict(zip(table["track_id"].astype(int), table["parent_track_id"].astype(int), strict=True))
    folder = scratch / name
    folder.mkdir()
    with open_mask_stack(tracked) as stack:
        files = write_ctc_folder(stack.frame, stack.n_frames, parents, folder)
    return folder, files[-1]


def evaluate_tracks(
    pred: str | Path, gt: str | Path, output: str | Path | None = None, overwrite: bool = False
) -> pd.DataFrame:
    """Score predicted tracks against CTC ground truth with traccuracy (one row).

    Parameters
    ----------
    pred
        A mask tracked by ``batchseg track`` (``_vSM.ome.tif`` or its ``-tracked.ome.tif``), or a CTC
        result folder.
    gt
        A CTC ground-truth folder (``man_track.txt`` and ``man_track###.tif``), or a tracked mask.
    output
        CSV to write the row to (atomically).
    overwrite
        Replace an existing ``output``.

    Raises
    ------
    InputError
        Missing tracks, not a CTC folder, frames that do not match, traccuracy missing.
    OutputError
        ``output`` exists without ``overwrite``.
    """
    pred, gt = Path(pred), Path(gt)
    if output is not None and Path(output).exists() and not overwrite:
        raise OutputError(f"{output} exists; pass --overwrite (API: overwrite=True) to replace")
    try:
        from traccuracy import run_metrics
        from traccuracy.loaders import load_ctc_data
        from traccuracy.matchers import CTCMatcher
        from traccuracy.metrics import CTCMetrics, DivisionMetrics
    except ImportError as exc:
        raise InputError(
            "tracking evaluation needs traccuracy: pip install 'napari-batchseg[tracking]'") from exc
    scratch = Path(tempfile.mkdtemp(prefix="batchseg-ctc-"))
    try:
        pred_dir, pred_track = _ctc_folder(pred, scratch, "pred")
        gt_dir, gt_track = _ctc_folder(gt, scratch, "gt")
        n_pred, n_gt = len(list(pred_dir.glob("*.tif*"))), len(list(gt_dir.glob("*.tif*")))
        if n_pred != n_gt:
            raise InputError(f"{pred}: {n_pred} frames, ground truth {gt}: {n_gt}: the movies differ")
        with contextlib.redirect_stderr(io.StringIO()):  # traccuracy's progress bars
            try:
                gt_graph = load_ctc_data(str(gt_dir), str(gt_track), name=str(gt))
                pred_graph = load_ctc_data(str(pred_dir), str(pred_track), name=str(pred))
                metrics = [CTCMetrics(), DivisionMetrics()]
                results, _ = run_metrics(gt_graph, pred_graph, CTCMatcher(), metrics)
            except (ValueError, KeyError, AssertionError) as exc:
                raise InputError(f"{pred} vs {gt}: traccuracy cannot compare them: {describe(exc)}") from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    merged: dict[str, Any] = {}
    for entry in results:
        res = entry["results"]
        merged.update(res.get("Frame Buffer 0", res))
    row = {
        "pred": str(pred), "gt": str(gt), "TRA": merged.get("TRA"), "DET": merged.get("DET"),
        "LNK": merged.get("LNK"), "division_precision": merged.get("Division Precision"),
        "division_recall": merged.get("Division Recall"), "division_f1": merged.get("Division F1"),
        "gt_divisions": merged.get("Total GT Divisions"),
        "pred_divisions": merged.get("Total Predicted Divisions"),
        **{k: merged.get(k) for k in TRACK_SCORE_COLUMNS[10:16]},
        "traccuracy": metadata.version("traccuracy"),
    }
    table = pd.DataFrame([row], columns=list(TRACK_SCORE_COLUMNS))
    if output is not None:
        with atomic_path(output) as tmp:
            table.to_csv(tmp, index=False)
    return table
