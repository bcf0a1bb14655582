"""The placeholder stream layers: created hidden when the widget opens, so the first Run only retargets them.

Adding a napari layer costs far more than updating one; :class:`PlaceholderLayers` (a mixin of
:class:`._stream.LayerStreamer`) makes the pair of stream layers ahead of time, in idle steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from qtpy.QtCore import QTimer

from ..io.sources import PixelSize
from ._layerops import AXES, LABELS_DTYPE, PLACEHOLDER, mark_edited
from ._reader import META_KEY

#: pause between the idle steps that create the stream layers when the widget opens
PREPARE_STEP_MS = 50


class PlaceholderLayers:
    """Preparation of the placeholder stream layers; mixed into :class:`._stream.LayerStreamer`."""

    # provided by LayerStreamer
    viewer: Any
    viewed_key: str | None
    prepared: bool
    _prepare_steps: list[Callable[[], None]]
    _closing: bool

    def layers_for(self, key: str | None) -> tuple[Any, Any]:
        raise NotImplementedError

    def _reusable_pair(self, key: str) -> tuple[Any, Any]:
        raise NotImplementedError

    def flush(self) -> None:
        raise NotImplementedError

    def prepare_layers_later(self) -> None:
        """Create the stream layers now, hidden, in idle steps of the event loop (the widget opens).

        Adding a layer is the slowest thing the widget asks of napari (vispy visuals, layer controls,
        the first draw: ~1 s under software OpenGL). Done here in three short steps (image layer,
        labels layer, hide both after their first draw), the first Run
        only points them at its buffers. The layers are 1-pixel placeholders, drawn once fully
        transparent, then hidden; the user's layer selection is kept. Nothing happens if stream layers
        exist already.
        """
        if self.layers_for(PLACEHOLDER)[0] is not None or self._reusable_pair(self.viewed_key or "")[0]:
            self.prepared = True
            return
        self.prepared = False
        steps = self._prepare_steps = [self._add_placeholder_image, self._add_placeholder_labels,
                                       self._hide_placeholders]

        def next_step() -> None:
            if self._closing or not steps:
                return
            try:
                steps.pop(0)()
            except Exception:  # noqa: BLE001 - an optimisation only: the first Run creates them instead
                steps.clear()
            if steps:
                QTimer.singleShot(PREPARE_STEP_MS, next_step)
            else:
                self.prepared = True

        QTimer.singleShot(PREPARE_STEP_MS, next_step)

    def _placeholder_meta(self, role: str) -> dict[str, Any]:
        meta: dict[str, Any] = {"role": role, "task_key": PLACEHOLDER, "stream": True, "units": "pixel"}
        if role == "mask":
            meta.update(mask_path=None, pixel_size=PixelSize().as_dict(), dirty=False)
        return {META_KEY: meta}

    def _keep_selection(self, add: Callable[[], Any]) -> Any:
        selection = self.viewer.layers.selection
        before, active = set(selection), selection.active
        layer = add()
        selection.clear()
        selection.update(before)
        selection.active = active
        return layer

    def _add_placeholder_image(self) -> None:
        if self.layers_for(PLACEHOLDER)[1] is not None:
            return
        self._keep_selection(lambda: self.viewer.add_image(
            np.zeros((1, 1, 1), np.float32), name=f"{PLACEHOLDER} (input)", contrast_limits=(0.0, 1.0),
            opacity=0.0, metadata=self._placeholder_meta("prepared"), axis_labels=AXES,
        ))

    def _add_placeholder_labels(self) -> None:
        if self.layers_for(PLACEHOLDER)[0] is not None:
            return
        layer = self._keep_selection(lambda: self.viewer.add_labels(
            np.zeros((1, 1, 1), LABELS_DTYPE), name=PLACEHOLDER, metadata=self._placeholder_meta("mask"),
            axis_labels=AXES,
        ))
        layer.events.paint.connect(lambda _e, lay=layer: mark_edited(lay))

    def _hide_placeholders(self) -> None:
        labels, image = self.layers_for(PLACEHOLDER)
        if self.viewed_key is not None:  # a run took them meanwhile
            return
        for layer in (labels, image):
            if layer is not None:
                layer.visible = False
        if image is not None:
            image.opacity = 1.0
    def _raise_placeholders(self) -> None:
        """Placeholder layers made before the user added layers of their own go back on top."""
        labels, image = self.layers_for(PLACEHOLDER)
        layers = self.viewer.layers
        pair = [lay for lay in (image, labels) if lay is not None]
        if not pair or list(layers)[-len(pair):] == pair:
            return
        for layer in pair:
            layers.move(layers.index(layer), len(layers))

    def run_finished(self) -> None:
        """Placeholder layers no output used (e.g. the run failed before starting) are hidden, not removed.

        Removing them is what crashed napari (exit 139) when other layers had no physical units; hidden,
        they wait for the next run, which reuses them.
        """
        labels, image = self.layers_for(PLACEHOLDER)
        for layer in (labels, image):
            if layer is not None and layer.visible:
                layer.visible = False
        self.flush()
