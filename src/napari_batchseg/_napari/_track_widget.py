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
mask and the log with one record per operation in effect beside the layer's ``_vSM.ome.tif``
(:func:`~napari_batchseg.tracking.files.save_track_edits`, atomic), in the background too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..tracking import TRACKERS, TrackParams, TrackResult, track_masks
from ..tracking import edit as te
from ..tracking.files import TrackFileResult, save_track_edits
from ..view.tracks import NO_UNDO, track_buttons, track_counts, track_inputs, track_under, tracks_layer_data
from ._jobs import Background, close_with
from ._layerops import layer_meta
from ._qtutil import follow, fspin, ispin, layer_list_events, refill

__all__ = ["TrackWidget"]


class TrackWidget(QWidget):
    """Dock widget: track the objects of a (T, Y, X) Labels layer; add a Tracks layer over it; correct it."""

    def __init__(self, napari_viewer: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = napari_viewer
        self.background = Background(self)
        close_with(self, self.background.close)
        self.result: TrackResult | None = None
        #: the corrections since tracking, undone last first
        self.history: te.EditHistory | None = None
        self._source: Any = None  # the Labels layer tracked
        self._tracked: Any = None  # its copy relabelled by track id
        self._tracks: Any = None  # the Tracks layer
        self._job = ""  # "track", "edit" or "save" while one runs
        lay = QVBoxLayout(self)
        form = QFormLayout()
        self.labels_combo = QComboBox(self)
        self.method = QComboBox(self)
        self.method.addItems(list(TRACKERS))
        self.max_distance = fspin(0.5, 10_000.0, TrackParams().max_distance, suffix=" px")
        self.gap_frames = ispin(0, 100)
        self.divisions = QCheckBox("Divisions", self)
        self.divisions.setChecked(True)
        form.addRow("Labels (T, Y, X)", self.labels_combo)
        form.addRow("Method", self.method)
        form.addRow("Max distance", self.max_distance)
        form.addRow("Gap frames", self.gap_frames)
        form.addRow("", self.divisions)
        lay.addLayout(form)
        self.track_btn = QPushButton("Track cells", self)
        self.track_btn.clicked.connect(self.track)
        lay.addWidget(self.track_btn)
        lay.addWidget(self._corrections_box())
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        lay.addStretch(1)
        follow(self, layer_list_events(self.viewer), self._refresh)
        self._refresh()
        self._update_buttons()

    def _corrections_box(self) -> QGroupBox:
        box = QGroupBox("Correct tracks (click a cell: A; Shift+click: B)", self)
        grid = QGridLayout(box)
        self.track_a = ispin(0, 10**9, tip="Track A (0: none); clicking a cell selects its track")
        self.track_b = ispin(0, 10**9, tip="Track B (0: none); Shift+click a cell")
        self.frame = ispin(0, 10**9, tip="Split A here: from this frame on, A is a new track (set by a "
                                         "click)")
        self.track_a.valueChanged.connect(self._show_selected)
        self.only_selected = QCheckBox("Show track A alone", box)
        self.only_selected.setChecked(True)
        self.only_selected.toggled.connect(self._show_selected)
        self.join_btn = QPushButton("Join A + B", box)
        self.split_btn = QPushButton("Split A at frame", box)
        self.mark_btn = QPushButton("A is B's mother", box)
        self.unmark_btn = QPushButton("A has no mother", box)
        self.undo_btn = QPushButton("Undo", box)
        self.undo_btn.setToolTip(NO_UNDO)
        self.save_btn = QPushButton("Save tracks", box)
        self.save_btn.setToolTip("Write the tracks CSV, the tracked mask and the log with the corrections "
                                 "beside the layer's mask file (atomic)")
        self.join_btn.clicked.connect(lambda: self.apply(te.join_tracks, self.track_a.value(),
                                                         self.track_b.value()))
        self.split_btn.clicked.connect(lambda: self.apply(te.split_track, self.track_a.value(),
                                                          self.frame.value()))
        self.mark_btn.clicked.connect(lambda: self.apply(te.mark_division, self.track_a.value(),
                                                         self.track_b.value()))
        self.unmark_btn.clicked.connect(lambda: self.apply(te.unmark_division, self.track_a.value()))
        self.undo_btn.clicked.connect(self.undo)
        self.save_btn.clicked.connect(self.save)
        grid.addWidget(QLabel("A", box), 0, 0)
        grid.addWidget(self.track_a, 0, 1)
        grid.addWidget(QLabel("B", box), 0, 2)
        grid.addWidget(self.track_b, 0, 3)
        grid.addWidget(QLabel("Frame", box), 1, 0)
        grid.addWidget(self.frame, 1, 1)
        grid.addWidget(self.only_selected, 1, 2, 1, 2)
        grid.addWidget(self.join_btn, 2, 0, 1, 2)
        grid.addWidget(self.split_btn, 2, 2, 1, 2)
        grid.addWidget(self.mark_btn, 3, 0, 1, 2)
        grid.addWidget(self.unmark_btn, 3, 2, 1, 2)
        grid.addWidget(self.undo_btn, 4, 0, 1, 2)
        grid.addWidget(self.save_btn, 4, 2, 1, 2)
        return box

    @property
    def records(self) -> list[str]:
        """The corrections in effect, one line each (the log's ``track correction`` records on save)."""
        return self.history.records if self.history is not None else []

    @property
    def busy(self) -> bool:
        """Whether a tracking, correction or save job is running."""
        return self.background.busy

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
                                   if type(layer).__name__ == "Labels" and getattr(layer, "ndim", 0) == 3])
        for attr in ("_source", "_tracked", "_tracks"):
            if getattr(self, attr) is not None and getattr(self, attr) not in self.viewer.layers:
                setattr(self, attr, None)

    def _mask_path(self) -> str | None:
        path = layer_meta(self._source).get("mask_path") if self._source is not None else None
        return str(path) if path else None

    # ------------------------------------------------------------------ tracking
    def track(self) -> bool:
        """Start tracking the chosen layer in the background; ``False`` when nothing can start."""
        name = self.labels_combo.currentText()
        if not name or self._job:
            self.status.setText("Choose a time-lapse Labels layer (T, Y, X)." if not name else "Busy…")
            return False
        layer = self.viewer.layers[name]
        data = np.asarray(layer.data)
        try:
            params = TrackParams(max_distance=self.max_distance.value(), gap_frames=self.gap_frames.value(),
                                 divisions=self.divisions.isChecked(), method=self.method.currentText())
        except ValueError as exc:
            self.status.setText(str(exc))
            return False
        start, pixel_size = track_inputs(layer_meta(layer))
        self.status.setText(f"Tracking {name} ({data.shape[0]} frames)…")

        def run() -> TrackResult:
            return track_masks(data, params.max_distance, params.gap_frames, params.divisions, params.method,
                               pixel_size=pixel_size, start_frame=start, model=params.model)

        def shown(result: TrackResult) -> None:
            self._show(layer, result)

        self._start("track", run, shown, "Tracking failed")
        return True

    def _start(self, job: str, fn: Callable[[], Any], on_item: Callable[[Any], None], failed: str) -> None:
        self._job = job
        self._update_buttons()

        def error(exc: BaseException) -> None:
            self.status.setText(f"{failed}: {exc}")

        def done() -> None:
            self._job = ""
            self._update_buttons()

        self.background.submit(fn, on_item=on_item, on_error=error, on_done=done, name=f"batchseg-{job}",
                               yield_cpu=job == "track")

    def _show(self, layer: Any, result: TrackResult) -> None:
        self.result, self.history, self._source = result, te.EditHistory(result), layer
        data, graph = tracks_layer_data(result)
        common = {"scale": layer.scale, "translate": layer.translate, "units": layer.units,
                  "axis_labels": layer.axis_labels}
        if result.labels is not None:
            self._tracked = self.viewer.add_labels(result.labels, name=f"{layer.name} tracked", **common)
        self._tracks = self.viewer.add_tracks(data, graph=graph, name=f"{layer.name} tracks", tail_length=10,
                                              **common)
        for target in (self._tracked, self._tracks, layer):
            if target is not None and self._on_click not in target.mouse_drag_callbacks:
                target.mouse_drag_callbacks.append(self._on_click)
        self.frame.setValue(result.start_frame + 1)
        self.status.setText(track_counts(result))

    # ------------------------------------------------------------------ selection
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

        def run() -> te.Edited:
            return operation(result, *args)

        self._start("edit", run, self._edited, "Not changed")
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
        if self._tracks is not None:
            data, graph = tracks_layer_data(edited.result)
            self._tracks.graph = {}
            self._tracks.data = data
            self._tracks.graph = graph
        self._show_selected()
        self.status.setText(f"{edited.record}. {track_counts(edited.result)} Not saved yet.")

    def save(self) -> bool:
        """*Save tracks*: write the corrected tracks beside the layer's mask file, in the background."""
        mask, result, records = self._mask_path(), self.result, list(self.records)
        if result is None or self._job:
            return False
        if not mask:
            self.status.setText("Not saved: the tracked layer has no mask file (open a _vSM.ome.tif or save "
                                "its mask first); File > Save Layers keeps the tracked labels elsewhere.")
            return False

        def run() -> TrackFileResult:
            return save_track_edits(mask, result, records)

        def saved(res: TrackFileResult) -> None:
            self.status.setText(f"Saved {res.tracks_csv.name}, {res.tracked_mask.name} and {res.log.name} "
                                f"({len(records)} correction(s)) in {Path(res.tracks_csv).parent}.")

        self.status.setText(f"Saving the tracks of {Path(mask).name}…")
        self._start("save", run, saved, "Not saved")
        return True
