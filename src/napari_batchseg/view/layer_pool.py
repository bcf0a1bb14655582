"""The pool of stream layers: one pair (prepared input + labels) pointed from output to output.

Adding a napari layer costs far more than updating one, so the pair is reused from output to output
(:meth:`LayerPool.show`: retargeted, same-shape buffers even reused in place), found by the task key in
its ``batchseg`` metadata. The pool also moves napari's slider and refreshes the layers. Without Qt: it
uses napari's viewer and layers by their attributes (the widget's layer streamer, ``_napari._stream``).

Placeholders: no layer of this tool exists before Run (napari counts hidden layers too for its world
extent and units: a mask opened with File > Open beside them was drawn at their scale). Run makes the pair
(``batch segmentation: starting…``, shaped for the first output), in turns after the click (adding a
layer is one long stall of napari's); the first output only fills it. A run that shows nothing in it
(every file failed, cancelled before its first frame) and closing the dock remove it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..io.sources import PixelSize, SourceInfo
from ..params import SegmentationParams
from . import buffers, layer_ops
from .buffers import TaskView
from .layer_files import META_KEY, axis_units, layer_meta
from .layer_ops import extent, mark_edited, release, retarget, set_contrast, set_units, unitless
from .result_showing import image_layer_name
from .slider import displayed_index, into_frames, middle_z_point, t_point
from .stream_layers import (
    PLACEHOLDER,
    image_meta,
    in_other_units,
    labels_meta,
    not_shown_note,
    pair_of,
    reusable_pair,
)

Contrast = tuple[float, float]


class LayerPool:
    """The stream layers of one viewer: lookup by output, reuse, setting apart edited ones, placeholders."""

    def __init__(self, viewer: Any, said: Callable[[str], None] = lambda _text: None) -> None:
        self.viewer = viewer
        self.said = said  #: tells the user (the dock's message line) why an output is not shown
        #: the last such note (the dock says it again with the run's end; it clears it at Run)
        self.not_shown = ""
        #: the rest of the last :meth:`show` (the image layer's change, or the layers added), due in later
        #: turns, one per turn (see :meth:`next_part`, :meth:`finish_image`)
        self._steps: list[Callable[[], str | None]] = []

    # ------------------------------------------------------------------ lookup
    def layers_for(self, key: str | None) -> tuple[Any, Any]:
        """``(labels_layer, image_layer)`` of an output (``None`` where absent; see :func:`pair_of`)."""
        return pair_of(self.viewer.layers, key)

    # ------------------------------------------------------------------ the slider, refreshes
    def move_slider(self, key: str, index: int) -> None:
        """Move napari's slider to frame ``index`` of output ``key`` (re-slices every layer)."""
        if (point := t_point(self.viewer.dims, self.layers_for(key)[0], index)) is not None:
            self.viewer.dims.set_point(*point)

    def refresh(self, frames: Iterable[tuple[str, int | None]]) -> None:
        """Redraw the visible layers of each ``(output, frame)`` whose frame is on screen (``None``: any)."""
        for key, index in frames:
            for layer in self.layers_for(key):
                if layer is None or not layer.visible:
                    continue
                shown = displayed_index(self.viewer.dims, layer)
                if index is None or shown is None or shown == index:
                    layer.refresh(thumbnail=False, highlight=False, extent=False)

    # ------------------------------------------------------------------ showing an output
    def show(self, view: TaskView, viewed: str | None, contrast: Contrast | None = None,
             later_contrast: Callable[[], Contrast | None] | None = None,
             visible: bool = True, later: bool = False) -> bool | None:
        """Show ``view``'s labels and image in its output's stream layers (reused, else added).

        ``viewed``: the output shown now (its unedited layers are reused). Both layers sit over the
        input's frames and slices (:func:`~napari_batchseg.view.buffers.frame_translate`). Returns whether
        a half of the change is left for a later turn (:meth:`finish_image`: the image layer's change, or
        adding the labels layer); ``later_contrast`` gives the image's contrast then. ``visible``: shown,
        else hidden. ``later``: layers to add are all added in later turns (none in this one). ``None``:
        not shown, since other layers of this tool kept in the viewer (edited ones
        set apart) are in other units (:func:`~.stream_layers.in_other_units`); ``said`` tells why.
        """
        key, label, labels, image, scale = view.key, view.label, view.labels, view.image, view.scale
        self.finish_image()
        lab_layer, img_layer = reusable_pair(self.viewer.layers, key, viewed)
        axes = buffers.layer_axes(np.ndim(labels))
        units = axis_units("".join(axes), view.pixel_size)  # as the reader gives them: s along T, µm or pixel
        if others := in_other_units(self.viewer.layers, units, (lab_layer, img_layer)):
            if key != PLACEHOLDER:  # never drawn beside them (nor a unit made up): the user is told why
                self.not_shown = not_shown_note(label, units, others)
                self.said(self.not_shown)
            return None
        layer_ops.set_apart(self.viewer.layers, key, (lab_layer, img_layer))  # other layers of it hold edits
        old_extent = extent(lab_layer)
        translate = buffers.frame_translate(view)
        lab_meta = labels_meta(key, units, view.mask_path, view.pixel_size, view.first_frame, "Z" in axes,
                               view.first_z)
        img_meta = image_meta(key, units)
        # the pair changes dimensions (a volume run after a 2D one, or back): every axis unitless while
        # the axes change (napari's new axis comes without units), the units set after the data
        reshaping = any(lay is not None and lay.ndim != len(axes) for lay in (img_layer, lab_layer))
        if reshaping:
            unitless(img_layer, lab_layer)
        # else units first, on both layers at once, before any change that can make napari draw
        for layer in () if reshaping else (img_layer, lab_layer):
            if layer is not None:
                set_units(layer, units)

        now_units = None if reshaping else units  # reshaping: set on both once both are reshaped

        def put(layer: Any, data: Any, name: str, meta: dict[str, Any], add: Callable[..., Any]) -> Any:
            if layer is not None:
                retarget(layer, data, scale, name, meta, now_units, translate, visible)
                return layer
            return add(data, name=name, scale=scale, translate=translate, metadata={META_KEY: meta},
                       units=units, axis_labels=axes, visible=visible)

        def show_image(wanted: Contrast | None) -> Any:
            img = put(img_layer, image, image_layer_name(label), img_meta, self.viewer.add_image)
            if wanted is not None:
                set_contrast(img, wanted)
            return img

        def show_labels() -> Any:
            layer = put(lab_layer, labels, label, lab_meta, self.viewer.add_labels)
            if lab_layer is None:
                layer.events.paint.connect(lambda _e, lay=layer: mark_edited(lay))
            return layer

        # a Z axis new to the layers, or other slices (a placeholder of one slice, another stack's)
        new_z = len(axes) == 4 and (lab_layer is None or lab_layer.ndim != 4
                                    or lab_layer.data.shape[1] != np.shape(labels)[1])

        def framed(lab: Any) -> None:
            if extent(lab) != old_extent:
                self.viewer.reset_view()  # a new size (or a new layer): show it whole
            if (point := into_frames(self.viewer.dims, lab)) is not None:
                self.viewer.dims.set_point(*point)  # another layer's frames held the slider past its own
            if new_z and (point := middle_z_point(self.viewer.dims, lab)) is not None:
                self.viewer.dims.set_point(*point)  # napari's Z slider to the middle slice

        if img_layer is None and lab_layer is None:
            # two layers to add (a run's first output, or none left): adding one costs napari far more
            # than a setter (vispy visuals, layer controls; ~0.5 s under software OpenGL): the image one
            # now, the labels one in a later turn. In a viewer without layers the new axes (T, Z) first
            # get their sliders in a turn of their own (napari's dims sliders: 40-50 % of adding the image
            # layer here; with other layers napari's view fitting does not allow it): shown or hidden, as
            # Run right after opening made the three one stall (bench_ui --early: 224-243 ms, then gone)
            def add_image() -> str | None:
                show_image(contrast)
                return None

            def labels_step() -> str | None:
                framed(show_labels())
                return key

            def new_axes() -> str | None:
                self.viewer.dims.ndim = len(axes)
                return None

            self._steps = [add_image, labels_step]
            if not len(self.viewer.layers) and self.viewer.dims.ndim < len(axes):
                self._steps.insert(0, new_axes)
            if not later:
                self._steps.pop(0)()
            return True
        if img_layer is None or lab_layer is None or reshaping:
            # one layer to add, or the pair changes dimensions: both now, the image one first (the units
            # of both are right again at the end of this turn)
            img = show_image(contrast)
            lab = show_labels()
            for layer in (img, lab) if reshaping else ():
                set_units(layer, units)
            framed(lab)
            return False
        # both layers exist: the labels one now, the image one in a later turn (SPLIT_MS): each napari
        # data/scale setter costs 25-50 ms here, two in one turn are one long stall. Their units changed
        # together above (napari warns when it draws layers whose units differ).
        show_labels()

        def image_step() -> str | None:
            if not any(lay is img_layer for lay in self.viewer.layers):
                return None  # the user closed it meanwhile
            show_image(contrast if contrast is not None else later_contrast() if later_contrast else None)
            framed(lab_layer)
            return key

        self._steps = [image_step]
        return True

    def next_part(self) -> tuple[str | None, bool]:
        """Do the next part of the rest of the last :meth:`show`.

        Returns the output it showed if that was its last part (else ``None``), and whether parts are left.
        """
        key = self._steps.pop(0)() if self._steps else None
        return key, bool(self._steps)

    def finish_image(self) -> str | None:
        """Do the rest of the last :meth:`show` now if left for later; the output it shows, if so."""
        key = None
        while self._steps:
            key = self._steps.pop(0)()
        return key

    def drop_image_step(self) -> None:
        """Forget the rest of the last :meth:`show` (the widget closes)."""
        self._steps = []

    # ------------------------------------------------------------------ placeholders
    def placeholders(self, first: SourceInfo | None, params: SegmentationParams | None,
                     plan: Any) -> bool | None:
        """Add the pair as placeholders (``starting…``) for a run, in later turns (none added now).

        Shaped and placed for the output of ``first`` with ``params``. Added above the user's layers; the
        user's layer selection is kept. Returns ``True`` (parts left for later turns, see
        :meth:`next_part`), or ``None`` when none is shown (other layers kept in other units, see
        :meth:`show`).
        """
        shape, scale, first_frame, first_z = buffers.placeholder_geometry(first, params, plan)
        with layer_ops.selection_kept(self.viewer.layers):
            labels, image = buffers.new_buffers(shape, None)
            view = TaskView(PLACEHOLDER, PLACEHOLDER, shape[0], labels, image, scale,
                            first.pixel_size if first is not None else PixelSize(), first_frame=first_frame,
                            first_z=first_z)
            split = self.show(view, None, later=True)

        def kept(step: Callable[[], str | None]) -> Callable[[], str | None]:
            def then() -> str | None:
                with layer_ops.selection_kept(self.viewer.layers):
                    return step()
            return then

        self._steps = [kept(step) for step in self._steps]
        return split

    def remove_placeholders(self, also: Iterable[str] = ()) -> None:
        """Remove the placeholder pair, and the layers of outputs ``also`` (a run that showed nothing).

        In one batch of napari's list: napari collects all garbage after a removal (0.25-0.45 s with
        torch and Cellpose loaded), once per batch (napari 0.8 and later), not once per layer.
        """
        keys = {PLACEHOLDER, *also}
        layers = [layer for layer in self.viewer.layers if layer_meta(layer).get("stream")
                  and layer_meta(layer).get("task_key") in keys and not layer_meta(layer).get("dirty")]
        with contextlib.suppress(Exception), self.viewer.layers.batched_update():  # (napari tearing down)
            for layer in layers:
                with contextlib.suppress(Exception):  # the user removed it
                    self.viewer.layers.remove(layer)
        for layer in layers:
            release(layer.data)
