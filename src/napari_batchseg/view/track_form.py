"""The "Track cells" dock's form and jobs, without Qt (``_napari._track_widget`` is its view).

Its controls (:data:`TRACK_FIELDS`, built by ``_napari._qtutil.Fields``; checked by default:
:data:`CHECKED`), the :class:`~napari_batchseg.tracking.TrackParams` they stand for
(:func:`track_params`), the tracking job (:func:`track_layer_data`, which reads the layer's data in the
worker), the Tracks layer reopened tracks reuse (:func:`saved_tracks_layer`) and the lines shown when
tracks are saved or cannot be. The tracks layer, the selection and the buttons' state are :mod:`.tracks`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..io.sources import PixelSize
from ..tracking import TRACKERS, TrackParams, TrackResult, track_masks
from ..tracking.files import TrackFileResult
from .fields import Field, choices
from .layer_files import is_kind, layer_meta
from .stream_layers import EDITED

__all__ = ["CHECKED", "NO_MASK", "PARAM_KEYS", "RESULT_REMOVED", "TRACK_FIELDS", "UNSAVED_EDITS",
           "name_saved", "save_refusal", "saved_text", "track_layer_data", "track_params"]

#: the fields that are :class:`TrackParams` fields of the same name
PARAM_KEYS = ("max_distance", "gap_frames", "divisions", "daughter_share", "method")
TRACK_FIELDS = (
    Field("method", "choice", "Method", choices=choices(tuple(TRACKERS)), value=TrackParams().method),
    Field("max_distance", "float", "Max distance", 0.5, 10_000.0, TrackParams().max_distance, suffix=" px"),
    Field("gap_frames", "int", "Gap frames", 0, 100),
    Field("divisions", "check", text="Divisions"),
    Field("daughter_share", "float", "Daughter share", 0.05, 10.0, TrackParams().daughter_share, step=0.05,
          tip="laptrack: a division is kept when both daughters are under this share of their mother's "
              "area (lower it when neighbours are taken for daughters; over 1 keeps every division)"),
    Field("track_a", "int", hi=10**9, tip="Track A (0: none); clicking a cell selects its track"),
    Field("track_b", "int", hi=10**9, tip="Track B (0: none); Shift+click a cell"),
    Field("frame", "int", hi=10**9,
          tip="Split A here: from this frame on, A is a new track (set by a click)"),
    Field("only_selected", "check", text="Show track A alone"),
)
#: the check boxes that start checked
CHECKED = {"divisions": True, "only_selected": True}
#: Save tracks of a layer whose hand corrections are not in its mask file yet
UNSAVED_EDITS = ("Not saved: {name} has corrections not saved to its mask file; save them first (Batch "
                 "segmentation, Correct tab: Save corrections), then Save tracks again.")
NO_MASK = ("Not saved: the tracked layer has no mask file (open a _vSM.ome.tif or save its mask first); "
           "File > Save Layers keeps the tracked labels elsewhere.")
#: both layers showing the result were removed: the dock forgets it
RESULT_REMOVED = ("The tracked labels and tracks layers were removed: their tracks are forgotten, Save "
                  "tracks is off (Track cells tracks the layer again).")


#: *Track cells* with no layer to track, or while a job runs
NO_LAYER = "Choose a time-lapse Labels layer (T, Y, X)."
BUSY = "Busy…"


def save_refusal(mask: str, source: Any) -> str | None:
    """Why *Save tracks* writes nothing: no mask file, or the tracked layer's corrections not in it."""
    if not mask:
        return NO_MASK
    if source is not None and layer_meta(source).get("dirty"):  # the file has other objects
        return UNSAVED_EDITS.format(name=source.name)
    return None


def saved_tracks_layer(layers: Iterable[Any], tracks_csv: str | None) -> Any:
    """The Tracks layer opened with the saved tracks ``tracks_csv`` (``None``: none, or no file)."""
    return next((lay for lay in layers if tracks_csv and is_kind(lay, "Tracks")
                 and layer_meta(lay).get("tracks_csv") == tracks_csv), None)


def track_params(values: Mapping[str, Any]) -> TrackParams:
    """The tracking parameters of the form's ``values`` (raises ``ValueError`` for bad ones)."""
    return TrackParams(**{key: values[key] for key in PARAM_KEYS})


def track_layer_data(data: Any, params: TrackParams, pixel_size: PixelSize, start_frame: int) -> TrackResult:
    """Track a ``(T, Y, X)`` Labels layer's ``data`` (run in a worker: reading a lazy array happens here)."""
    return track_masks(np.asarray(data), params.max_distance, params.gap_frames, params.divisions,
                       params.method, pixel_size=pixel_size, start_frame=start_frame, model=params.model)


def saved_text(result: TrackFileResult, n_records: int) -> str:
    """The status line once the tracks CSV, the tracked mask and the log are written."""
    return (f"Saved {result.tracks_csv.name}, {result.tracked_mask.name} and {result.log.name} "
            f"({n_records} correction(s)) in {Path(result.tracks_csv).parent}.")


def name_saved(*layers: Any) -> None:
    """The layers of saved tracks lose `` (edited)`` from their names, as a mask layer saved does.

    ``… (edited) tracked``: tracked while its source's corrections were unsaved; the files hold what
    they show now (``None``: no such layer).
    """
    for layer in layers:
        if layer is not None and EDITED in layer.name:
            layer.name = layer.name.replace(EDITED, "")
