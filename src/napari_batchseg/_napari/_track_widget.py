"""The "Track cells" dock: track a time-lapse Labels layer, show the tracks over it, correct and save them.

A reopened ``-tracked.ome.tif`` with its ``_tracks.csv`` is read back, not tracked again.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from qtpy.QtWidgets import QComboBox, QGroupBox, QLabel, QWidget

from ..tracking import TrackResult
from ..tracking import edit as te
from ..tracking.files import SavedTracks, read_saved_tracks, save_track_edits
from ..view import track_form as tf
from ..view import tracks as tv
from ..view.layer_files import layer_meta
from ..view.track_shown import TRACK_TIP, TrackShown
from ._dock import Dock, button
from ._jobs import close_with
from ._pages import MIN_WIDTH
from ._qtutil import form_box, grid, refill

__all__ = ["TrackWidget"]


class TrackWidget(Dock):
    """Dock widget: track the objects of a (T, Y, X) Labels layer; add a Tracks layer over it; correct it."""

    def __init__(self, napari_viewer: Any, parent: QWidget | None = None) -> None:
        super().__init__(napari_viewer, parent, fields=tf.TRACK_FIELDS)
        self.fields.show(tf.CHECKED)
        #: the tracks shown, their corrections and layers, what of them is saved
        self.shown = TrackShown()
        self.labels_combo = QComboBox(self)
        self.track_btn = button("Track cells", self.track, self, TRACK_TIP)
        box = QGroupBox("Correct tracks (click a cell: A; Shift+click: B)", self)
        self.track_a.valueChanged.connect(self._show_selected)
        self.only_selected.toggled.connect(self._show_selected)
        a, b, frame = self.track_a.value, self.track_b.value, self.frame.value
        self.frame_label = QLabel("Frame", box)  # "File frame" for a movie not from frame 0
        self.join_btn = button("Join A + B", lambda: self.apply(te.join_tracks, a(), b()), box)
        self.split_btn = button("Split A at frame", lambda: self.apply(te.split_track, a(), frame()), box)
        self.mark_btn = button("A is B's mother", lambda: self.apply(te.mark_division, a(), b()), box)
        self.unmark_btn = button("A has no mother", lambda: self.apply(te.unmark_division, a()), box)
        self.undo_btn = button("Undo", self.undo, box)
        self.save_btn = button("Save tracks", self.save, box, tv.SAVE_TIP)
        grid((QLabel("A", box), 0, 0, 1), (self.track_a, 0, 1, 1), (QLabel("B", box), 0, 2, 1),
             (self.track_b, 0, 3, 1), (self.frame_label, 1, 0, 1), (self.frame, 1, 1, 1),
             (self.only_selected, 1, 2, 2), (self.join_btn, 2, 0, 2), (self.split_btn, 2, 2, 2),
             (self.mark_btn, 3, 0, 2), (self.unmark_btn, 3, 2, 2), (self.undo_btn, 4, 0, 2),
             (self.save_btn, 4, 2, 2), into=box, flush=False)
        self.add(form_box(("Labels (T, Y, X)", self.labels_combo),
                          *self.fields.rows("method", "max_distance", "gap_frames"), ("", self.divisions),
                          *self.fields.rows("daughter_share")), self.track_btn, box, self.status)
        self.setMinimumWidth(MIN_WIDTH)  # (in napari's narrower dock area, tabbed in: its right edge cut off)
        self.follow_layers(self._refresh)
        close_with(self, lambda: tv.unhook_clicks(self._on_click, self.viewer.layers))  # (closed: no clicks)
        self.update_buttons()

    @property
    def result(self) -> TrackResult | None:
        """The tracks shown, with the corrections in effect (``None``: none)."""
        return self.shown.result

    @property
    def records(self) -> list[str]:
        """The corrections in effect, one line each (the log's ``track correction`` records on save)."""
        return self.shown.records

    def update_buttons(self) -> None:
        """Enable the buttons as the job, the result, the mask file and the corrections allow."""
        seen, history = self.shown.source_now(), self.shown.history
        state = tv.track_buttons(not self.slot.kind, self.result is not None, seen.can_save,
                                 history.last if history is not None else "", seen.refusal())
        self.track_btn.setEnabled(state.track)
        self.track_btn.setToolTip(self.shown.track_tip())
        for btn in (self.join_btn, self.split_btn, self.mark_btn, self.unmark_btn):
            btn.setEnabled(state.edit)
        self.save_btn.setEnabled(state.save)
        self.save_btn.setToolTip(state.save_tip)
        self.undo_btn.setEnabled(state.undo)
        self.undo_btn.setToolTip(state.undo_tip)

    def enterEvent(self, event: Any) -> None:
        """Decide the buttons again as the pointer comes in (a mask rewritten under the layer: no event)."""
        self.update_buttons()
        super().enterEvent(event)

    def _refresh(self, *_: Any) -> None:
        refill(self.labels_combo, [lay for lay in self.layers_of("Labels") if getattr(lay, "ndim", 0) == 3])
        if (said := self.shown.layers_gone(lambda layer: layer in self.viewer.layers)) is not None:
            self.status.setText(said)
        self.update_buttons()

    def track(self) -> bool:
        """Track the chosen layer (its lazy data is read in the job); ``False`` when nothing starts."""
        name = self.labels_combo.currentText()
        if not name or self.slot.kind:
            return self.refuse(tf.NO_LAYER if not name else tf.BUSY)
        layer = self.viewer.layers[name]
        meta = layer_meta(layer)
        if meta.get("role") == "tracked" and meta.get("tracks_csv"):  # saved tracks: read them back
            if not meta.get("tracked_from"):
                return self.refuse(tv.NO_SOURCE)
            csv = str(meta["tracks_csv"])
            self.run_job(read_saved_tracks, str(meta["tracked_from"]), csv, kind="track", yield_cpu=True,
                         on_item=lambda saved: self._show(layer, saved.result, saved),
                         say=f"Opening the saved tracks {Path(csv).name}…",
                         on_error=self._failure(layer, "Saved tracks not opened"))
            return True
        try:
            params = tf.track_params(self.fields.values())
        except ValueError as exc:
            return self.refuse(self.phrase(exc))
        (start, pixel_size), edits = tv.track_inputs(meta), bool(meta.get("dirty"))
        self.run_job(lambda: tf.track_layer_data(layer.data, params, pixel_size, start), kind="track",
                     say=f"Tracking {name} ({layer.data.shape[0]} frames)…",
                     on_item=lambda result: self._show(layer, result, None, edits),
                     on_error=self._failure(layer, "Tracking failed"), yield_cpu=True)
        return True

    def _failure(self, layer: Any, failed: str) -> Callable[[BaseException], None]:
        return lambda exc: self.status.setText(self.shown.failure(layer, f"{failed}: {self.phrase(exc)}"))

    def _show(self, layer: Any, result: TrackResult, saved: SavedTracks | None = None,
              of_edits: bool = False) -> None:
        """Show ``result`` over ``layer`` (of its unsaved corrections: ``of_edits``), or ``saved`` tracks."""
        if (why := tv.not_shown(result, layer, self.viewer.layers)) is not None:  # no rows, or layer gone
            self.status.setText(why)
            return
        shown, lost = self.shown, self.shown.show(layer, result, saved, of_edits)
        data, graph = tv.tracks_layer_data(result)
        common = {key: getattr(layer, key) for key in ("scale", "translate", "units", "axis_labels")}
        csv = layer_meta(layer).get("tracks_csv") if saved is not None else None
        if saved is not None:
            shown.tracked = layer
            if result.labels is not None:
                layer.data = result.labels
        elif result.labels is not None:
            shown.tracked = self.viewer.add_labels(result.labels, name=f"{layer.name} tracked", **common)
        opened = tf.saved_tracks_layer(self.viewer.layers, csv)
        if opened is not None:  # the Tracks layer opened with the saved tracks
            shown.tracks = opened
            tv.set_tracks(opened, data, graph)
        else:
            shown.tracks = self.viewer.add_tracks(data, graph=graph, name=f"{layer.name} tracks",
                                                  tail_length=10, **common)
        tv.hook_clicks(self._on_click, shown.tracked, shown.tracks, layer)
        tv.set_frame_field(self.frame, self.frame_label, result)  # (the file's frames; says so: not from 0)
        self.status.setText(tv.track_counts(result) + lost)

    def _on_click(self, layer: Any, event: Any) -> None:
        self.select_at(event.position, second="Shift" in {str(m) for m in event.modifiers})

    def select_at(self, world: Any, second: bool = False) -> int:
        """Select the track under (or nearest within the max distance to) ``world`` as A (``second``: B)."""
        tracked = self.shown.tracked
        if self.result is None or tracked is None:
            return 0
        track, frame = tv.track_under(tracked.data, self.result, tracked.world_to_data(world),
                                      self.max_distance.value())
        if track:
            (self.track_b if second else self.track_a).setValue(track)
            if not second:
                self.frame.setValue(frame)
        return track

    def _show_selected(self, *_: Any) -> None:
        tv.show_track(self.shown.tracked, self.track_a.value(), self.only_selected.isChecked())

    def apply(self, operation: Callable[..., te.Edited], *args: int) -> bool:
        """Run a :mod:`~napari_batchseg.tracking.edit` operation in the background."""
        if self.result is None or self.slot.kind:
            return False
        self.run_job(operation, self.result, *args, kind="edit", on_item=self._edited, failed="Not changed")
        return True

    def undo(self) -> bool:
        """*Undo*: take back the last correction in the background; ``False`` when there is none."""
        history = self.shown.history
        if history is None or not history.can_undo or self.slot.kind:
            return False
        self.run_job(history.undo, kind="edit", on_item=lambda edited: self._edited(edited, undone=True),
                     failed="Not undone")
        return True

    def _edited(self, edited: te.Edited, undone: bool = False) -> None:
        shown = self.shown
        if not undone and shown.history is not None:
            shown.history.apply(edited)  # an undo has already gone back in the history (off the GUI thread)
        shown.result = edited.result
        if shown.tracked is not None and edited.result.labels is not None:
            shown.tracked.data = edited.result.labels
        tv.set_tracks(shown.tracks, *tv.tracks_layer_data(edited.result))
        self._show_selected()
        self.status.setText(f"{edited.record}. {tv.track_counts(edited.result)} Not saved yet.")

    def save(self) -> bool:
        """*Save tracks* beside the layer's mask file (reopened ones: where they came from, log kept)."""
        shown, ours = self.shown, self.records
        seen, result, records = shown.source_now(), self.result, shown.earlier + ours
        if result is None or self.slot.kind:
            return False
        if refused := seen.refusal():
            self.update_buttons()  # (a mask file rewritten under the layer changed no layer: Save turns off)
            return self.refuse(refused)
        mask, folder = seen.mask or "", shown.saved_in
        self.run_job(lambda: save_track_edits(mask, result, records, output_dir=folder), kind="save",
                     say=f"Saving the tracks of {Path(mask).name}…", failed="Not saved",
                     on_item=lambda res: self._saved(ours, tf.saved_text(res, len(records))))
        return True

    def _saved(self, records: list[str], text: str) -> None:
        if self.result is not None:  # (not forgotten meanwhile)
            self.shown.saved = records
        tf.name_saved(self.shown.tracked, self.shown.tracks)
        self.status.setText(text)
