"""Evaluation of predicted label masks against ground truth.

Matching follows Cellpose's ``cellpose.metrics.average_precision`` exactly: the IoU of every (true,
predicted) pair, then at each IoU threshold the one-to-one matching that maximises the number of pairs
above the threshold (Hungarian algorithm). Average precision is ``TP / (TP + FP + FN)`` at a threshold;
``ap_50_95`` is its mean over thresholds 0.50, 0.55, ..., 0.95.

Merges and splits (threshold-free): a predicted object is a *merge* when more than half of each of two or
more true objects lies inside it; a true object is *split* when more than half of each of two or more
predicted objects lies inside it.

The overall row adds up TP/FP/FN over all frames before computing the ratios.

Frames: a prediction is compared frame by frame with a ground truth of as many frames; a prediction of a
frame range (its log says it starts at input frame 10) is compared with those frames of a longer
ground-truth movie. The ``frame`` column is the prediction's input frame (its index without a log).

Volumes (``TZYX`` masks of ``z_mode`` 3d / stitch): a volume prediction is scored against a volume
ground truth in 3D, volume by volume (one volume of each file in memory at a time): the IoU of 3D
objects, then the same AP, precision, recall, F1, merges and splits at the same thresholds, per time
point and overall; a 2D-vs-volume pair is refused (one line naming both files). A file is a volume mask
when its TIFF series has a Z axis of more than one slice (as our ``_vSM.ome.tif`` volume masks do), or
when the axes override names a Z axis (a plain multi-page TIFF holding one volume: ``ZYX``; a movie of
volumes: ``TZYX``).

Folders: every prediction with a ground truth of the same name is scored; the predictions without one,
and pairs that cannot be compared, are listed in the table's ``attrs`` (:data:`MISSING_ATTR`,
:data:`FAILED_ATTR`) and never stop the others.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import tifffile
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from ._labels import mask_base, open_mask_stack
from .discovery import is_own_output
from .errors import BatchSegError, InputError, describe
from .io.arrays import one_path
from .io.atomic import atomic_path, check_writable_dir
from .io.labelcheck import check_looks_like_labels, label_values
from .io.masks import read_embedded_log
from .io.naming import LABEL_NAME_TAILS, is_segmentation_mask
from .io.reader import matching_suffix
from .measure_3d import is_volume_mask
from .provenance import parse_log

__all__ = [
    "EVAL_COLUMNS",
    "FAILED_ATTR",
    "MISSING_ATTR",
    "THRESHOLDS",
    "VolumeLabels",
    "evaluate_files",
    "evaluate_frame",
    "evaluate_paths",
    "is_volume_input",
    "iou_matrix",
    "match_pairs",
    "overall_row",
]

class _MaskFrames(Protocol):
    """What scoring needs of an opened mask: a 2D stack (:class:`~._labels.LabelStack`) or volumes."""

    path: Path
    n_frames: int
    shape_yx: tuple[int, int]
    log_text: str

    def frame(self, index: int) -> NDArray[Any]: ...

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc: object) -> None: ...


#: IoU thresholds of ``ap_50_95``.
THRESHOLDS: NDArray[Any] = np.round(np.arange(0.5, 0.951, 0.05), 2)
EVAL_COLUMNS: tuple[str, ...] = (
    "pred", "gt", "frame", "n_true", "n_pred", "ap_50", "ap_75", "ap_50_95",
    "tp_50", "fp_50", "fn_50", "precision_50", "recall_50", "f1_50",
    "tp_75", "fp_75", "fn_75", "precision_75", "recall_75", "f1_75", "merges", "splits",
)
#: ``table.attrs`` key: predictions (paths) of a folder that have no ground truth (not scored).
MISSING_ATTR = "missing_ground_truth"
#: ``table.attrs`` key: ``{prediction path: reason}`` for pairs of a folder that could not be compared.
FAILED_ATTR = "failed"


def _relabel(labels: NDArray[Any]) -> tuple[NDArray[Any], int]:
    """Labels renumbered 1..n in the order of their ids (0 kept), and n.

    A lookup table indexed by id (when the largest id is no larger than the image) gives ``uint32``
    labels: 4 bytes a pixel rather than the 8 of an ``int64`` inverse, which matters for volumes.
    """
    lab = np.asarray(labels)
    if lab.dtype.kind not in "ui":
        raise ValueError(f"labels must be integers, got {lab.dtype}")
    ids = np.unique(lab)
    start = 0 if ids.size and ids[0] == 0 else 1
    n = int(ids.size - 1 + start)
    if ids.size and int(ids[-1]) <= max(lab.size, 1 << 16):
        lut = np.zeros(int(ids[-1]) + 1, dtype=np.uint32)
        lut[ids] = np.arange(start, start + ids.size, dtype=np.uint32)
        return lut[lab], n
    return (np.searchsorted(ids, lab) + start).astype(np.uint32, copy=False), n


def _overlap(true: NDArray[Any], pred: NDArray[Any], n_true: int, n_pred: int) -> NDArray[Any]:
    """Pixel counts of every (true id, predicted id) pair, background included (row/column 0)."""
    flat = true.astype(np.int64).ravel()
    flat *= n_pred + 1
    flat += pred.ravel()
    return np.bincount(flat, minlength=(n_true + 1) * (n_pred + 1)).reshape(n_true + 1, n_pred + 1)


def iou_matrix(overlap: NDArray[Any]) -> NDArray[Any]:
    """IoU of every (true, predicted) object pair from an :func:`_overlap` table (background dropped)."""
    n_pixels_pred = overlap.sum(axis=0, keepdims=True)
    n_pixels_true = overlap.sum(axis=1, keepdims=True)
    union = n_pixels_pred + n_pixels_true - overlap
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, overlap / np.maximum(union, 1), 0.0)
    return iou[1:, 1:]


def match_pairs(iou: NDArray[Any], threshold: float) -> int:
    """Number of true positives at ``threshold``: the best one-to-one matching (as Cellpose counts it)."""
    if iou.size == 0:
        return 0
    n_min = min(iou.shape)
    costs = -(iou >= threshold).astype(float) - iou / (2 * n_min)
    rows, cols = linear_sum_assignment(costs)
    return int((iou[rows, cols] >= threshold).sum())


def _ratios(tp: int, fp: int, fn: int) -> tuple[float, float, float, float]:
    """AP (TP/(TP+FP+FN)), precision, recall, F1; NaN where undefined."""
    def div(a: float, b: float) -> float:
        return a / b if b else float("nan")
    return div(tp, tp + fp + fn), div(tp, tp + fp), div(tp, tp + fn), div(2 * tp, 2 * tp + fp + fn)


def evaluate_frame(pred: NDArray[Any], true: NDArray[Any]) -> dict[str, Any]:
    """All metrics of one ``(Y, X)`` predicted frame (or ``(Z, Y, X)`` volume) against its ground truth.

    A volume's objects are 3D: IoU, merges and splits count voxels.

    Returns
    -------
    dict
        ``n_true, n_pred, ap_50, ap_75, ap_50_95``, TP/FP/FN, precision, recall and F1 at 0.5 and 0.75,
        ``merges``, ``splits``, and ``tp_<t>`` for every threshold of :data:`THRESHOLDS` (as ``tp_t``).
    """
    p = np.asarray(pred)
    t = np.asarray(true)
    if p.shape != t.shape:
        raise ValueError(f"prediction shape {p.shape} differs from ground truth {t.shape}")
    t_lab, n_true = _relabel(t)
    p_lab, n_pred = _relabel(p)
    overlap = _overlap(t_lab, p_lab, n_true, n_pred)
    iou = iou_matrix(overlap)
    out: dict[str, Any] = {"n_true": n_true, "n_pred": n_pred}
    aps = []
    tps = {}
    for th in THRESHOLDS:
        tp = match_pairs(iou, float(th))
        tps[float(th)] = tp
        aps.append(_ratios(tp, n_pred - tp, n_true - tp)[0])
    out["ap_50"], out["ap_75"] = aps[0], aps[5]
    out["ap_50_95"] = float(np.mean(aps))
    for th, tag in ((0.5, "50"), (0.75, "75")):
        tp = tps[th]
        fp, fn = n_pred - tp, n_true - tp
        _, prec, rec, f1 = _ratios(tp, fp, fn)
        out.update({f"tp_{tag}": tp, f"fp_{tag}": fp, f"fn_{tag}": fn, f"precision_{tag}": prec,
                    f"recall_{tag}": rec, f"f1_{tag}": f1})
    out["tp_t"] = tps
    inner = overlap[1:, 1:].astype(np.float64)
    true_area = np.maximum(overlap[1:].sum(axis=1, keepdims=True), 1)
    pred_area = np.maximum(overlap[:, 1:].sum(axis=0, keepdims=True), 1)
    out["merges"] = int(((inner / true_area > 0.5).sum(axis=0) >= 2).sum()) if inner.size else 0
    out["splits"] = int(((inner / pred_area > 0.5).sum(axis=1) >= 2).sum()) if inner.size else 0
    return out


def _row(frame_metrics: dict[str, Any], **ident: object) -> dict[str, Any]:
    row = dict(ident)
    row.update({k: v for k, v in frame_metrics.items() if k != "tp_t"})
    return row


def overall_row(rows: Sequence[Mapping[str, Any]], tps: Mapping[float, int]) -> dict[str, Any]:
    """The ``overall`` row of frame rows: TP/FP/FN added up over the frames, then the ratios.

    ``tps``: true positives per IoU threshold (:data:`THRESHOLDS`), summed over the frames.
    """
    n_true = sum(int(r["n_true"]) for r in rows)
    n_pred = sum(int(r["n_pred"]) for r in rows)
    out: dict[str, object] = {"pred": "overall", "gt": "overall", "frame": "all",
                              "n_true": n_true, "n_pred": n_pred}
    aps = [_ratios(tp, n_pred - tp, n_true - tp)[0] for tp in tps.values()]
    out["ap_50"], out["ap_75"], out["ap_50_95"] = aps[0], aps[5], float(np.mean(aps)) if aps else np.nan
    for th, tag in ((0.5, "50"), (0.75, "75")):
        tp = tps.get(th, 0)
        fp, fn = n_pred - tp, n_true - tp
        _, prec, rec, f1 = _ratios(tp, fp, fn)
        out.update({f"tp_{tag}": tp, f"fp_{tag}": fp, f"fn_{tag}": fn, f"precision_{tag}": prec,
                    f"recall_{tag}": rec, f"f1_{tag}": f1})
    out["merges"] = sum(int(r["merges"]) for r in rows)
    out["splits"] = sum(int(r["splits"]) for r in rows)
    return out


def logged_start_frame(mask: _MaskFrames) -> int | None:
    """Input frame of a mask's first frame, from its napari-batchseg log (``None`` without one)."""
    if not mask.log_text.strip():
        return None
    try:
        return int(parse_log(mask.log_text).params.start_frame)
    except (ValueError, KeyError, TypeError):
        return None


def frame_offsets(pred: _MaskFrames, gt: _MaskFrames) -> tuple[int, int]:
    """``(input frame of pred's first frame, gt frame compared with it)`` for a pair of masks.

    As many frames: frame by frame (offset 0 in the ground truth). Fewer prediction frames: the
    prediction's log says where they start in the ground-truth movie.

    Raises
    ------
    InputError
        Frame sizes differ, or the frames cannot be lined up (the message names both files).
    """
    if pred.shape_yx != gt.shape_yx:
        raise InputError(
            f"{pred.path}: frames of {pred.shape_yx[0]}x{pred.shape_yx[1]} pixels but ground truth "
            f"{gt.path} has {gt.shape_yx[0]}x{gt.shape_yx[1]}"
        )
    start = logged_start_frame(pred)
    if pred.n_frames == gt.n_frames:
        return (start or 0), 0
    if start is None:
        raise InputError(
            f"{pred.path}: {pred.n_frames} frame(s) but ground truth {gt.path} has {gt.n_frames}, and no "
            "segmentation log says which input frames the prediction holds"
        )
    if start + pred.n_frames > gt.n_frames:
        raise InputError(
            f"{pred.path}: its log says input frames {start}-{start + pred.n_frames - 1} but ground truth "
            f"{gt.path} has {gt.n_frames} frame(s)"
        )
    return start, start


def evaluate_files(
    pairs: Sequence[tuple[str | Path, str | Path]],
    axes: str | None = None,
    gt_axes: str | None = None,
    force_labels: bool = False,
    failed: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Evaluate ``(prediction, ground truth)`` mask files frame by frame; last row ``overall``.

    Parameters
    ----------
    pairs
        ``(prediction, ground truth)`` mask files.
    axes, gt_axes
        Axes overrides of the predictions and of the ground truths (plain multi-page TIFFs: ``"TYX"``).
    force_labels
        Use files without a log even where they look like intensity images.
    failed
        When given, a pair that cannot be compared is recorded here (prediction path -> reason) and
        the others are scored; otherwise the first such pair raises.

    Raises
    ------
    InputError
        When a file is not a label mask, or a pair's frames cannot be lined up (see
        :func:`frame_offsets`), unless ``failed`` collects it.
    """
    rows: list[dict[str, Any]] = []
    tps = {float(th): 0 for th in THRESHOLDS}
    for pred_path, gt_path in pairs:
        pair_rows: list[dict[str, Any]] = []
        pair_tps = dict.fromkeys(tps, 0)
        try:
            volume = is_volume_input(pred_path, axes)
            check_same_kind(pred_path, gt_path, volume, is_volume_input(gt_path, gt_axes))
            opener: Callable[[str | Path, str | None, bool], _MaskFrames]
            opener = open_volume_labels if volume else open_mask_stack
            with opener(pred_path, axes, force_labels) as pred, opener(gt_path, gt_axes, force_labels) as gt:
                if isinstance(pred, VolumeLabels) and isinstance(gt, VolumeLabels):
                    check_volume_pair(pred, gt)
                first, offset = frame_offsets(pred, gt)
                for i in range(pred.n_frames):
                    m = evaluate_frame(pred.frame(i), gt.frame(offset + i))
                    for th, tp in m["tp_t"].items():
                        pair_tps[th] += tp
                    pair_rows.append(_row(m, pred=pred.path.name, gt=gt.path.name, frame=first + i))
        except BatchSegError as exc:
            if failed is None:
                raise
            failed[str(pred_path)] = str(exc)
            continue
        rows += pair_rows
        for th, tp in pair_tps.items():
            tps[th] += tp
    rows.append(overall_row(rows, tps))
    return pd.DataFrame(rows, columns=list(EVAL_COLUMNS))


# --------------------------------------------------------------------------- volume masks (TZYX)
_VOLUME_AXES = ("ZYX", "TZYX")


def is_volume_input(path: str | Path, axes: str | None = None) -> bool:
    """Whether ``path`` is read as a volume mask (see the module notes); ``axes`` is the caller's override."""
    if axes:
        return "Z" in axes.upper()
    return is_volume_mask(path)


def check_same_kind(pred: str | Path, gt: str | Path, pred_volume: bool, gt_volume: bool) -> None:
    """Raise :class:`InputError` (one line naming both files) for a 2D-vs-volume pair."""
    if pred_volume == gt_volume:
        return
    kinds = {True: "a volume mask (TZYX)", False: "a 2D mask (TYX)"}
    raise InputError(
        f"{pred}: {kinds[pred_volume]} but its ground truth {gt} is {kinds[gt_volume]}: evaluate compares "
        "volumes with volumes (3D objects) and planes with planes (a plain multi-page TIFF of volumes: "
        "--axes/--gt-axes ZYX or TZYX)"
    )


class VolumeLabels:
    """A volume mask opened lazily: ``n_frames`` volumes of ``shape_zyx``, read one at a time.

    Attributes ``path``, ``n_frames``, ``shape_yx`` and ``log_text`` are those of
    :class:`~._labels.LabelStack`, so the frame alignment of :func:`frame_offsets` serves both.
    """

    def __init__(self, path: Path, axes: str | None = None) -> None:
        self.path = path
        self._file = tifffile.TiffFile(path)
        try:
            series = self._file.series[0]
            names = (axes or series.axes).upper()
            shape = tuple(int(s) for s in series.shape)
            if len(names) != len(shape):
                raise InputError(f"{path}: axes {names!r} do not fit its shape {shape}")
            kept = [(a, n) for a, n in zip(names, shape, strict=True) if n > 1 or a in "TZYX"]
            order = "".join(a for a, _ in kept)
            if order not in _VOLUME_AXES:
                raise InputError(
                    f"{path}: axes {names!r} (shape {shape}) are not a volume mask (ZYX or TZYX, one "
                    "channel)"
                )
            sizes = dict(kept)
            self.n_frames = sizes.get("T", 1)
            self.shape_zyx = (sizes["Z"], sizes["Y"], sizes["X"])
            self.shape_yx = self.shape_zyx[1:]
            self._pages = series.pages
            # a page per slice, or (a plain TIFF of a few slices, read as samples) a page per volume
            self._per_slice = len(self._pages) == self.n_frames * sizes["Z"]
            if not self._per_slice and len(self._pages) != self.n_frames:
                raise InputError(
                    f"{path}: {len(self._pages)} TIFF pages for {self.n_frames} volume(s) of {sizes['Z']} "
                    "slices: neither a page per slice nor per volume"
                )
            self.log_text = read_embedded_log(path)
        except BaseException:
            self._file.close()
            raise

    def frame(self, index: int) -> NDArray[Any]:
        """The ``(Z, Y, X)`` labels of volume ``index`` (checked: integers >= 0), read page by page."""
        nz = self.shape_zyx[0]
        if not self._per_slice:
            page = self._pages[index]
            whole = None if page is None else np.asarray(page.asarray())
            if whole is None or whole.size != nz * self.shape_yx[0] * self.shape_yx[1]:
                raise InputError(f"{self.path}: page {index} does not hold a {self.shape_zyx} volume")
            return label_values(whole.reshape(self.shape_zyx), self.path, index)
        volume: NDArray[Any] | None = None
        for z in range(nz):
            page = self._pages[index * nz + z]
            if page is None:
                raise InputError(f"{self.path}: page {index * nz + z} of the mask is missing")
            plane = np.asarray(page.asarray())
            if plane.shape != self.shape_yx:
                raise InputError(f"{self.path}: page {index * nz + z} is {plane.shape}, not {self.shape_yx}")
            if volume is None:  # filled in place: one volume in memory, not a list of planes and a copy
                volume = np.empty((nz, *self.shape_yx), dtype=plane.dtype)
            volume[z] = plane
        if volume is None:
            raise InputError(f"{self.path}: volume {index} has no slices")
        return label_values(volume, self.path, index)

    def check_looks_like_labels(self) -> None:
        """:class:`InputError` when the middle slice of the first non-empty volume looks like intensities."""
        for index in sorted({0, self.n_frames // 2, self.n_frames - 1}):
            volume = self.frame(index)
            filled = np.flatnonzero(volume.reshape(volume.shape[0], -1).any(axis=1))
            if filled.size:
                check_looks_like_labels(volume[int(filled[filled.size // 2])], self.path, index)
                return

    def close(self) -> None:
        """Release the file."""
        self._file.close()

    def __enter__(self) -> VolumeLabels:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_volume_labels(path: str | Path, axes: str | None = None, force_labels: bool = False) -> VolumeLabels:
    """Open a volume mask; checks as :func:`~._labels.open_mask_stack` does for 2D masks.

    Raises
    ------
    InputError
        The file is missing or unreadable, not a volume of integer labels, or (without a
        napari-batchseg log and without ``force_labels``) looks like an intensity image.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: not found")
    try:
        stack = VolumeLabels(path, axes)
    except (OSError, ValueError, tifffile.TiffFileError) as exc:
        raise InputError(f"{path}: cannot read mask: {describe(exc)}") from exc
    if not force_labels and not stack.log_text.strip():
        with contextlib.ExitStack() as guard:
            guard.callback(stack.close)
            stack.check_looks_like_labels()
            guard.pop_all()
    return stack


def check_volume_pair(pred: VolumeLabels, gt: VolumeLabels) -> None:
    """Raise :class:`InputError` (naming both files) when the volumes differ in size."""
    if pred.shape_zyx != gt.shape_zyx:
        size = "x".join
        raise InputError(
            f"{pred.path}: volumes of {size(map(str, pred.shape_zyx))} (ZxYxX) voxels but ground truth "
            f"{gt.path} has {size(map(str, gt.shape_zyx))}"
        )


_KEY_TAIL = re.compile(r"(_vSM(-[A-Za-z0-9-]+)?|" + "|".join(LABEL_NAME_TAILS) + r")$", re.IGNORECASE)


def match_key(path: str | Path) -> str:
    """Name used to pair a prediction with its ground truth (``a_vSM.ome.tif`` ~ ``a_masks.tif`` ~ ``a``)."""
    return _KEY_TAIL.sub("", mask_base(path)).lower()


def _mask_files(folder: Path) -> Iterator[Path]:
    for p in sorted(folder.iterdir()):
        if p.is_file() and matching_suffix(p) in (".tif", ".tiff", ".ome.tif", ".ome.tiff"):
            yield p


def _prediction_files(folder: Path) -> list[Path]:
    """A prediction folder's masks: its segmentation masks when it holds some, else its TIFFs (not ours).

    A walk: a folder of inputs with their masks beside them (the default place) had each input scored
    as a prediction, and refused as an intensity image. Other tools' masks (``_cp_masks.tif``, ...)
    are taken when the folder holds no ``_vSM`` mask.
    """
    files = list(_mask_files(folder))
    ours = [p for p in files if is_segmentation_mask(p)]
    return ours or [p for p in files if not is_own_output(p)]


def match_paths(pred: str | Path, gt: str | Path) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """Pairs of (prediction, ground truth), and the predictions without ground truth.

    Two files make one pair; two folders are matched by :func:`match_key`.

    Raises
    ------
    InputError
        When a path is missing, a file is paired with a folder, or the prediction folder holds no mask.
    """
    pred, gt = Path(pred), Path(gt)
    for p in (pred, gt):
        if not p.exists():
            raise InputError(f"{p}: not found")
    if pred.is_file() and gt.is_file():
        return [(pred, gt)], []
    if pred.is_dir() != gt.is_dir():
        raise InputError(f"{pred} and {gt}: give two files or two folders")
    truths = {match_key(p): p for p in _mask_files(gt)}
    pairs = []
    missing = []
    for p in _prediction_files(pred):
        key = match_key(p)
        if key in truths:
            pairs.append((p, truths[key]))
        else:
            missing.append(p)
    if not pairs and not missing:
        raise InputError(f"{pred}: no mask files to evaluate")
    return pairs, missing


def evaluate_paths(
    pred: str | Path,
    gt: str | Path,
    output: str | Path | None = None,
    overwrite: bool = False,
    axes: str | None = None,
    gt_axes: str | None = None,
    force_labels: bool = False,
) -> pd.DataFrame:
    """Evaluate a prediction (file or folder) against ground truth; optionally write the table as CSV.

    Two folders: every prediction with a ground truth of the same name is scored; those without one are
    listed in ``table.attrs[MISSING_ATTR]`` and pairs that cannot be compared (with the reason) in
    ``table.attrs[FAILED_ATTR]``; neither stops the others (the command line exits 1 when either is
    not empty).

    Parameters
    ----------
    pred, gt
        Two mask files, or two folders of them.
    output
        Write the table here (CSV), atomically.
    overwrite
        Replace an existing ``output``.
    axes, gt_axes
        Axes overrides of the predictions and of the ground truths (plain multi-page TIFFs: ``"TYX"``;
        ``gt_axes`` defaults to ``axes``).
    force_labels
        Use files without a log even where they look like intensity images.

    Raises
    ------
    InputError
        Bad inputs (two files), or nothing in the folders could be scored (nothing is written).
    OutputError
        ``output`` is a folder, exists without ``overwrite``, or cannot be written.
    """
    pred, gt = one_path(pred), one_path(gt)  # (np.array("a.tif") is one path)
    from .errors import OutputError

    if output is not None and Path(output).is_dir():  # (before: "exists; pass --overwrite", which failed too)
        raise OutputError(f"{output} is a folder: give the table a file name in it, e.g. "
                          f"{Path(output) / 'scores.csv'}; nothing was evaluated")
    if output is not None and Path(output).exists() and not overwrite:
        raise OutputError(f"{output} exists; pass --overwrite (API: overwrite=True) to replace it")
    pairs, missing = match_paths(pred, gt)
    folders = Path(pred).is_dir()
    failed: dict[str, str] | None = {} if folders else None
    gt_axes = axes if gt_axes is None else gt_axes
    table = evaluate_files(pairs, axes, gt_axes, force_labels, failed)
    if folders and len(table) == 1:  # only the overall row: nothing was scored
        reasons = [f"no ground truth in {gt} for {p.name}" for p in missing]
        reasons += list((failed or {}).values())
        raise InputError(f"{pred}: nothing could be evaluated: " + "; ".join(reasons))
    table.attrs[MISSING_ATTR] = [str(p) for p in missing]
    table.attrs[FAILED_ATTR] = dict(failed or {})
    if output is not None:
        out = Path(output)
        check_writable_dir(out.parent)
        with atomic_path(out) as tmp:
            table.to_csv(tmp, index=False)
    return table
