"""Training pairs (prepared image, label image) for Cellpose training: the frame types, selection, split.

Three kinds of input (read by :mod:`napari_batchseg.training.sources`) give the same
:class:`TrainingFrame` list:

* ``<stem>_vSM[-suffix].ome.tif`` masks (corrected or not): the input named in the mask's embedded log
  is opened and each frame is prepared **exactly as the log says** (channel, Z range, projection,
  position, time frame) with the same :func:`~napari_batchseg.prepare.prepare_frame` the segmentation
  used; the Z slices used are checked against the log's per-frame records.
* ``TZYX`` volume masks (``z_mode`` 3d / stitch): Cellpose trains 2D networks, also for 3D use, so
  each XY slice of a chosen volume is one training pair (:attr:`TrainingFrame.z`), its image the same
  slice of the input volume prepared as the segmentation prepared it
  (:func:`~napari_batchseg.prepare_3d.prepare_volume`); slices with fewer than ``min_masks`` objects
  are skipped and reported, as frames are.
* image/mask pairs in Cellpose's layout, ``<name>.tif`` + ``<name>_masks.tif`` (2D, or a ``(T, Y, X)``
  stack of frames).
* arrays, e.g. a napari image layer and a Labels layer
  (:func:`~napari_batchseg.training.sources.frames_from_arrays`).

Frames are chosen per input (``"all"``, ``"corrected"``: the frames a correction record of the mask's
log names, or explicit 0-based indices along the mask's T axis); frames with fewer than ``min_masks``
objects are skipped and reported (:class:`SkippedFrame`). :meth:`TrainingData.split` makes a seeded
validation split by frame or by file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError
from ..io.labelcheck import label_values
from ..params import ParameterError
from ..provenance import HISTORY_MARK

#: Frame choice: ``"all"``, ``"corrected"`` or explicit 0-based indices along the mask's T axis.
FrameSelection = str | Sequence[int]

MASK_SUFFIXES = ("_masks.tif", "_masks.tiff")
IMAGE_SUFFIXES = (".tif", ".tiff")
_CORRECTION_PATTERN = re.compile(r"\| correction \| \w+ \| manual correction saved: frame\(s\) (.+?) edited")
_FRAME_RECORD = re.compile(r"\| \w+ \| \w+ \| frame t=(\d+):(?: z ([0-9,\-]+))?")
SPLITS = ("frame", "file")


@dataclass
class TrainingFrame:
    """One training pair and where it comes from.

    Attributes
    ----------
    image
        ``(Y, X)`` float32 prepared image (what a segmenter would see).
    labels
        ``(Y, X)`` label image, ids renumbered 1..N (0 = background).
    group
        The file the frame comes from (the unit of a by-file split).
    index
        0-based frame index along the mask's T axis.
    t
        Time frame in the input file (``None`` for arrays and pairs, where it equals ``index``).
    n_masks
        Number of objects in ``labels``.
    preparation
        How the image was made (for the provenance file).
    z
        For an XY slice of a volume mask: its Z slice in the input file (``None`` for 2D frames).
    columns
        For a strip of a frame (see :meth:`TrainingData.split`): its X range ``(start, stop)``.
    """

    image: NDArray[np.float32]
    labels: NDArray[Any]
    group: str
    index: int
    t: int | None = None
    n_masks: int = 0
    preparation: dict[str, Any] = field(default_factory=dict)
    z: int | None = None
    columns: tuple[int, int] | None = None

    @property
    def name(self) -> str:
        """``<group> frame <index>`` (``... z <z>`` for a slice of a volume, ``... x a-b`` for a strip)."""
        return (f"{self.group} frame {self.index}" + ("" if self.z is None else f" z {self.z}")
                + ("" if self.columns is None else f" x {self.columns[0]}-{self.columns[1] - 1}"))

    def strip(self, start: int, stop: int) -> TrainingFrame:
        """Columns ``start:stop`` of this frame, its objects' ids renumbered 1..N."""
        labels, n = _renumber(np.ascontiguousarray(self.labels[:, start:stop]), self.name, self.index)
        return TrainingFrame(np.ascontiguousarray(self.image[:, start:stop]), labels, self.group, self.index,
                             self.t, n, self.preparation, self.z, (start, stop))


@dataclass
class SkippedFrame:
    """A frame left out, and why."""

    group: str
    index: int
    reason: str
    z: int | None = None


@dataclass
class TrainingData:
    """Training frames, the frames skipped, and the files used (path -> sha256)."""

    frames: list[TrainingFrame] = field(default_factory=list)
    skipped: list[SkippedFrame] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)

    def extend(self, other: TrainingData) -> None:
        """Add another collection's frames, skipped frames and files."""
        self.frames.extend(other.frames)
        self.skipped.extend(other.skipped)
        self.files.update(other.files)

    def split(
        self, validation_fraction: float, by: str = "frame", seed: int = 0
    ) -> tuple[list[TrainingFrame], list[TrainingFrame]]:
        """Seeded split into ``(train, validation)`` frames.

        Parameters
        ----------
        validation_fraction
            Share of the frames (``by="frame"``) or files (``by="file"``) held out, rounded to the
            nearest whole number; between 0 and 1 (exclusive). By frame, when that leaves either side
            empty (e.g. one frame), that share of each frame's width is held out instead (a strip at
            its left or right edge).
        by
            ``"frame"`` or ``"file"`` (all frames of a file go to the same side).
        seed
            Seed of the shuffle (``numpy.random.default_rng``).

        Raises
        ------
        InputError
            The split leaves no validation frame or no training frame.
        """
        if by not in SPLITS:
            raise ParameterError(f"split must be one of {', '.join(SPLITS)}, got {by!r}")
        if not 0 < validation_fraction < 1:
            raise ParameterError(
                f"validation fraction must be between 0 and 1 (exclusive), got {validation_fraction}: "
                "a validation split is needed to measure the model before and after training"
            )
        rng = np.random.default_rng(seed)
        if by == "file":
            groups = sorted({f.group for f in self.frames})
            n_val = int(round(validation_fraction * len(groups)))
            order = [groups[i] for i in rng.permutation(len(groups))]
            val_groups = set(order[:n_val])
            val = [f for f in self.frames if f.group in val_groups]
            train = [f for f in self.frames if f.group not in val_groups]
            unit, n_units = "file(s)", len(groups)
        else:
            n_val = int(round(validation_fraction * len(self.frames)))
            perm = rng.permutation(len(self.frames))
            val_idx = {int(i) for i in perm[:n_val]}
            val = [f for i, f in enumerate(self.frames) if i in val_idx]
            train = [f for i, f in enumerate(self.frames) if i not in val_idx]
            unit, n_units = "frame(s)", len(self.frames)
        share = f"validation fraction {validation_fraction}"
        if by == "frame" and (not val or not train):
            # too few frames to hold whole ones out (one corrected image: the usual start of a
            # human-in-the-loop training): a strip of each frame is held out instead
            train, val = _strips(self.frames, validation_fraction, rng)
            unit, share = "frame(s)", f"strips of {validation_fraction} of each frame's width"
            if not val:
                raise InputError(f"empty validation split: the held-out {share} hold no object; use a "
                                 "larger --validation-fraction or more training data")
        if not val:
            raise InputError(
                f"empty validation split: {share} of {n_units} {unit} rounds to 0; use a larger "
                "--validation-fraction or more training data"
                + (" (or --split frame)" if by == "file" else "")
            )
        if not train:
            raise InputError(
                f"no training objects left: the {share} take them all; use a smaller "
                "--validation-fraction or more training data"
            )
        return train, val


def _strips(frames: list[TrainingFrame], fraction: float, rng: np.random.Generator
            ) -> tuple[list[TrainingFrame], list[TrainingFrame]]:
    """``(train, validation)``: a strip of each frame, ``fraction`` of its width, is held out.

    The strip lies at the frame's left or right edge (seeded); its width is the one within a quarter of
    ``fraction`` of the frame's whose edge cuts the fewest objects in two (nearest that share on ties:
    a cut object is half in training, half in validation). A side left without objects is dropped.
    """
    train: list[TrainingFrame] = []
    val: list[TrainingFrame] = []
    for frame in frames:
        width = frame.labels.shape[-1]
        if width < 2:  # nothing to cut
            train.append(frame)
            continue
        n_val = min(max(int(round(fraction * width)), 1), width - 1)
        from_left = rng.random() < 0.5
        target = n_val if from_left else width - n_val
        cuts = [w if from_left else width - w for w in range(max(int(round(0.75 * n_val)), 1),
                                                              min(int(round(1.25 * n_val)), width - 1) + 1)]
        # objects on both sides (a review: an empty margin cut nothing, and left the strip empty)
        seen = np.cumsum(frame.labels.any(axis=0))  # columns holding objects, up to each column
        cuts = [c for c in cuts if seen[c - 1] and seen[-1] - seen[c - 1]] or [target]
        split = objects_cut(frame.labels)
        cut = min(cuts, key=lambda c: (split[c], abs(c - target)))
        left, right = frame.strip(0, cut), frame.strip(cut, width)
        held, kept = (left, right) if from_left else (right, left)
        val += [held] if held.n_masks else []
        train += [kept] if kept.n_masks else []
    return train, val


def objects_cut(labels: NDArray[Any]) -> NDArray[np.int64]:
    """For each column ``c`` of a ``(Y, X)`` label frame, how many objects a cut before ``c`` splits.

    An object is split when it has pixels on both sides (columns ``< c`` and ``>= c``); its columns'
    extent is its bounding box's.
    """
    from scipy import ndimage

    width = labels.shape[-1]
    change = np.zeros(width + 1, np.int64)
    for box in ndimage.find_objects(labels):
        if box is not None:
            change[box[-1].start + 1] += 1  # split by cuts start+1 .. stop-1
            change[box[-1].stop] -= 1
    counts: NDArray[np.int64] = np.cumsum(change)[:width]
    return counts


# --------------------------------------------------------------------------- helpers
def parse_frames(text: str | Sequence[int] | None, what: str = "frames") -> FrameSelection:
    """Parse a frame choice: ``all``, ``corrected`` or ``0,3-5`` (0-based, inclusive ranges).

    ``what``: how errors name the choice (an option, e.g. ``--annotated-frames``).
    """
    if text is None:
        return "all"
    if not isinstance(text, str):
        return [int(v) for v in text]
    s = text.strip().lower()
    if s in ("all", "corrected"):
        return s
    out: list[int] = []
    for part in s.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if not m:
            raise ParameterError(f"{what} {text!r}: {part!r} is not a frame number or a range; use 'all', "
                                 "'corrected' or indices such as '0,3-5'")
        a = int(m.group(1))
        b = int(m.group(2)) if m.group(2) else a
        if b < a:
            raise ParameterError(f"{what} {text!r}: range {part!r} ends before it starts")
        out.extend(range(a, b + 1))
    return sorted(set(out))


def corrected_frames(log_text: str) -> list[int]:
    """Mask frame indices (0-based along T) that the correction records of a mask's log name.

    Only the mask's own records are read (not the carried-along history of its input).
    """
    own = log_text.split(f"--- {HISTORY_MARK} ---", 1)[0]
    frames: set[int] = set()
    for m in _CORRECTION_PATTERN.finditer(own):
        for part in m.group(1).split(","):
            part = part.strip()
            if "-" in part:
                a, b = part.split("-", 1)
                frames.update(range(int(a), int(b) + 1))
            elif part:
                frames.add(int(part))
    return sorted(frames)


def _logged_frames(log_text: str) -> list[tuple[int, list[int] | None]]:
    """``(t, z slices)`` of each per-frame record of a segmentation log, in mask order.

    ``None`` for a record without Z slices: a ``batchseg rethreshold`` log written before its records
    gave the run's (the input is still checked by its logged identity).
    """
    own = log_text.split(f"--- {HISTORY_MARK} ---", 1)[0]
    out: list[tuple[int, list[int] | None]] = []
    for m in _FRAME_RECORD.finditer(own):
        if m.group(2) is None:
            out.append((int(m.group(1)), None))
            continue
        zs: list[int] = []
        for part in m.group(2).split(","):
            if "-" in part:
                a, b = part.split("-", 1)
                zs.extend(range(int(a), int(b) + 1))
            elif part:
                zs.append(int(part))
        out.append((int(m.group(1)), zs))
    return out


def _renumber(labels: NDArray[Any], where: str = "labels", index: int = 0) -> tuple[NDArray[Any], int]:
    """Ids 1..N in order of first appearance of the sorted ids (0 stays 0), and N.

    The values follow :func:`~napari_batchseg.io.labelcheck.label_values` (errors name ``where``).
    """
    from skimage.segmentation import relabel_sequential

    lab = label_values(labels, where, index)
    out = relabel_sequential(lab)[0]
    n = int(out.max()) if out.size else 0
    dtype = np.uint16 if n <= np.iinfo(np.uint16).max else np.uint32
    return out.astype(dtype, copy=False), n


def _select(n: int, frames: FrameSelection, corrected: list[int] | None, what: str) -> list[int]:
    if isinstance(frames, str):
        if frames == "all":
            return list(range(n))
        if frames == "corrected":
            return [] if corrected is None else [i for i in corrected if i < n]
        raise ParameterError(f"frames must be 'all', 'corrected' or indices, got {frames!r}")
    bad = [i for i in frames if not 0 <= int(i) < n]
    if bad:
        raise InputError(f"{what}: frame(s) {bad} out of range; it has {n} frame(s) (0-{n - 1})")
    return sorted({int(i) for i in frames})


def _add_frame(
    data: TrainingData,
    image: NDArray[Any],
    labels: NDArray[Any],
    group: str,
    index: int,
    min_masks: int,
    t: int | None = None,
    preparation: dict[str, Any] | None = None,
    z: int | None = None,
) -> None:
    where = f"{group} frame {index}" + ("" if z is None else f" z {z}")
    if image.shape != labels.shape:
        raise InputError(
            f"{where}: image and mask have different shapes "
            f"(image {tuple(image.shape)}, mask {tuple(labels.shape)})"
        )
    lab, n = _renumber(labels, group, index)
    if n < min_masks:
        inside = "" if z is None else f"z {z}: "
        data.skipped.append(
            SkippedFrame(group, index, f"{inside}{n} object(s), fewer than min_masks={min_masks}", z)
        )
        return
    data.frames.append(
        TrainingFrame(
            np.asarray(image, dtype=np.float32), lab, group, index, t, n, dict(preparation or {}), z
        )
    )


def check_usable(data: TrainingData, min_masks: int) -> None:
    """Raise :class:`InputError` when no frame is left, naming why each was skipped."""
    if data.frames:
        return
    if not data.skipped:
        raise InputError("no training frames: the inputs hold no frames")
    reasons = "; ".join(
        f"{Path(s.group).name}" + (f" frame {s.index}" if s.index >= 0 else "") + f": {s.reason}"
        for s in data.skipped[:10]
    )
    more = f" (and {len(data.skipped) - 10} more)" if len(data.skipped) > 10 else ""
    raise InputError(
        f"no training frames: all {len(data.skipped)} frame(s) were skipped (min_masks={min_masks}): "
        f"{reasons}{more}"
    )


def describe_frames(frames: list[TrainingFrame]) -> list[dict[str, Any]]:
    """Plain records of frames for the provenance file."""
    return [
        {"file": f.group, "frame": f.index, "t": f.t, **({} if f.z is None else {"z": f.z}),
         **({} if f.columns is None else {"columns": list(f.columns)}),
         "n_masks": f.n_masks, "shape": list(f.image.shape),
         "preparation": json.loads(json.dumps(f.preparation, default=str))}
        for f in frames
    ]
