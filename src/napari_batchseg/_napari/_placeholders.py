"""The placeholder stream layers: created hidden when the widget opens, so the first Run only retargets them.

Adding a napari layer costs far more than updating one; :class:`PlaceholderLayers` (a mixin of
:class:`._stream.LayerStreamer`) makes the pair of stream layers ahead of time, in idle steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from qtpy.QtCore import QTimer

from ..io.sources import PixelSize, SourceInfo
from ._buffers import buffer_shape
from ._layerops import AXES, IDLE_NAME, LABELS_DTYPE, PLACEHOLDER, _set_units, frame_translate, mark_edited
from ._reader import META_KEY, yx_scale
from ._repaint import after_repaint, layer_work
from ._warmup import warm_up_steps

#: pause between the idle steps that create the stream layers when the widget opens
PREPARE_STEP_MS = 50


def _in_idle_steps(steps: list[Callable[[], None]], go_on: Callable[[], bool],
                   done: Callable[[], None] | None = None, anchor: Any = None) -> None:
    """Run ``steps`` one per event-loop turn, ``PREPARE_STEP_MS`` apart, while ``go_on()``.

    ``done`` follows the last step, also when a step raised (the rest are then dropped); not when
    ``go_on()`` stopped them or someone emptied ``steps`` meanwhile (who did takes over). Each step is
    layer work of ``anchor``'s window (see :func:`._repaint.layer_work`).
    """

    def next_step() -> None:
        if not steps or not go_on():
            return
        try:
            with layer_work(anchor):
                steps.pop(0)()
        except Exception:  # noqa: BLE001 - steps are optimisations: the rest is done when needed
            steps.clear()
        if steps:
            QTimer.singleShot(PREPARE_STEP_MS, after_repaint(next_step))
        elif done is not None:
            done()

    QTimer.singleShot(PREPARE_STEP_MS, after_repaint(next_step))


class PlaceholderLayers:
    """Preparation of the placeholder stream layers; mixed into :class:`._stream.LayerStreamer`."""

    # provided by LayerStreamer
    viewer: Any
    viewed_key: str | None
    prepared: bool
    _prepare_steps: list[Callable[[], None]]
    _closing: bool
    #: bumped by each shape_placeholders_later: older pending steps stop
    _shape_generation: int = 0
    #: what starts once the layers are made (see prepare_layers_later)
    _after_prepare: Callable[[], None] | None = None

    def layers_for(self, key: str | None) -> tuple[Any, Any]:
        raise NotImplementedError

    def _reusable_pair(self, key: str) -> tuple[Any, Any]:
        raise NotImplementedError

    def flush(self, now: bool = False) -> None:
        raise NotImplementedError

    def finish_image_step(self) -> None:
        raise NotImplementedError

    def prepare_layers_later(self, then: Callable[[], None] | None = None) -> None:
        """Create the stream layers now, hidden, in idle steps of the event loop (the widget opens).

        Adding a layer is the slowest thing the widget asks of napari (vispy visuals, layer controls,
        the first draw: ~1 s under software OpenGL). Done here in short steps (napari's one-time costs
        of a first layer, :func:`._warmup.warm_up_steps`; image layer; labels layer; hide both after
        their first draw), the first Run
        only points them at its buffers. The layers are 1-pixel placeholders, drawn once fully
        transparent, then hidden; the user's layer selection is kept. Nothing happens if stream layers
        exist already. ``then`` is called once they are made (at once when nothing is to be made): the
        widget starts its device detection (which imports torch and Cellpose in a thread) only then, so
        the two do not compete for the GIL and each stall stays shorter.
        """
        self._after_prepare = then
        if self.layers_for(PLACEHOLDER)[0] is not None or self._reusable_pair(self.viewed_key or "")[0]:
            self.prepared = True
            self.after_prepare()
            return
        self.prepared = False
        steps = self._prepare_steps = [*warm_up_steps(), self._add_placeholder_image,
                                       self._add_placeholder_labels, self._hide_placeholders]

        def made() -> None:
            self.prepared = True
            self.after_prepare()

        # a failing step stops them: an optimisation only, the first Run creates what is missing
        _in_idle_steps(steps, lambda: not self._closing, made, self)

    def shape_placeholders_later(self, first: SourceInfo | None, n_frames: int, first_frame: int = 0) -> None:
        """Give the hidden placeholder layers the first input's frame shape, scale and units, in idle steps.

        ``first_frame`` (the run's ``start_frame``) places them at that T, as the run will.

        Each of those is one napari setter of 25-50 ms here (extents, dims, the layer list); done now, one
        per step while the user sets up the batch, the first Run finds layers of the right shape and only
        shows them (see :meth:`._stream.LayerStreamer.prepare_run`). Called again when the inputs change:
        steps not done yet are dropped. Nothing happens while a run or a result uses the layers.
        """
        self._shape_generation += 1
        generation = self._shape_generation
        if first is None:
            return
        shape = buffer_shape(first, n_frames)[0]
        scale = (1.0, *yx_scale(first.pixel_size))
        units = "µm" if first.pixel_size.x else "pixel"
        translate = frame_translate(first_frame)

        def free() -> tuple[Any, Any] | None:
            labels, image = self.layers_for(PLACEHOLDER)
            if (generation != self._shape_generation or self._closing or self.viewed_key is not None
                    or labels is None or image is None or labels.visible or image.visible):
                return None
            return labels, image

        def data(index: int, dtype: Any) -> None:
            pair = free()
            if pair is not None and (pair[index].data.shape != shape or pair[index].data.dtype != dtype):
                pair[index].data = np.zeros(shape, dtype)

        def set_scale(index: int) -> None:
            pair = free()
            if pair is not None and tuple(pair[index].scale) != scale:
                pair[index].scale = scale

        def set_translate(index: int) -> None:
            pair = free()
            if pair is not None and tuple(pair[index].translate) != translate:
                pair[index].translate = translate

        def set_units() -> None:  # both in one step: napari warns when it draws layers whose units differ
            pair = free()
            if pair is not None:
                for layer in pair:
                    _set_units(layer, units)

        steps: list[Callable[[], None]] = [
            lambda: data(1, np.float32), lambda: data(0, LABELS_DTYPE), lambda: set_scale(1),
            lambda: set_scale(0), lambda: set_translate(1), lambda: set_translate(0), set_units,
        ]

        # the Run sets what a failed step did not
        _in_idle_steps(steps, lambda: free() is not None, anchor=self)

    def after_prepare(self) -> None:
        """Start what waited for the layers (``then`` of :meth:`prepare_layers_later`), once."""
        then, self._after_prepare = self._after_prepare, None
        if then is not None and not self._closing:
            then()

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
            np.zeros((1, 1, 1), np.float32), name=f"{IDLE_NAME} (input)", contrast_limits=(0.0, 1.0),
            opacity=0.0, metadata=self._placeholder_meta("prepared"), axis_labels=AXES,
        ))

    def _add_placeholder_labels(self) -> None:
        if self.layers_for(PLACEHOLDER)[0] is not None:
            return
        layer = self._keep_selection(lambda: self.viewer.add_labels(
            np.zeros((1, 1, 1), LABELS_DTYPE), name=IDLE_NAME, metadata=self._placeholder_meta("mask"),
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
        self.finish_image_step()  # a layer change left for a later turn would show them again
        labels, image = self.layers_for(PLACEHOLDER)
        for layer, name in ((labels, IDLE_NAME), (image, f"{IDLE_NAME} (input)")):
            if layer is not None and layer.visible:
                layer.visible = False
                layer.name = name  # not "starting…" any more
        self.flush(now=True)
