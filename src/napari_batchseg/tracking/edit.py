"""Track corrections: join two tracks, split a track at a frame, mark or unmark a division.

Each operation takes a :class:`~napari_batchseg.tracking.run.TrackResult` and returns a new one (the
input is never modified) with a one-line description of what changed, for the operation log. The
tracks table keeps each object's mask ``label``, so the corrected tracks relabel the original mask
exactly as the CLI does (:meth:`TrackResult.relabel`); the relabelled movie (``labels``), when the
result holds one, is changed the same way. No Qt here.

Rules (what keeps a lineage a lineage):

* a track has at most one object per frame: two tracks are joined only when one ends before the
  other starts, and the earlier track keeps its id;
* a mother ends before her daughters start: a track that divides cannot be joined to a later track
  (unmark its daughters first), and a division is marked only from a track that ends before the
  daughter starts;
* splitting a track at a frame gives the part from that frame on a new id (one above the largest); the
  track's daughters follow the later part.

:class:`EditHistory` keeps the operations in effect and undoes them, last first: the tracks table
before each operation is kept (operations copy it, so this costs no more than the tables themselves),
the relabelled movie is not: undoing maps its values back frame by frame
(:func:`retrack_labels`), so an undo stack never holds two copies of the movie.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .run import TrackResult

__all__ = ["EditHistory", "Edited", "TrackEditError", "join_tracks", "mark_division", "retrack_labels",
           "split_track", "track_at", "track_span", "unmark_division"]


class TrackEditError(ValueError):
    """A correction that would break the lineage, or names a track that does not exist."""


@dataclass(frozen=True)
class Edited:
    """A corrected result and one line saying what changed (for the operation log)."""

    result: TrackResult
    record: str


def track_span(result: TrackResult, track_id: int) -> tuple[int, int]:
    """``(first frame, last frame)`` of a track (input frames, as in the tracks table)."""
    frames = result.tracks.loc[result.tracks["track_id"] == int(track_id), "frame"]
    if frames.empty:
        raise TrackEditError(f"there is no track {int(track_id)}")
    return int(frames.min()), int(frames.max())


def track_at(result: TrackResult, frame: int, y: float, x: float, radius: float = np.inf) -> int:
    """The track whose centroid in input frame ``frame`` is nearest to ``(y, x)`` (pixels); 0 when none.

    ``radius`` bounds the distance (pixels).
    """
    rows = result.tracks[result.tracks["frame"] == int(frame)]
    if rows.empty:
        return 0
    d = np.hypot(rows["centroid_y_px"].to_numpy(float) - y, rows["centroid_x_px"].to_numpy(float) - x)
    k = int(np.argmin(d))
    return int(rows["track_id"].iloc[k]) if d[k] <= radius else 0


def _parent(tracks: pd.DataFrame, track_id: int) -> int:
    return int(tracks.loc[tracks["track_id"] == track_id, "parent_track_id"].iloc[0])


def _daughters(tracks: pd.DataFrame, track_id: int) -> list[int]:
    return sorted(int(t) for t in tracks.loc[tracks["parent_track_id"] == track_id, "track_id"].unique())


def _renamed(labels: NDArray[Any] | None, old: int, new: int, from_index: int = 0) -> NDArray[Any] | None:
    if labels is None:
        return None
    out = np.array(labels, copy=True)
    if new > np.iinfo(out.dtype).max:
        out = out.astype(np.uint32)
    part = out[from_index:]
    part[part == old] = new
    return out


def _result(result: TrackResult, tracks: pd.DataFrame, labels: NDArray[Any] | None) -> TrackResult:
    # a new result: its relabel maps (a cache of the table) are rebuilt from the new table
    return replace(result, tracks=tracks.reset_index(drop=True), labels=labels, _maps={})


def join_tracks(result: TrackResult, a: int, b: int) -> Edited:
    """One track from ``a`` and ``b``: the later one continues the earlier one (which keeps its id).

    The later track's daughters become the earlier track's; its own mother (if any) is dropped.

    Raises
    ------
    TrackEditError
        Same track, unknown track, the tracks overlap in time, or the earlier track divides.
    """
    a, b = int(a), int(b)
    if a == b:
        raise TrackEditError(f"track {a} cannot be joined to itself")
    span = {a: track_span(result, a), b: track_span(result, b)}
    first, second = (a, b) if span[a][0] <= span[b][0] else (b, a)
    if span[first][1] >= span[second][0]:
        raise TrackEditError(f"tracks {first} (frames {span[first][0]}-{span[first][1]}) and {second} "
                             f"(frames {span[second][0]}-{span[second][1]}) overlap in time: a track has one "
                             "object per frame")
    tracks = result.tracks
    daughters = _daughters(tracks, first)
    if daughters:
        raise TrackEditError(f"track {first} divides (daughters {', '.join(map(str, daughters))}): unmark "
                             "the division before joining it to a later track")
    out = tracks.copy()
    dropped = _parent(tracks, second)
    out.loc[out["track_id"] == second, "parent_track_id"] = _parent(tracks, first)
    out.loc[out["track_id"] == second, "track_id"] = first
    out.loc[out["parent_track_id"] == second, "parent_track_id"] = first
    out = out.sort_values(["frame", "label"], kind="stable")
    labels = _renamed(result.labels, second, first)
    note = (f"joined tracks {first} and {second}: track {second} (frames {span[second][0]}-"
            f"{span[second][1]}) continues track {first}")
    if dropped:
        note += f"; its mother {dropped} dropped"
    return Edited(_result(result, out, labels), note)


def split_track(result: TrackResult, track_id: int, frame: int) -> Edited:
    """Cut ``track_id`` before input frame ``frame``: from ``frame`` on it is a new track (no mother).

    The new id is one above the largest track id; the track's daughters follow the new track.

    Raises
    ------
    TrackEditError
        Unknown track, or ``frame`` not after the track's first frame / after its last frame.
    """
    track_id, frame = int(track_id), int(frame)
    first, last = track_span(result, track_id)
    if not first < frame <= last:
        raise TrackEditError(f"track {track_id} runs over frames {first}-{last}: split it at a frame from "
                             f"{first + 1} to {last}, not {frame}")
    new = result.max_track_id + 1
    out = result.tracks.copy()
    later = (out["track_id"] == track_id) & (out["frame"] >= frame)
    out.loc[out["parent_track_id"] == track_id, "parent_track_id"] = new
    out.loc[later, "parent_track_id"] = 0
    out.loc[later, "track_id"] = new
    labels = _renamed(result.labels, track_id, new, frame - result.start_frame)
    return Edited(_result(result, out, labels),
                  f"split track {track_id} at frame {frame}: frames {frame}-{last} are track {new}")


def mark_division(result: TrackResult, mother: int, daughter: int) -> Edited:
    """Make ``mother`` the parent of ``daughter`` (a division, or the mother of a cell entering).

    Raises
    ------
    TrackEditError
        Unknown track, same track, or the mother does not end before the daughter starts.
    """
    mother, daughter = int(mother), int(daughter)
    if mother == daughter:
        raise TrackEditError(f"track {mother} cannot be its own mother")
    (_, m_last), (d_first, _) = track_span(result, mother), track_span(result, daughter)
    if m_last >= d_first:
        raise TrackEditError(f"track {mother} (last frame {m_last}) does not end before track {daughter} "
                             f"starts (frame {d_first}): a mother ends where her daughters begin")
    before = _parent(result.tracks, daughter)
    if before == mother:
        raise TrackEditError(f"track {mother} is already the mother of track {daughter}")
    out = result.tracks.copy()
    out.loc[out["track_id"] == daughter, "parent_track_id"] = mother
    note = f"marked division: track {daughter} is a daughter of track {mother}"
    if before:
        note += f" (was of track {before})"
    if len(_daughters(out, mother)) == 1:  # (a walk: read as a division of one, which the CTC export
        note += f"; track {mother} has 1 daughter so far (mark the other; a cell that did not divide: join)"
    return Edited(_result(result, out, result.labels), note)  # and its scores take as a continuation)


def unmark_division(result: TrackResult, daughter: int) -> Edited:
    """Clear the mother of ``daughter``.

    Raises
    ------
    TrackEditError
        Unknown track, or a track without a mother.
    """
    daughter = int(daughter)
    track_span(result, daughter)
    before = _parent(result.tracks, daughter)
    if not before:
        raise TrackEditError(f"track {daughter} has no mother")
    out = result.tracks.copy()
    out.loc[out["track_id"] == daughter, "parent_track_id"] = 0
    return Edited(_result(result, out, result.labels),
                  f"unmarked division: track {daughter} is no longer a daughter of track {before}")


def retrack_labels(labels: NDArray[Any], before: TrackResult, after: TrackResult) -> NDArray[Any]:
    """``labels`` (a movie relabelled by ``before``'s track ids) relabelled by ``after``'s track ids.

    Both results must hold the same objects (``frame``, ``label``): corrections of one tracking. Each
    frame is mapped through its own table (in a frame, an object and its track id are one to one), so
    the movie is never copied more than once.

    Raises
    ------
    TrackEditError
        When the two results do not hold the same objects.
    """
    keys = ["frame", "label"]
    old = before.tracks[[*keys, "track_id"]]
    new = after.tracks[[*keys, "track_id"]]
    both = old.merge(new, on=keys, how="outer", suffixes=("_old", "_new"), indicator=True)
    if len(both) != len(old) or len(both) != len(new) or (both["_merge"] != "both").any():
        raise TrackEditError("the two tracks tables do not hold the same objects: not corrections of one "
                             "tracking")
    arr = np.asarray(labels)
    top = max(after.max_track_id, int(arr.max()) if arr.size else 0)
    out = np.zeros(arr.shape, dtype=np.uint32 if top > np.iinfo(np.uint16).max else np.uint16)
    for frame, group in both.groupby("frame"):
        index = int(frame) - after.start_frame
        src = group["track_id_old"].to_numpy(np.int64)
        lut = np.zeros(int(max(src.max(), arr[index].max())) + 1, dtype=out.dtype)
        lut[src] = group["track_id_new"].to_numpy(np.int64)
        out[index] = lut[arr[index]]
    return out


class EditHistory:
    """Corrections of one tracking result, undone last first.

    ``apply`` an :class:`Edited` made from :attr:`current`; ``undo`` goes back one operation. The
    records of the operations in effect (:attr:`records`) are what a save logs: an undone operation
    no longer describes the tracks, so it leaves no record. At most ``max_undo`` operations are kept
    for undo (the oldest are forgotten; their records stay).

    Parameters
    ----------
    result
        The tracks as tracked (the bottom of the stack).
    max_undo
        How many operations can be undone.
    """

    def __init__(self, result: TrackResult, max_undo: int = 100) -> None:
        if max_undo < 1:
            raise ValueError(f"max_undo must be >= 1, got {max_undo}")
        self.max_undo = int(max_undo)
        self._current = result
        self._records: list[str] = []
        self._undo: list[TrackResult] = []  # the result before each undoable operation, tables only

    @property
    def current(self) -> TrackResult:
        """The tracks with every operation in effect applied."""
        return self._current

    @property
    def records(self) -> list[str]:
        """One line per operation in effect, in order (the operation log)."""
        return list(self._records)

    @property
    def can_undo(self) -> bool:
        """Whether an operation can be undone."""
        return bool(self._undo)

    @property
    def last(self) -> str:
        """The record of the operation :meth:`undo` would undo (empty when none)."""
        return self._records[-1] if self._undo else ""

    def apply(self, edited: Edited) -> TrackResult:
        """Make ``edited`` (an operation on :attr:`current`) current; returns its result."""
        self._undo.append(replace(self._current, labels=None, _maps={}))
        del self._undo[: -self.max_undo]
        self._records.append(edited.record)
        self._current = edited.result
        return edited.result

    def undo(self) -> Edited:
        """Undo the last operation: the result before it, and a line saying what was undone.

        The relabelled movie, when the current result holds one, is mapped back to the earlier track
        ids (:func:`retrack_labels`).

        Raises
        ------
        TrackEditError
            When there is nothing to undo.
        """
        if not self._undo:
            raise TrackEditError("nothing to undo")
        before = self._undo[-1]
        labels = self._current.labels
        restored = before if labels is None else replace(
            before, labels=retrack_labels(labels, self._current, before), _maps={})
        self._undo.pop()
        record = self._records.pop()
        self._current = restored
        return Edited(restored, f"undid: {record}")
