"""The "Track cells" dock's form and jobs, without Qt (``_napari._track_widget`` is its view).

Its controls (:data:`TRACK_FIELDS`, built by ``_napari._qtutil.Fields``; checked by default:
:data:`CHECKED`), the :class:`~napari_batchseg.tracking.TrackParams` they stand for
(:func:`track_params`), the tracking job (:func:`track_layer_data`, which reads the layer's data in the
worker), the Tracks layer reopened tracks reuse (:func:`saved_tracks_layer`), the tracked layer as Save
tracks needs it, kept once it is removed (:class:`SourceSeen`), and the lines shown when tracks are saved
or cannot be. The tracks layer, the selection and the buttons' state are :mod:`.tracks`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..io.sources import PixelSize
from ..tracking import TRACKERS, TrackParams, TrackResult, track_masks
from ..tracking.files import TrackFileResult
from .fields import Field, choices
from .layer_files import is_kind, layer_meta
from .stream_layers import EDITED
from .tracks import FRAME_TIP, tracked_mask

__all__ = ["CHECKED", "NOTHING_SEEN", "NO_MASK", "PARAM_KEYS", "TRACK_FIELDS",
           "UNSAVED_EDITS", "SourceSeen", "name_saved", "saved_text", "source_seen", "track_layer_data",
           "track_params"]

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
    Field("frame", "int", hi=10**9, tip=FRAME_TIP.format(mapping="")),
    Field("only_selected", "check", text="Show track A alone"),
)
#: the check boxes that start checked
CHECKED = {"divisions": True, "only_selected": True}
#: Save tracks of a layer whose hand corrections are not in its mask file yet
UNSAVED_EDITS = ("Not saved: {name} has corrections not saved to its mask file; save them first (Batch "
                 "segmentation, Correct tab: Save corrections), then Save tracks again.")
NOT_SAVED = "Not saved: "
#: the tracked layer removed with corrections not saved to its mask file (the tracks are of them)
REMOVED_UNSAVED = ("{name} was removed with corrections not saved to {file}, and these tracks are of them: "
                   "they no longer match the file. Keep them with File > Save Layers (the tracked labels), "
                   "or open {file} again and track it.")
#: the tracked layer's mask file rewritten under it (``stale``: who rewrote which file)
STALE_MASK = ("{stale} under the tracked layer; these tracks are of the mask as it was: open the new mask "
              "and track it again (File > Save Layers keeps the tracked labels).")
NO_MASK = ("Not saved: the tracked layer has no mask file (open a _vSM.ome.tif or save its mask first); "
           "File > Save Layers keeps the tracked labels elsewhere.")


#: *Track cells* with no layer to track, or while a job runs
NO_LAYER = "Choose a time-lapse Labels layer (T, Y, X)."
BUSY = "Busy…"


@dataclass(frozen=True)
class SourceSeen:
    """The Labels layer tracked as the dock last saw it (kept once it is removed): what Save tracks needs.

    Read again from the layer whenever the dock decides (its metadata changes without an event: a mask
    file rewritten under it, a brush stroke).
    """

    name: str
    mask: str | None  # the mask file its tracks are saved beside (:func:`.tracks.tracked_mask`)
    dirty: bool = False  # it holds corrections not saved to that file
    stale: str = ""  # why it has no mask file any more: rewritten under it (``layer_files.mark_rewritten``)
    removed: bool = False  # removed from the viewer

    def refusal(self) -> str | None:
        """Why *Save tracks* writes nothing (``None``: it saves)."""
        if not self.mask:
            return f"{NOT_SAVED}{STALE_MASK.format(stale=self.stale)}" if self.stale else NO_MASK
        if self.dirty and self.removed:
            return f"{NOT_SAVED}{self.removal_note()}"
        return UNSAVED_EDITS.format(name=self.name) if self.dirty else None

    @property
    def can_save(self) -> bool:
        """Whether *Save tracks* is on: a file to save beside, and corrections that can still go in it.

        A layer there with unsaved corrections leaves it on: pressing it says to save them first.
        """
        return bool(self.mask) and not (self.dirty and self.removed)

    def removal_note(self) -> str:
        """What the dock says when the layer is removed (``""``: nothing)."""
        if not (self.removed and self.dirty and self.mask):
            return ""
        return REMOVED_UNSAVED.format(name=self.name, file=Path(self.mask).name)


#: no Labels layer tracked
NOTHING_SEEN = SourceSeen("", None)


def source_seen(layer: Any, removed: bool = False, of_edits: bool = True) -> SourceSeen:
    """What *Save tracks* needs of the Labels layer tracked, read from it now (``removed``: it is gone).

    ``of_edits``: the tracks were made of its corrections not saved then. Tracks of the layer as its mask
    file holds it are saved whatever was corrected since (a walk: "save them first" was said, and once they
    were, the tracks no longer matched the file).
    """
    meta = layer_meta(layer)
    return SourceSeen(str(layer.name), tracked_mask(meta), of_edits and bool(meta.get("dirty")),
                      str(meta.get("stale") or ""), removed)


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
    """The status line once the tracks CSV, the tracked mask and the log are written.

    Replaced tracks whose saved corrections these do not carry on were kept (``result.kept``): said, and
    under which name.
    """
    text = (f"Saved {result.tracks_csv.name}, {result.tracked_mask.name} and {result.log.name} "
            f"({n_records} correction(s)) in {Path(result.tracks_csv).parent}.")
    if result.kept:
        text += (f" The tracks replaced held saved corrections these do not carry on: kept as "
                 f"{result.kept[0].name} (and its tracked mask and log).")
    return text


def name_saved(*layers: Any) -> None:
    """The layers of saved tracks lose `` (edited)`` from their names, as a mask layer saved does.

    ``… (edited) tracked``: tracked while its source's corrections were unsaved; the files hold what
    they show now (``None``: no such layer).
    """
    for layer in layers:
        if layer is not None and EDITED in layer.name:
            layer.name = layer.name.replace(EDITED, "")
