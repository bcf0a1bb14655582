"""What the "Track cells" dock shows and decides, without Qt (``_napari._track_widget`` is its view).

The Tracks layer's data and division graph (:func:`tracks_layer_data`, of a table read back:
:func:`tracks_table_layer_data`), the tracking inputs taken from a Labels layer's ``batchseg``
metadata (:func:`track_inputs`) and the mask file its tracks are saved beside (:func:`tracked_mask`; once
the tracked layer is removed: ``track_form.SourceSeen``),
the track under a click (:func:`track_under`), the counts line (:func:`track_counts`), the frames a split
takes (:func:`split_frames`), which buttons are enabled (:func:`track_buttons`), and the changes to the
layers shown: new tracks (:func:`set_tracks`), the track selected (:func:`show_track`) and the clicks that
select one (:func:`hook_clicks`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..io.sources import PixelSize
from ..tracking import TrackResult
from ..tracking.edit import track_at

NO_UNDO = "Undo the last correction (none yet)"
SAVE_TIP = ("Write the tracks CSV, the tracked mask and the log with the corrections beside the layer's mask "
            "file (reopened tracks: where they were opened from; atomic)")
NO_OBJECTS = "No objects to track: the layer's frames are empty (napari's Tracks layer cannot be empty)."
NO_SOURCE = ("Not opened: the mask these tracks were made from is not found (neither where their "
             "-tracked.log names it nor beside them); put it back and open the _tracks.csv again.")


def tracks_layer_data(result: TrackResult) -> tuple[NDArray[np.float64], dict[int, list[int]]]:
    """``(data, graph)`` of a napari Tracks layer: rows ``track_id, t, y, x``; daughters -> mother.

    ``t`` is the mask's frame index (the layer's own frame axis).
    """
    return tracks_table_layer_data(result.tracks, result.start_frame)


def tracks_table_layer_data(tracks: pd.DataFrame, start_frame: int = 0,
                            ) -> tuple[NDArray[np.float64], dict[int, list[int]]]:
    """:func:`tracks_layer_data` of a tracks table (``t`` = its ``frame`` - ``start_frame``)."""
    data = np.column_stack([
        tracks["track_id"].to_numpy(float), (tracks["frame"] - start_frame).to_numpy(float),
        tracks["centroid_y_px"].to_numpy(float), tracks["centroid_x_px"].to_numpy(float),
    ])
    parents = tracks.drop_duplicates("track_id")
    graph = {int(k): [int(p)] for k, p in zip(parents["track_id"], parents["parent_track_id"], strict=True)
             if p > 0}
    return data, graph


def track_counts(result: TrackResult) -> str:
    """``"N tracks in F frames, D division(s)."``: D counts the mothers."""
    parents = result.tracks.loc[result.tracks["parent_track_id"] > 0, "parent_track_id"].nunique()
    return f"{result.n_tracks} tracks in {result.n_frames} frames, {parents} division(s)."


def track_inputs(meta: Mapping[str, Any]) -> tuple[int, PixelSize]:
    """``(first input frame, pixel size)`` of a Labels layer from its ``batchseg`` metadata (0, unknown)."""
    sizes = meta.get("pixel_size") or {}
    return int(meta.get("first_frame") or 0), PixelSize(**{k: sizes.get(k) for k in ("x", "y", "z", "t")})


def tracked_mask(meta: Mapping[str, Any]) -> str | None:
    """The mask file that tracks of a Labels layer are saved beside, from its ``batchseg`` metadata.

    A reopened tracked mask's source (``tracked_from``), else the layer's own mask file; ``None``: none.
    """
    path = meta.get("tracked_from") or meta.get("mask_path")
    return str(path) if path else None


def track_under(labels: NDArray[Any], result: TrackResult, pos: Any, max_distance: float) -> tuple[int, int]:
    """``(track, input frame)`` under the data position ``pos`` (``t, y, x``) of the tracked ``labels``.

    The track is the labels' value there, else the track whose centroid in that frame is nearest within
    ``max_distance`` pixels; 0 when none.
    """
    p = np.asarray(pos, float)[-3:]
    t, y, x = (int(round(v)) for v in p)
    track = 0
    if 0 <= t < labels.shape[0] and 0 <= y < labels.shape[1] and 0 <= x < labels.shape[2]:
        track = int(labels[t, y, x])
    frame = t + result.start_frame
    if not track:
        track = track_at(result, frame, p[1], p[2], max_distance)
    return track, frame


@dataclass(frozen=True)
class TrackButtons:
    """Which of the dock's buttons are enabled, and the Undo button's tooltip."""

    track: bool
    edit: bool  # join, split, mark and unmark a division
    save: bool
    undo: bool
    undo_tip: str
    save_tip: str = SAVE_TIP


def not_shown(result: TrackResult, layer: Any, layers: Iterable[Any]) -> str | None:
    """Why a tracking result is not shown over ``layer`` (``None``: it is).

    Its frames held no object (napari's Tracks layer raises on no rows), or ``layer`` is no longer among
    napari's ``layers`` (removed while it was tracked: no tracks are added for a layer not there). Told
    apart by napari's ``unique_id``: a dock opened from napari's menu gets each layer looked up by name in
    a new proxy (by identity, every layer tracked was "removed").
    """
    if not any(getattr(lay, "unique_id", lay) == getattr(layer, "unique_id", layer) for lay in layers):
        return f"Not shown: the layer {layer.name} was removed while it was being tracked."
    return NO_OBJECTS if result.tracks.empty else None


def split_frames(result: TrackResult) -> tuple[int, int]:
    """The frames *Split A at frame* takes: after the first tracked frame, up to the last one."""
    first = result.start_frame + 1
    return first, max(first, result.start_frame + result.n_frames - 1)


#: the *Frame* field's tooltip (``{mapping}``: how napari's slider counts, for a movie not from frame 0)
FRAME_TIP = "Split A here: from this frame on, A is a new track (set by a click){mapping}"


def set_frame_field(field: Any, label: Any, result: TrackResult) -> None:
    """Make the dock's *Frame* spin box (by its Qt setters) take ``result``'s frames, on the first it can.

    Its numbers are the file's frames, as in the Measure table and the tracks CSV. napari's slider counts
    the layer's frames from 0: for a movie from frame N (a run from frame N) its ``label`` says "File frame"
    and the box's tooltip how the two count, so that a slider number typed in is not taken for the file's.
    (The box shows the bare number: with a "file frame " prefix it was cut off in the 440 px dock.)
    """
    lo, hi = split_frames(result)
    start = result.start_frame
    field.setRange(lo, hi)
    field.setValue(lo)
    field.setPrefix("")
    label.setText("File frame" if start else "Frame")
    mapping = (f". The file's frame numbers (as in the Measure table and the tracks CSV): this movie starts "
               f"at frame {start}, so napari's slider at k shows file frame {start} + k") if start else ""
    field.setToolTip(FRAME_TIP.format(mapping=mapping))
    label.setToolTip(field.toolTip())


def track_buttons(idle: bool, tracked: bool, savable: bool, last: str,
                  why: str | None = None) -> TrackButtons:
    """The buttons' state.

    ``idle``: no job runs; ``tracked``: a result is shown; ``savable``: a mask file to save beside that
    can still take these tracks (``track_form.SourceSeen.can_save``);
    ``last``: the last correction's record (``""`` when none); ``why``: why Save writes nothing, its
    tooltip while a result shown cannot be saved (a disabled button says nothing when pressed).
    """
    return TrackButtons(track=idle, edit=idle and tracked, save=idle and tracked and savable,
                        undo=idle and bool(last), undo_tip=f"Undo: {last}" if last else NO_UNDO,
                        save_tip=why if why and tracked and not savable else SAVE_TIP)


def set_tracks(layer: Any, data: NDArray[np.float64], graph: dict[int, list[int]]) -> None:
    """Show ``data`` and ``graph`` (:func:`tracks_layer_data`) in a napari Tracks ``layer`` (``None``: none).

    The graph is emptied first: napari checks it against the data it has when it is set.
    """
    if layer is not None:
        layer.graph = {}
        layer.data = data
        layer.graph = graph


def show_track(labels: Any, track: int, alone: bool) -> None:
    """Select ``track`` in the tracked ``labels`` layer (``None``: none), shown ``alone`` (0: every track)."""
    if labels is None:
        return
    if track:
        labels.selected_label = track
    labels.show_selected_label = bool(track) and alone


def hook_clicks(callback: Callable[..., Any], *layers: Any) -> None:
    """Call ``callback(layer, event)`` on a click (a mouse drag's start) on each of ``layers`` (once)."""
    for layer in layers:
        if layer is not None and callback not in layer.mouse_drag_callbacks:
            layer.mouse_drag_callbacks.append(callback)


def unhook_clicks(callback: Callable[..., Any], layers: Iterable[Any]) -> None:
    """Undo :func:`hook_clicks` on ``layers``."""
    for layer in layers:
        if callback in layer.mouse_drag_callbacks:
            layer.mouse_drag_callbacks.remove(callback)
