"""Manual-correction helpers for label masks, and saving corrected masks back with a log record.

Every function works on a 2D ``(Y, X)`` or 3D ``(T, Y, X)`` label array; frames are corrected
independently (object ids are per frame, as the segmentation writes them). ``frames`` restricts a fix to
some frames (0-based indices along T; ``None``: every frame). Functions return a new array and never
modify their input.

:func:`save_corrections` writes an edited mask over its ``_vSM.ome.tif`` atomically and adds a record of
what changed (frames, labels) to its embedded log and ``.log`` file, keeping the earlier log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray
from skimage.segmentation import clear_border
from skimage.segmentation import relabel_sequential as _sk_relabel

from .errors import InputError
from .io.atomic import atomic_write_text
from .io.masks import count_objects, read_mask, write_mask
from .io.naming import log_path_of
from .provenance import HISTORY_MARK, RunLog
from .results import first_frame

CORRECTION_MODULE = "correction"

__all__ = [
    "CorrectionSummary",
    "delete_label",
    "describe_changes",
    "merge_labels",
    "relabel_sequential",
    "remove_small",
    "remove_touching_border",
    "save_corrections",
]


def _as_stack(labels: NDArray[Any], volume: bool = False) -> tuple[NDArray[Any], bool]:
    """``labels`` as a stack of time points (``(T, Y, X)``, or ``(T, Z, Y, X)`` when ``volume``)."""
    arr = np.asarray(labels)
    if arr.ndim == (3 if volume else 2):
        return arr[None], True
    if volume and arr.ndim != 4:
        raise ValueError(f"volume labels must be 3D (Z, Y, X) or 4D (T, Z, Y, X), got shape {arr.shape}")
    if not volume and arr.ndim != 3:
        raise ValueError(f"labels must be 2D (Y, X) or 3D (T, Y, X), got shape {arr.shape}")
    return arr, False


def _check_labels(arr: NDArray[Any]) -> None:
    if arr.dtype.kind not in "ui":
        raise ValueError(f"labels must be integers, got {arr.dtype}")


def _frame_list(n: int, frames: Iterable[int] | int | None) -> list[int]:
    if frames is None:
        return list(range(n))
    if isinstance(frames, (int, np.integer)):
        frames = [int(frames)]
    out = []
    for f in frames:
        f = int(f)
        if not 0 <= f < n:
            raise IndexError(f"frame {f} out of range (0-{n - 1})")
        out.append(f)
    return sorted(set(out))


def _per_frame(
    labels: NDArray[Any],
    frames: Iterable[int] | int | None,
    fix: Callable[[NDArray[Any]], NDArray[Any]],
) -> NDArray[Any]:
    # (T, Z, Y, X): each time point's volume is fixed as a whole (sizes in voxels, the 3D border)
    stack, was_2d = _as_stack(labels, np.ndim(labels) == 4)
    _check_labels(stack)
    out = stack.copy()
    for t in _frame_list(stack.shape[0], frames):
        out[t] = fix(stack[t])
    return out[0] if was_2d else out


def remove_small(
    labels: NDArray[Any], min_size: int, frames: Iterable[int] | int | None = None
) -> NDArray[Any]:
    """Remove objects with fewer than ``min_size`` pixels (set them to background)."""
    if min_size < 0:
        raise ValueError(f"min_size must be >= 0, got {min_size}")

    def fix(frame: NDArray[Any]) -> NDArray[Any]:
        sizes = np.bincount(frame.ravel().astype(np.int64, copy=False))
        small = sizes < min_size
        small[0] = False
        if not small.any():
            return frame
        out = frame.copy()
        out[small[frame]] = 0
        return out

    return _per_frame(labels, frames, fix)


def remove_touching_border(
    labels: NDArray[Any], frames: Iterable[int] | int | None = None, buffer_size: int = 0
) -> NDArray[Any]:
    """Remove objects touching the image border (``buffer_size``: border width in pixels)."""
    return _per_frame(labels, frames, lambda f: clear_border(f, buffer_size=buffer_size))


def relabel_sequential(labels: NDArray[Any], frames: Iterable[int] | int | None = None) -> NDArray[Any]:
    """Renumber each frame's objects ``1..n`` in order of their current ids (no gaps)."""
    return _per_frame(labels, frames, lambda f: _sk_relabel(f)[0].astype(f.dtype, copy=False))


def _ids(value: int | Sequence[int]) -> list[int]:
    """One label id or several, as a list of ints (any numeric scalar counts as one id)."""
    values: Sequence[Any] = [value] if np.isscalar(value) else cast("Sequence[Any]", value)
    return [int(v) for v in values]


def merge_labels(
    labels: NDArray[Any], keep: int, merge: int | Sequence[int], frames: Iterable[int] | int | None = None
) -> NDArray[Any]:
    """Merge object(s) ``merge`` into object ``keep`` (their pixels take the id ``keep``).

    Raises ``ValueError`` when ``keep`` is in none of the frames: that would only renumber ``merge`` (a
    mistyped id, most often), not merge anything.
    """
    others = _ids(merge)
    if keep <= 0 or any(m <= 0 for m in others):
        raise ValueError("label ids to merge must be > 0")
    stack, _ = _as_stack(labels, np.ndim(labels) == 4)
    if not any((stack[t] == keep).any() for t in _frame_list(stack.shape[0], frames)):
        where = "the frame(s) chosen" if frames is not None and stack.shape[0] > 1 else "the mask"
        raise ValueError(f"label {keep} is not in {where}: nothing to merge label "
                         f"{', '.join(map(str, others))} into (check the first number)")

    def fix(frame: NDArray[Any]) -> NDArray[Any]:
        out = frame.copy()
        out[np.isin(frame, others)] = keep
        return out

    return _per_frame(labels, frames, fix)


def delete_label(
    labels: NDArray[Any], label: int | Sequence[int], frames: Iterable[int] | int | None = None
) -> NDArray[Any]:
    """Delete object(s) ``label`` (set to background)."""
    ids = _ids(label)
    if any(i <= 0 for i in ids):
        raise ValueError("label ids to delete must be > 0")

    def fix(frame: NDArray[Any]) -> NDArray[Any]:
        out = frame.copy()
        out[np.isin(frame, ids)] = 0
        return out

    return _per_frame(labels, frames, fix)


# --------------------------------------------------------------------------- what changed
@dataclass
class CorrectionSummary:
    """What differs between a mask and its corrected version.

    Attributes
    ----------
    frames
        0-based indices of the frames that changed.
    labels_per_frame
        For each changed frame, how many object ids changed (their pixels differ: drawn, erased,
        moved, merged, renumbered or deleted).
    path
        The mask file written (``None`` when nothing changed and nothing was written).
    """

    frames: list[int] = field(default_factory=list)
    labels_per_frame: dict[int, int] = field(default_factory=dict)
    path: Path | None = None
    #: objects in the last frame (or volume) as saved (``None`` when nothing was written)
    objects_last_frame: int | None = None

    @property
    def n_labels(self) -> int:
        """Total number of (frame, object id) pairs that changed."""
        return int(sum(self.labels_per_frame.values()))

    @property
    def changed(self) -> bool:
        """Whether anything differs."""
        return bool(self.frames)

    def describe(self) -> str:
        """One-line summary, e.g. ``frames 0, 3 edited; 5 labels changed (frame 0: 2, frame 3: 3)``."""
        if not self.frames:
            return "no changes"
        per = ", ".join(f"frame {t}: {self.labels_per_frame[t]}" for t in self.frames)
        return (
            f"frame(s) {_ranges(self.frames)} edited; {self.n_labels} label(s) changed ({per})"
        )


def _ranges(values: list[int]) -> str:
    parts: list[str] = []
    start: int | None = None
    prev = 0
    for v in values:
        if start is None:
            start = prev = v
        elif v == prev + 1:
            prev = v
        else:
            parts.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = prev = v
    if start is not None:
        parts.append(f"{start}" if start == prev else f"{start}-{prev}")
    return ", ".join(parts)


def describe_changes(before: NDArray[Any], after: NDArray[Any]) -> CorrectionSummary:
    """Compare two label arrays of the same shape frame by frame."""
    volume = np.ndim(before) == 4  # (T, Z, Y, X): a volume mask; its "frames" are time points
    a, _ = _as_stack(before, volume)
    b, _ = _as_stack(after, volume)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    summary = CorrectionSummary()
    for t in range(a.shape[0]):
        diff = a[t] != b[t]
        if not diff.any():
            continue
        ids = np.union1d(np.unique(a[t][diff]), np.unique(b[t][diff]))
        summary.frames.append(t)
        summary.labels_per_frame[t] = int(np.count_nonzero(ids))
    return summary


def insert_records(log_text: str, records: str) -> str:
    """Add ``records`` after a log's own records, before the carried-along history of the input."""
    mark = f"--- {HISTORY_MARK} ---"
    text = log_text.rstrip("\n")
    if mark in text:
        own, history = text.split(mark, 1)
        own = own.rstrip("\n")
        return (own + "\n" if own else "") + records.rstrip("\n") + "\n" + mark + history.rstrip("\n") + "\n"
    return (text + "\n" if text else "") + records.rstrip("\n") + "\n"


def save_corrections(
    mask_path: str | Path, labels: NDArray[Any], note: str = "", write_log_file: bool = True
) -> CorrectionSummary:
    """Write corrected ``labels`` over ``mask_path`` atomically and log what changed.

    The current file is read first; the frames and labels that differ are recorded in a ``correction``
    log record, inserted after the earlier records of the embedded log (which is kept whole). The
    ``.log`` beside the mask gets the same text, written after the mask. Nothing is written when
    nothing changed.

    Parameters
    ----------
    mask_path
        An existing ``_vSM.ome.tif`` mask.
    labels
        The corrected ``(T, Y, X)`` labels (``(Y, X)`` for a single-frame mask; ``(T, Z, Y, X)`` or one
        ``(Z, Y, X)`` volume for a volume mask); same shape as the file.
    note
        Optional free text added to the record (e.g. which tools were used).
    write_log_file
        Also rewrite the ``.log`` file beside the mask.

    Raises
    ------
    InputError
        When the file cannot be read, or ``labels`` does not match its shape.
    """
    path = Path(mask_path)
    current = read_mask(path)
    new, _ = _as_stack(labels, current.is_volume)
    _check_labels(new)
    if new.size and new.min() < 0:
        raise ValueError("labels must be >= 0")
    if new.shape != current.labels.shape:
        raise InputError(
            f"{path.name}: corrected labels have shape {new.shape}, the file holds {current.labels.shape}"
        )
    summary = describe_changes(current.labels, new)
    if not summary.changed:
        return summary
    log = RunLog(module=CORRECTION_MODULE)
    offset = first_frame(current.log_text)  # the mask's frame 0 is this input frame (tracks, tables)
    shifted = f"; input frame(s) {_ranges([t + offset for t in summary.frames])}" if offset else ""
    log.info(f"manual correction saved: {summary.describe()}{shifted}")
    if note:
        log.info(f"correction note: {note}")
    text = insert_records(current.log_text, "\n".join(log.records))
    write_mask(path, new, current.pixel_size, text, volume=current.is_volume)
    if write_log_file:
        atomic_write_text(log_path_of(path), text)
    summary.path = path
    summary.objects_last_frame = count_objects(new[-1])
    return summary
