"""The Cell Tracking Challenge layout of a tracked mask: ``mask000.tif``, ... and ``res_track.txt``.

The tracks come from ``batchseg track`` (``<base>-tracked.ome.tif`` and ``<base>_tracks.csv`` beside the
mask). In the CTC format a track has no gap: a track that skips frames is cut into segments, each
after the first a new label whose parent is the segment before it. ``res_track.txt`` holds one line
``L B E P`` per track (label, first and last frame, parent label or 0); frames are the mask's frame
indices (0-based) and file names have 3 digits (4 above 1000 frames), as the CTC tools expect.

A volume mask (``TZYX``) gives CTC's 3D+t layout: each ``mask###.tif`` is a ``(Z, Y, X)`` volume. Its
tracks are a tracked volume mask and tracks table beside it, named as ``batchseg track`` names them
(which tracks 2D time-lapses only); a volume mask of one time point needs none: each object is a track
of one frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tifffile
from numpy.typing import NDArray

from .._labels import open_mask_stack
from ..errors import InputError
from ..measure_3d import volume_reader
from ..tracking.files import TRACKED_SUFFIX, check_tracks_of, track_paths
from ._common import ExportInput, ExportOptions, atomic_dir
from ._volumes import VolumeItem

__all__ = [
    "TRACK_FILE", "check_ctc_input", "check_ctc_volume", "ctc_segments", "write_ctc", "write_ctc_folder",
    "write_ctc_volume",
]

TRACK_FILE = "res_track.txt"


def ctc_segments(
    frames_of: dict[int, list[int]], parents: dict[int, int]
) -> tuple[dict[tuple[int, int], int], list[tuple[int, int, int, int]]]:
    """Cut tracks at gaps: ``((track, frame) -> CTC label, [(L, B, E, P), ...])``.

    ``frames_of`` maps each track id to the sorted frames where it has pixels; ``parents`` a track to
    its mother track (0 or absent: none). A daughter's parent is the last segment of its mother.
    """
    next_label = max(frames_of, default=0) + 1
    label_at: dict[tuple[int, int], int] = {}
    last_segment: dict[int, int] = {}
    rows: list[tuple[int, int, int, int]] = []
    pending: list[tuple[int, int, int, int]] = []  # first segments: parents resolved at the end
    for track in sorted(frames_of):
        frames = frames_of[track]
        runs: list[list[int]] = [[frames[0]]]
        for f in frames[1:]:
            if f == runs[-1][-1] + 1:
                runs[-1].append(f)
            else:
                runs.append([f])
        previous = 0
        for k, run in enumerate(runs):
            label = track if k == 0 else next_label
            if k:
                next_label += 1
            for f in run:
                label_at[(track, f)] = label
            if k == 0:
                pending.append((label, run[0], run[-1], track))
            else:
                rows.append((label, run[0], run[-1], previous))
            previous = label
        last_segment[track] = previous
    for label, b, e, track in pending:
        mother = int(parents.get(track, 0))
        rows.append((label, b, e, last_segment.get(mother, 0) if mother else 0))
    return label_at, sorted(rows)


def write_ctc_folder(
    frames: Any, n_frames: int, parents: dict[int, int], folder: Path
) -> list[Path]:
    """Write ``mask###.tif`` per frame and ``res_track.txt`` into ``folder`` (which exists).

    ``frames(i)`` returns frame ``i`` labelled by track id (a tracked mask's frame; a ``(Z, Y, X)``
    volume for a volume mask).
    """
    frames_of: dict[int, list[int]] = {}
    for i in range(n_frames):  # pass 1: where each track has pixels (one frame in memory)
        for t in np.unique(frames(i)):
            if t:
                frames_of.setdefault(int(t), []).append(i)
    label_at, rows = ctc_segments(frames_of, parents)
    top = max((r[0] for r in rows), default=0)
    dtype = np.uint16 if top <= np.iinfo(np.uint16).max else np.uint32
    digits = 3 if n_frames <= 1000 else 4
    written = []
    for i in range(n_frames):  # pass 2: relabel segments after a gap
        arr = np.asarray(frames(i))
        out: NDArray[Any] = arr.astype(dtype, copy=True)
        for t in np.unique(arr):
            if t and label_at[(int(t), i)] != t:
                out[arr == t] = label_at[(int(t), i)]
        path = folder / f"mask{i:0{digits}d}.tif"
        tifffile.imwrite(path, out, compression="zlib")
        written.append(path)
    track_file = folder / TRACK_FILE
    track_file.write_text("".join(f"{L} {B} {E} {P}\n" for L, B, E, P in rows), encoding="ascii")
    return [*written, track_file]


def tracked_files(mask: Path) -> tuple[Path, Path]:
    """``(<base>-tracked.ome.tif, <base>_tracks.csv)`` of a mask (or of a tracked mask given itself)."""
    name = mask.name.replace(TRACKED_SUFFIX, ".ome.tif")
    csv, tracked, _ = track_paths(mask.with_name(name))
    return tracked, csv


def check_ctc_input(mask: Path) -> None:
    """Raise :class:`InputError` unless ``mask`` has its tracks (and they are of this mask, as it is now).

    :func:`~napari_batchseg.export.export_masks` calls it for every mask before writing anything.
    """
    tracked, csv = tracked_files(mask)
    missing = [str(p) for p in (tracked, csv) if not p.is_file()]
    if missing:
        raise InputError(f"{mask}: no tracks ({', '.join(missing)} missing): run batchseg track first")
    if not mask.name.endswith(TRACKED_SUFFIX):
        check_tracks_of(mask, csv)


def write_ctc(item: ExportInput, target: Path, options: ExportOptions) -> list[Path]:
    """``target/``: the CTC result folder of ``item``'s tracks (``batchseg track`` must have run)."""
    del options
    check_ctc_input(item.path)
    tracked, csv = tracked_files(item.path)
    table = pd.read_csv(csv, usecols=["track_id", "parent_track_id"]).drop_duplicates("track_id")
    parents = dict(zip(table["track_id"].astype(int), table["parent_track_id"].astype(int), strict=True))
    with open_mask_stack(tracked) as stack, atomic_dir(target) as tmp:
        files = write_ctc_folder(stack.frame, stack.n_frames, parents, tmp)
    return [target / f.name for f in files]


def _volume_tracks(item: VolumeItem) -> tuple[Path, Path] | None:
    """The tracked volume mask and tracks table of ``item``; ``None`` for one time point without them."""
    tracked, csv = tracked_files(item.path)
    if tracked.is_file() and csv.is_file():
        return tracked, csv
    if item.n_frames == 1:
        return None
    missing = [str(p) for p in (tracked, csv) if not p.is_file()]
    raise InputError(f"{item.path}: a volume mask of {item.n_frames} time points has no tracks "
                     f"({', '.join(missing)} missing); CTC results link objects over time and batchseg "
                     "track takes 2D time-lapses only: export one time point, or its tracks made elsewhere")


def check_ctc_volume(item: VolumeItem) -> None:
    """Raise :class:`InputError` unless the volume mask ``item`` can be exported as CTC (before any write)."""
    found = _volume_tracks(item)
    if found is None:
        return
    tracked, csv = found
    with volume_reader(tracked) as (n_t, read):
        shape = (n_t, *read(0).shape) if n_t else (0,)
    if shape != (item.n_frames, *item.shape_zyx):
        raise InputError(f"{tracked}: tracked mask is {shape}, its mask {item.path} "
                         f"{(item.n_frames, *item.shape_zyx)} (T, Z, Y, X): tracks of another mask")
    if not item.path.name.endswith(TRACKED_SUFFIX):
        check_tracks_of(item.path, csv)


def write_ctc_volume(item: VolumeItem, target: Path, options: ExportOptions) -> list[Path]:
    """``target/``: CTC 3D+t result of a volume mask: ``mask###.tif`` ``(Z, Y, X)`` and ``res_track.txt``."""
    del options
    found = _volume_tracks(item)
    parents: dict[int, int] = {}
    if found is not None:
        table = pd.read_csv(found[1], usecols=["track_id", "parent_track_id"]).drop_duplicates("track_id")
        parents = dict(zip(table["track_id"].astype(int), table["parent_track_id"].astype(int), strict=True))
    source = found[0] if found is not None else item.path
    with volume_reader(source) as (n_t, read), atomic_dir(target) as tmp:
        files = write_ctc_folder(read, n_t, parents, tmp)
    return [target / f.name for f in files]
