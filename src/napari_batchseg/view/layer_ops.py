"""Small operations on the streamed layers, without napari: retargeting, units, edit marks, contrast.

Each works on a layer object by its attributes (``data``, ``scale``, ``metadata``, ``name``, ``units``,
...), as napari's layers have them: used by the napari widget's layer pool (``view.layer_pool``),
its layer streamer (``_napari._stream``), the reopened results and the correction panel. No layer is
created here and nothing here imports napari.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from .buffers import layer_axes
from .layer_files import META_KEY, layer_meta
from .stream_layers import EDITED, detached_name, per_axis_units, unit_name

__all__ = ["extent", "mark_edited", "mark_saved", "release", "retarget", "selection_kept", "set_apart",
           "set_contrast", "set_units", "unitless"]

#: napari 0.9 warns that plugins lose this private attribute "no earlier than 0.10" (see selection_kept)
warnings.filterwarnings("ignore", message=r"Private attribute access \('LayerList\._activate_on_insert'\)",
                        category=FutureWarning)


def extent(layer: Any) -> tuple[Any, ...] | None:
    """A layer's last two sizes and scales, ``(Y, X, dy, dx)`` (``None``: no layer): a new one is framed."""
    if layer is None:
        return None
    return tuple(layer.data.shape[-2:]) + tuple(layer.scale[-2:])


@contextlib.contextmanager
def selection_kept(layers: Any) -> Iterator[None]:
    """Layers added to napari's ``layers`` in the block are not selected: the user's selection stays.

    napari selects a layer added and shows its controls: two rebuilds of the layer controls with the
    selection put back, 10-30 % of adding a layer here. Told not to through a private attribute (napari
    0.8-0.9); the selection is put back after the block in any case (older napari selects anyway).
    """
    selection = layers.selection
    before, active = set(selection), selection.active
    told = hasattr(layers, "_activate_on_insert")
    was = layers._activate_on_insert if told else None
    if told:
        layers._activate_on_insert = False
    try:
        yield
    finally:
        if told:
            layers._activate_on_insert = was
        if set(selection) != before or selection.active is not active:
            selection.clear()
            selection.update(before)
            selection.active = active


def retarget(layer: Any, data: Any, scale: tuple[float, ...], name: str, meta: dict[str, Any],
             units: str | tuple[str, ...] | None = None, translate: tuple[float, ...] | None = None,
             visible: bool = True) -> None:
    """Point an existing layer at another output, touching only what changes (each change costs).

    Units are set first, before any setter that can make napari draw (a data change that shows or
    hides the frame slider repaints the canvas at once): the caller has set the other stream layer's.
    A change of dimensions (a volume output after a 2D one, or back) sets the axis labels (and
    ``units``, if given) after the data: napari's new axis comes without them. The stream layers'
    caller makes both ``pixel`` first (:func:`unitless`) and gives their units once both changed, so
    that napari never draws two layers whose units differ.
    """
    reshaped = layer.ndim != np.ndim(data)
    if not layer.visible and np.shape(layer.data) != np.shape(data):  # (hidden again below) napari 0.9
        # refreshes a shown layer's extent only: its dims kept a hidden one's old ranges (a slider over the
        # idle pair's 53 frames for a run of 10) or took its new axes with stale ranges (IndexError)
        layer.visible = True
    if units is not None and not reshaped:
        set_units(layer, units)
    old = layer.data
    if old is not data:
        layer.data = data
        release(old)
    if reshaped:
        with contextlib.suppress(Exception):  # napari without settable axis labels
            layer.axis_labels = layer_axes(layer.ndim)
        if units is not None:
            set_units(layer, units)
    if tuple(layer.scale) != tuple(scale):
        layer.scale = scale
    if translate is not None and tuple(layer.translate) != tuple(translate):
        layer.translate = translate
    # (the metadata before the name: the docks' layer choices, refreshed on a rename, read it)
    layer.metadata = {**layer.metadata, META_KEY: {**meta, "units": units or layer_meta(layer).get("units")}}
    if layer.name != name:
        layer.name = name
    if len(getattr(layer, "features", ())):  # an earlier output's table (the Measure dock's), not this one's
        layer.features = {}
    if layer.visible != visible:
        layer.visible = visible


def set_apart(layers: Iterable[Any], key: str, keep: tuple[Any, ...] = (), stale: str | None = None) -> None:
    """Layers of output ``key`` (but ``keep``) are no longer its stream layers: named ``… (edited)``.

    They hold edits and stay as they are, apart from its frames (no task key, not streamed).
    ``stale``: the output's file is about to be rewritten (a new run of it): their edits can no longer
    be saved into it (that would silently replace the new result); the reason goes in the labels
    layer's metadata, in place of its mask file.
    """
    for layer in list(layers):
        m = layer_meta(layer)
        if m.get("task_key") != key or any(layer is k for k in keep):
            continue
        m["task_key"] = None
        m["stream"] = False
        name = detached_name(layer.name, m.get("role"))  # `… (edited)`
        if name != layer.name:
            layer.name = name
        if m.get("role") == "mask" and stale and m.get("mask_path"):
            m["mask_path"], m["stale"] = None, stale


def set_units(layer: Any, units: str | tuple[str, ...]) -> None:
    """Give every axis of a layer ``units`` (recorded in its metadata), unless it has them already.

    Every axis, as the reader does (``units="µm"`` for a mask or an input): a layer added with a units
    string has them on every axis, and napari compares layers axis by axis, T included. The stream
    layers change units together, one right after the other, before any other change: napari warns
    ("Inconsistent units across layers") whenever it draws layers whose units differ.
    """
    per_axis = per_axis_units(units, layer.ndim)
    if tuple(str(u) for u in layer_meta(layer).get("units", ())) == per_axis and \
            tuple(unit_name(u) for u in layer.units) == per_axis:
        return
    with contextlib.suppress(Exception):  # napari without settable units: keep the old ones
        layer.units = per_axis
    meta = layer.metadata.get(META_KEY)
    if isinstance(meta, dict):
        meta["units"] = per_axis


def unitless(*layers: Any) -> None:
    """Make every axis of ``layers`` ``pixel`` (their dimensions are about to change: :func:`retarget`)."""
    for layer in layers:
        if layer is not None:
            set_units(layer, "pixel")


def release(data: object) -> None:
    """Close the file behind a lazily read array that a layer no longer shows."""
    close = getattr(data, "close", None)
    if callable(close) and not isinstance(data, np.ndarray):
        with contextlib.suppress(Exception):
            close()


def mark_edited(layer: Any) -> None:
    """The layer holds edits not saved yet: never reused for another output, and named ``… (edited)``."""
    meta = layer.metadata.get(META_KEY)
    if isinstance(meta, dict):
        meta["dirty"] = True
    if not layer.name.endswith(EDITED):
        layer.name = f"{layer.name}{EDITED}"


def mark_saved(layer: Any) -> None:
    """The layer's edits are saved to its mask: its name loses ``(edited)``."""
    meta = layer.metadata.get(META_KEY)
    if isinstance(meta, dict):
        meta["dirty"] = False
    if layer.name.endswith(EDITED):
        layer.name = layer.name[: -len(EDITED)]


def set_contrast(layer: Any, limits: tuple[float, float]) -> None:
    """Show an image layer with contrast ``limits``; its slider's range takes in 0 and at least one more."""
    lo, hi = limits
    layer.contrast_limits_range = (min(lo, 0.0), max(hi, lo + 1.0))
    layer.contrast_limits = (lo, hi)
