"""The "Track cells" dock: track a time-lapse Labels layer and show the tracks over it.

Tracking (:func:`napari_batchseg.tracking.track_masks`) runs in a background job (:mod:`._jobs`); the
GUI thread only copies the layer's data before and adds the layers after. The result is a Tracks layer
(``track_id, t, y, x`` with the division graph) in the Labels layer's scale and translate, and a Labels
layer relabelled by track id (one colour per cell over time).

Corrections: a click on the tracked Labels layer (or on the layer that was tracked), or near a track's
point in the Tracks layer, selects that track as *A* (Shift+click: as *B*) and shows its cell alone in
every frame (``selected_label`` + ``show_selected_label``). *Join A + B*, *Split A at frame*, *A is B's
mother* and *A has no mother* are :mod:`napari_batchseg.tracking.edit` operations, run in the
background; *Undo* takes back the last one (:class:`~napari_batchseg.tracking.edit.EditHistory`, also
in the background: it maps the tracked movie back); *Save tracks* writes the tracks CSV, the tracked
mask and the log with one record per operation in effect beside the layer's ``_vSM.ome.tif`` (reopened
tracks: where they were opened from) (:func:`~napari_batchseg.tracking.files.save_track_edits`, atomic),
in the background too.

Saved tracks: a ``-tracked.ome.tif`` Labels layer opened with its ``_tracks.csv`` (the plugin's reader)
is not tracked again: *Track cells* reads the saved tracks back in the background
(:func:`~napari_batchseg.tracking.files.read_saved_tracks`, refused when the mask changed since) and
reuses the Tracks layer opened with them, so corrections go on; a save keeps the earlier corrections'
records in the log.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from qtpy.QtWidgets import QComboBox, QGroupBox, QLabel, QPushButton, QWidget

from ..tracking import TrackResult
from ..tracking import edit as te
from ..tracking.files import SavedTracks, read_saved_tracks, save_track_edits
from ..view import tracks as track_view
from ..view.layer_files import layer_meta
from ..view.stream_layers import offered
from ..view.track_form import (
    BUSY,
    CHECKED,
    NO_LAYER,
    NO_MASK,
    TRACK_FIELDS,
    UNSAVED_EDITS,
    saved_text,
    saved_tracks_layer,
    track_layer_data,
    track_params,
)
from ..view.tracks import (
    NO_UNDO,
    split_frames,
    track_buttons,
    track_counts,
    track_inputs,
    track_under,
    tracks_layer_data,
)
from ._dock import Dock
from ._jobs import close_with
from ._qtutil import form_box, grid, refill

__all__ = ["TrackWidget"]


class TrackWidget(Dock):
    """Dock widget: track the objects of a (T, Y, X) Labels layer; add a Tracks layer over it; correct it."""

    def __init__(self, napari_viewer: Any, parent: QWidget | None = None) -> None:
        super().__init__(napari_viewer, parent, fields=TRACK_FIELDS)
        self.fields.show(CHECKED)
        self.result: TrackResult | None = None
        #: the corrections since tracking, undone last first
        self.history: te.EditHistory | None = None
        self._source: Any = None  # the Labels layer tracked
        self._tracked: Any = None  # its copy relabelled by track id
        self._tracks: Any = None  # the Tracks layer
        self._job = ""  # "track", "edit" or "save" while one runs
        self._earlier: list[str] = []  # the corrections saved before the saved tracks were reopened
        self._saved_in: Path | None = None  # the folder of the reopened tracks (saves go back there)
        self.labels_combo = QComboBox(self)
        self.track_btn = QPushButton("Track cells", self)
        self.track_btn.clicked.connect(self.track)
        self.add(form_box(("Labels (T, Y, X)", self.labels_combo),
                      *self.fields.rows("method", "max_distance", "gap_frames"), ("", self.divisions),
                      *self.fields.rows("daughter_share")),
                 self.track_btn, self._corrections_box(), self.status)
        self.body.addStretch(1)
        self.follow_layers(self._refresh)
        close_with(self, self._unhook_clicks)  # a closed dock is called by no click on the layers
        self._update_buttons()

    def _corrections_box(self) -> QGroupBox:
        box = QGroupBox("Correct tracks (click a cell: A; Shift+click: B)", self)
        self.track_a.valueChanged.connect(self._show_selected)
        self.only_selected.toggled.connect(self._show_selected)
        self.join_btn = QPushButton("Join A + B", box)
        self.split_btn = QPushButton("Split A at frame", box)
        self.mark_btn = QPushButton("A is B's mother", box)
        self.unmark_btn = QPushButton("A has no mother", box)
        self.undo_btn = QPushButton("Undo", box)
        self.undo_btn.setToolTip(NO_UNDO)
        self.save_btn = QPushButton("Save tracks", box)
        self.save_btn.setToolTip("Write the tracks CSV, the tracked mask and the log with the corrections "
                                 "beside the layer's mask file (reopened tracks: where they were opened "
                                 "from; atomic)")
        self.join_btn.clicked.connect(lambda: self.apply(te.join_tracks, self.track_a.value(),
                                                         self.track_b.value()))
        self.split_btn.clicked.connect(lambda: self.apply(te.split_track, self.track_a.value(),
                                                          self.frame.value()))
        self.mark_btn.clicked.connect(lambda: self.apply(te.mark_division, self.track_a.value(),
                                                         self.track_b.value()))
        self.unmark_btn.clicked.connect(lambda: self.apply(te.unmark_division, self.track_a.value()))
        self.undo_btn.clicked.connect(self.undo)
        self.save_btn.clicked.connect(self.save)
        grid((QLabel("A", box), 0, 0, 1), (self.track_a, 0, 1, 1), (QLabel("B", box), 0, 2, 1),
             (self.track_b, 0, 3, 1), (QLabel("Frame", box), 1, 0, 1), (self.frame, 1, 1, 1),
             (self.only_selected, 1, 2, 2), (self.join_btn, 2, 0, 2), (self.split_btn, 2, 2, 2),
             (self.mark_btn, 3, 0, 2), (self.unmark_btn, 3, 2, 2), (self.undo_btn, 4, 0, 2),
             (self.save_btn, 4, 2, 2), into=box, flush=False)
        return box

    @property
    def records(self) -> list[str]:
        """The corrections in effect, one line each (the log's ``track correction`` records on save)."""
        return self.history.records if self.history is not None else []

    def _update_buttons(self) -> None:
        state = track_buttons(not self._job, self.result is not None, bool(self._mask_path()),
                              self.history.last if self.history is not None else "")
        self.track_btn.setEnabled(state.track)
        for btn in (self.join_btn, self.split_btn, self.mark_btn, self.unmark_btn):
            btn.setEnabled(state.edit)
        self.save_btn.setEnabled(state.save)
        self.undo_btn.setEnabled(state.undo)
        self.undo_btn.setToolTip(state.undo_tip)

    def _refresh(self, *_: Any) -> None:
        refill(self.labels_combo, [layer.name for layer in self.viewer.layers
                                   if offered(layer, "Labels") and getattr(layer, "ndim", 0) == 3])
        for attr in ("_source", "_tracked", "_tracks"):
            if getattr(self, attr) is not None and getattr(self, attr) not in self.viewer.layers:
                setattr(self, attr, None)

    def _mask_path(self) -> str | None:
        return track_view.tracked_mask(layer_meta(self._source) if self._source is not None else {})

    # ------------------------------------------------------------------ tracking
    def track(self) -> bool:
        """Start tracking the chosen layer in the background; ``False`` when nothing can start.

        The layer's data object is handed to the job as it is: reading it (a lazy array) happens there.
        """
        name = self.labels_combo.currentText()
        if not name or self._job:
            self.status.setText(NO_LAYER if not name else BUSY)
            return False
        layer = self.viewer.layers[name]
        meta = layer_meta(layer)
        if meta.get("role") == "tracked" and meta.get("tracks_csv"):  # saved tracks: read them back
            if not meta.get("tracked_from"):
                self.status.setText(track_view.NO_SOURCE)
                return False
            return self._reopen(layer, str(meta["tracked_from"]), str(meta["tracks_csv"]))
        try:
            params = track_params(self.fields.values())
        except ValueError as exc:
            self.status.setText(self.phrase(exc))
            return False
        start, pixel_size = track_inputs(meta)
        self.status.setText(f"Tracking {name} ({layer.data.shape[0]} frames)…")
        self._earlier, self._saved_in = [], None
        self._start("track", lambda: track_layer_data(layer.data, params, pixel_size, start),
                    lambda result: self._show(layer, result), "Tracking failed")
        return True

    def _reopen(self, layer: Any, mask: str, csv: str) -> bool:
        """Read the saved tracks of a reopened tracked mask in the background (checked against ``mask``)."""
        self.status.setText(f"Opening the saved tracks {Path(csv).name}…")

        def shown(saved: SavedTracks) -> None:
            self._earlier, self._saved_in = list(saved.corrections), saved.tracks_csv.parent
            self._show(layer, saved.result, reopened=True)

        self._start("track", lambda: read_saved_tracks(mask, csv), shown, "Saved tracks not opened")
        return True

    def _start(self, job: str, fn: Callable[[], Any], on_item: Callable[[Any], None], failed: str) -> None:
        self._job = job
        self._update_buttons()

        def done() -> None:
            self._job = ""
            self._update_buttons()

        self.run_job(fn, on_item=on_item, on_done=done, failed=failed, name=f"batchseg-{job}",
                     yield_cpu=job == "track")

    def _show(self, layer: Any, result: TrackResult, reopened: bool = False) -> None:
        """Show ``result`` over ``layer``; ``reopened``: ``layer`` is the tracked mask (saved tracks)."""
        if result.tracks.empty:  # nothing to show, and napari's Tracks layer raises on no rows
            self.status.setText(track_view.NO_OBJECTS)
            return
        self.result, self.history, self._source = result, te.EditHistory(result), layer
        data, graph = tracks_layer_data(result)
        common = {"scale": layer.scale, "translate": layer.translate, "units": layer.units,
                  "axis_labels": layer.axis_labels}
        csv = layer_meta(layer).get("tracks_csv") if reopened else None
        if reopened:
            self._tracked = layer
            if result.labels is not None:
                layer.data = result.labels
        elif result.labels is not None:
            self._tracked = self.viewer.add_labels(result.labels, name=f"{layer.name} tracked", **common)
        opened = saved_tracks_layer(self.viewer.layers, csv)
        if opened is not None:  # the Tracks layer opened with the saved tracks
            self._tracks = opened
            self._set_tracks(data, graph)
        else:
            self._tracks = self.viewer.add_tracks(data, graph=graph, name=f"{layer.name} tracks",
                                                  tail_length=10, **common)
        for target in (self._tracked, self._tracks, layer):
            if target is not None and self._on_click not in target.mouse_drag_callbacks:
                target.mouse_drag_callbacks.append(self._on_click)
        self.frame.setRange(*split_frames(result))
        self.frame.setValue(self.frame.minimum())
        self.status.setText(track_counts(result))

    # ------------------------------------------------------------------ selection
    def _unhook_clicks(self) -> None:
        for layer in self.viewer.layers:
            if self._on_click in layer.mouse_drag_callbacks:
                layer.mouse_drag_callbacks.remove(self._on_click)

    def _on_click(self, layer: Any, event: Any) -> None:
        self.select_at(event.position, second="Shift" in {str(m) for m in event.modifiers})

    def select_at(self, world: Any, second: bool = False) -> int:
        """Select the track under the world position ``world`` as A (``second``: as B); 0 when none.

        The tracked layer's value there, else the track whose centroid in that frame is nearest,
        within the max distance.
        """
        if self.result is None or self._tracked is None:
            return 0
        track, frame = track_under(self._tracked.data, self.result, self._tracked.world_to_data(world),
                                   self.max_distance.value())
        if track:
            (self.track_b if second else self.track_a).setValue(track)
            if not second:
                self.frame.setValue(frame)
        return track

    def _show_selected(self, *_: Any) -> None:
        if self._tracked is None:
            return
        track = self.track_a.value()
        if track:
            self._tracked.selected_label = track
        self._tracked.show_selected_label = bool(track) and self.only_selected.isChecked()

    # ------------------------------------------------------------------ corrections
    def apply(self, operation: Callable[..., te.Edited], *args: int) -> bool:
        """Run a :mod:`~napari_batchseg.tracking.edit` operation on the tracks in the background."""
        result = self.result
        if result is None or self._job:
            return False
        self._start("edit", lambda: operation(result, *args), self._edited, "Not changed")
        return True

    def undo(self) -> bool:
        """*Undo*: take back the last correction in the background; ``False`` when there is none."""
        history = self.history
        if history is None or not history.can_undo or self._job:
            return False
        self._start("edit", history.undo, lambda edited: self._edited(edited, undone=True), "Not undone")
        return True

    def _edited(self, edited: te.Edited, undone: bool = False) -> None:
        if not undone and self.history is not None:
            self.history.apply(edited)  # an undo has already gone back in the history (off the GUI thread)
        self.result = edited.result
        if self._tracked is not None and edited.result.labels is not None:
            self._tracked.data = edited.result.labels
        self._set_tracks(*tracks_layer_data(edited.result))
        self._show_selected()
        self.status.setText(f"{edited.record}. {track_counts(edited.result)} Not saved yet.")

    def _set_tracks(self, data: Any, graph: dict[int, list[int]]) -> None:
        if self._tracks is not None:
            self._tracks.graph = {}
            self._tracks.data = data
            self._tracks.graph = graph

    def save(self) -> bool:
        """*Save tracks*: write the corrected tracks beside the layer's mask file, in the background.

        Reopened tracks are saved where they were opened from (``batchseg track --output-dir``'s folder
        too). The log keeps the corrections saved before the tracks were reopened, then this session's.
        """
        mask, result, records = self._mask_path(), self.result, self._earlier + self.records
        folder = self._saved_in
        if result is None or self._job:
            return False
        if not mask:
            self.status.setText(NO_MASK)
            return False
        if self._source is not None and layer_meta(self._source).get("dirty"):  # the file has other objects
            self.status.setText(UNSAVED_EDITS.format(name=self._source.name))
            return False
        self.status.setText(f"Saving the tracks of {Path(mask).name}…")
        self._start("save", lambda: save_track_edits(mask, result, records, output_dir=folder),
                    lambda res: self.status.setText(saved_text(res, len(records))), "Not saved")
        return True
