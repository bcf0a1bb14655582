"""The "Track cells" dock: track a time-lapse Labels layer and show the tracks over it.

Tracking (:func:`napari_batchseg.tracking.track_masks`) runs in a background job (:mod:`._jobs`); the
GUI thread only copies the layer's data before and adds the layers after. The result is a Tracks layer
(``track_id, t, y, x`` with the division graph) in the Labels layer's scale and translate, and a Labels
layer relabelled by track id (one colour per cell over time).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..tracking import TRACKERS, TrackParams, TrackResult, track_masks
from ._jobs import Background, close_with

__all__ = ["TrackWidget", "tracks_layer_data"]


def tracks_layer_data(result: TrackResult) -> tuple[Any, dict[int, list[int]]]:
    """``(data, graph)`` of a napari Tracks layer: rows ``track_id, t, y, x``; daughters -> mother.

    ``t`` is the mask's frame index (the layer's own frame axis).
    """
    t = result.tracks
    data = np.column_stack([
        t["track_id"].to_numpy(float), (t["frame"] - result.start_frame).to_numpy(float),
        t["centroid_y_px"].to_numpy(float), t["centroid_x_px"].to_numpy(float),
    ])
    parents = t.drop_duplicates("track_id")
    graph = {int(k): [int(p)] for k, p in zip(parents["track_id"], parents["parent_track_id"], strict=True)
             if p > 0}
    return data, graph


class TrackWidget(QWidget):
    """Dock widget: track the objects of a (T, Y, X) Labels layer; add a Tracks layer over it."""

    def __init__(self, napari_viewer: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = napari_viewer
        self.background = Background(self)
        close_with(self, self.background.close)
        self.result: TrackResult | None = None
        lay = QVBoxLayout(self)
        form = QFormLayout()
        self.labels_combo = QComboBox(self)
        self.method = QComboBox(self)
        self.method.addItems(list(TRACKERS))
        self.max_distance = QDoubleSpinBox(self)
        self.max_distance.setRange(0.5, 10_000.0)
        self.max_distance.setValue(TrackParams().max_distance)
        self.max_distance.setSuffix(" px")
        self.gap_frames = QSpinBox(self)
        self.gap_frames.setRange(0, 100)
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
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        lay.addWidget(self.track_btn)
        lay.addWidget(self.status)
        lay.addStretch(1)
        for event in (self.viewer.layers.events.inserted, self.viewer.layers.events.removed):
            event.connect(self._refresh)
        self._refresh()

    @property
    def busy(self) -> bool:
        """Whether a tracking job is running."""
        return self.background.busy

    def _refresh(self, *_: Any) -> None:
        current = self.labels_combo.currentText()
        names = [layer.name for layer in self.viewer.layers
                 if type(layer).__name__ == "Labels" and getattr(layer, "ndim", 0) == 3]
        self.labels_combo.clear()
        self.labels_combo.addItems(names)
        if current in names:
            self.labels_combo.setCurrentText(current)

    def track(self) -> bool:
        """Start tracking the chosen layer in the background; ``False`` when nothing can start."""
        name = self.labels_combo.currentText()
        if not name or self.busy:
            self.status.setText("Choose a time-lapse Labels layer (T, Y, X)." if not name else "Tracking…")
            return False
        layer = self.viewer.layers[name]
        data = np.asarray(layer.data)
        try:
            params = TrackParams(max_distance=self.max_distance.value(), gap_frames=self.gap_frames.value(),
                                 divisions=self.divisions.isChecked(), method=self.method.currentText())
        except ValueError as exc:
            self.status.setText(str(exc))
            return False
        self.status.setText(f"Tracking {name} ({data.shape[0]} frames)…")
        self.track_btn.setEnabled(False)

        def run() -> TrackResult:
            return track_masks(data, params.max_distance, params.gap_frames, params.divisions, params.method,
                               model=params.model)

        def shown(result: TrackResult) -> None:
            self._show(layer, result)

        self.background.submit(run, on_item=shown, on_error=self._failed, on_done=self._done,
                               name="batchseg-track", yield_cpu=True)
        return True

    def _show(self, layer: Any, result: TrackResult) -> None:
        self.result = result
        data, graph = tracks_layer_data(result)
        common = {"scale": layer.scale, "translate": layer.translate}
        if result.labels is not None:
            self.viewer.add_labels(result.labels, name=f"{layer.name} tracked", **common)
        self.viewer.add_tracks(data, graph=graph, name=f"{layer.name} tracks", tail_length=10, **common)
        divided = len({p for parents in graph.values() for p in parents})
        self.status.setText(f"{result.n_tracks} tracks in {result.n_frames} frames, {divided} division(s).")

    def _failed(self, exc: BaseException) -> None:
        self.status.setText(f"Tracking failed: {exc}")

    def _done(self) -> None:
        self.track_btn.setEnabled(True)
