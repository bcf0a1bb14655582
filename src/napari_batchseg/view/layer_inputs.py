"""napari image layers as engine inputs, without Qt: axes, file, pixel size, the plan over them.

Each chosen layer becomes an :class:`~napari_batchseg.io.arrays.ArrayInput` (its data, axes, file,
pixel size, T offset); :func:`napari_batchseg.engine.plan_arrays` plans them as files are planned: the
outputs are ``<folder>/<layer name>_vSM.ome.tif`` and the log names the layer and the file it came
from when napari knows it. Layers are read by their attributes only (``ndim``, ``data``, ``scale``,
``units``, ``translate``, ``axis_labels``, ``rgb``, ``source``, ``metadata``, ``name``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..engine import plan_arrays
from ..events import Plan
from ..io.arrays import CANONICAL, ArrayInput
from ..io.sources import PixelSize
from ..params import SegmentationParams
from .layer_files import layer_meta

__all__ = ["LEAD_CHOICES", "axes_choices", "guess_axes", "layer_inputs", "layer_pixel_size", "layer_plan",
           "layer_source_file"]

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
