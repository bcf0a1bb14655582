"""napari image layers as engine inputs, without Qt: axes, file, pixel size, the plan over them.

Each chosen layer becomes an :class:`~napari_batchseg.io.arrays.ArrayInput` (its data, axes, file,
pixel size, T offset); :func:`napari_batchseg.engine.plan_arrays` plans them as files are planned: the
outputs are ``<folder>/<layer name>_vSM.ome.tif`` and the log names the layer and the file it came
from when napari knows it. The *Segment image layers* panel (``_napari._layers``) takes its layers' axes
(:func:`chosen_axes`), what the Settings tab shows of them (:func:`layer_infos`, :func:`described`) and
the frame on screen (:func:`layer_frame`) from here. Layers are read by their attributes only (``ndim``,
``data``, ``scale``, ``units``, ``translate``, ``axis_labels``, ``rgb``, ``source``, ``metadata``,
``name``, and ``world_to_data`` for the frame on screen).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..engine import plan_arrays
from ..events import Plan
from ..io.arrays import CANONICAL, ArrayInput, ArraySource, safe_name
from ..io.sources import PixelSize, SourceInfo
from ..params import SegmentationParams
from .layer_files import layer_meta

__all__ = ["LEAD_CHOICES", "axes_choices", "chosen_axes", "described", "guess_axes", "layer_frame",
           "layer_infos", "layer_inputs", "layer_pixel_size", "layer_plan", "layer_source_file"]

#: leading-axes choices by number of non-YX axes (first: the default when the layer does not say)
LEAD_CHOICES = {
    0: [""],
    1: ["T", "Z", "C"],
    2: ["TZ", "TC", "CZ", "ZC", "CT"],
    3: ["TCZ", "TZC", "CTZ"],
    4: ["PTCZ"],
}


def guess_axes(layer: Any) -> str:
    """The layer's axes in ``P T C Z Y X`` letters (from its ``axis_labels`` when they are such letters).

    RGB(A) layers end with a channel axis (``...YXC``). Otherwise the first default of
    :data:`LEAD_CHOICES` (a 3D layer is read as a time series).
    """
    ndim = int(layer.ndim)
    labels = [str(a).upper() for a in getattr(layer, "axis_labels", ())]
    if len(labels) == ndim and all(a in CANONICAL for a in labels) and len(set(labels)) == ndim \
            and labels[-2:] == ["Y", "X"]:
        axes = "".join(labels)
    else:
        axes = LEAD_CHOICES.get(ndim - 2, ["?" * (ndim - 2)])[0] + "YX"
    return axes + ("C" if getattr(layer, "rgb", False) else "")


def layer_source_file(layer: Any) -> Path | None:
    """The file napari opened the layer from, if it knows it."""
    path = getattr(getattr(layer, "source", None), "path", None)
    if path:
        return Path(path)
    src = layer_meta(layer).get("source")
    return Path(src) if src else None


def layer_pixel_size(layer: Any, axes: str) -> PixelSize:
    """Pixel size in µm from the layer's scale, when its units are micrometres.

    The time step (s) too, when its T unit is seconds (as the reader gives them).
    """
    try:
        units = [str(u) for u in layer.units]
    except AttributeError:
        return PixelSize()
    it = axes.index("T") if "T" in axes else -1
    t = float(layer.scale[it]) if 0 <= it < len(units) and units[it] in ("second", "s") else None
    iy, ix = axes.index("Y"), axes.index("X")
    if iy >= len(units) or ix >= len(units) or units[ix] not in ("micrometer", "µm", "um"):
        return PixelSize(t=t)
    z = float(layer.scale[axes.index("Z")]) if "Z" in axes else None
    return PixelSize(x=float(layer.scale[ix]), y=float(layer.scale[iy]), z=z, t=t)


def layer_inputs(layers: list[tuple[Any, str]]) -> list[ArrayInput]:
    """One engine input per ``(layer, axes)``: its data, axes, name, file, pixel size and T offset.

    Its outputs go to the run's output folder, else beside the layer's file.
    """
    inputs = []
    for layer, axes in layers:
        src = layer_source_file(layer)
        t0 = float(layer.translate[axes.index("T")]) if "T" in axes else 0.0  # the layer moved along T
        inputs.append(ArrayInput(layer.data, axes, layer.name, src, layer_pixel_size(layer, axes), t0,
                                 src.parent if src else None))
    return inputs


def layer_plan(layers: list[tuple[Any, str]], params: SegmentationParams) -> Plan:
    """A :class:`~napari_batchseg.events.Plan` over image layers, planned by the engine as files are.

    Raises ``ValueError`` for a layer without a file when there is no output folder, or whose axes do
    not fit it.
    """
    inputs = layer_inputs(layers)
    lost = next((i.name for i in inputs if i.folder is None), None)
    if lost is not None and not params.output_dir:
        raise ValueError(f"layer {lost!r} has no file: choose an output folder (Files › Output)")
    return plan_arrays(inputs, params)


def axes_choices(layer: Any) -> tuple[list[str], str]:
    """The axes a user may choose for ``layer`` (its guess first when no usual choice), and the guess."""
    guess = guess_axes(layer)
    rgb = "C" if getattr(layer, "rgb", False) else ""
    choices = [c + "YX" + rgb for c in LEAD_CHOICES.get(int(layer.ndim) - 2, [])]
    return (choices if guess in choices else [guess, *choices]), guess


def chosen_axes(layers: list[Any], choice: str) -> list[tuple[Any, str]]:
    """``(layer, axes)`` per image layer chosen, the axes ``choice`` given to those shaped like the first.

    Shaped like it: as many dimensions, RGB or not. The others, and all when ``choice`` is ``""``, take
    their own guess (:func:`guess_axes`).
    """
    if not layers:
        return []
    first = layers[0]

    def like_first(lay: Any) -> bool:
        return bool(lay.ndim == first.ndim and getattr(lay, "rgb", False) == getattr(first, "rgb", False))

    return [(lay, choice if choice and like_first(lay) else guess_axes(lay)) for lay in layers]


def layer_infos(chosen: list[tuple[Any, str]]) -> list[SourceInfo]:
    """What the engine will know of each ``(layer, axes)`` (no pixel read): their metadata as inputs.

    Layers whose axes do not fit them, or whose data has no shape, are left out.
    """
    out = []
    for layer, axes in chosen:
        try:
            src = ArraySource(layer.data, axes, Path(safe_name(layer.name)), layer.name,
                              layer_source_file(layer))
        except (ValueError, AttributeError, TypeError):  # axes that do not fit, data without a shape
            continue
        out.append(src.info)
    return out


def described(chosen: list[tuple[Any, str]]) -> tuple[Any, ...]:
    """What the Settings tab describes of the ``chosen`` layers: each one, its axes and its shape.

    The panel says that the layers described changed only when this changes.
    """
    return tuple((id(lay), axes, tuple(getattr(lay.data, "shape", ()))) for lay, axes in chosen)


def layer_frame(layer: Any, axes: str, point: tuple[float, ...]) -> int | None:
    """The time index of ``layer`` (of ``axes``) at the viewer's world ``point`` (clipped; ``None``: no T)."""
    if "T" not in axes:
        return None
    coords = layer.world_to_data(point[-layer.ndim:]) if layer.ndim else ()
    return int(np.clip(round(float(coords[axes.index("T")])), 0, layer.data.shape[axes.index("T")] - 1))
