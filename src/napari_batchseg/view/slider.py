"""Where napari's slider stands along a layer's frames, without napari.

Each function reads napari's dims (``ndim``, ``point``, ``displayed``) and a layer (``ndim``,
``scale``, ``translate``, ``data``) by their attributes: the layer's first axis is T (a ``T Y X`` or
``T Z Y X`` stream layer), placed at ``translate[0]`` with a step of ``scale[0]``; napari's dims have the
layer's axes last. Used by the napari widget's layer pool (``view.layer_pool.LayerPool``) and its
layer streamer.
"""

from __future__ import annotations

from typing import Any

__all__ = ["displayed_index", "into_frames", "middle_z_point", "slider_slot", "t_point"]


def slider_slot(dims: Any, layer: Any) -> int | None:
    """Index along T of ``layer``'s frame at napari's slider (``None``: no layer, or no such axis)."""
    if layer is None:
        return None
    axis = dims.ndim - layer.ndim
    if axis < 0:
        return None
    return int(round((dims.point[axis] - layer.translate[0]) / layer.scale[0]))


def displayed_index(dims: Any, layer: Any) -> int | None:
    """Index along T of ``layer``'s frame on screen (``None``: T is drawn (3D view of ``T Y X``), or 2D).

    A volume's ``(T, Z, Y, X)`` layer in napari's 3D view draws one time point: its index.
    """
    if layer.ndim < 3:
        return None
    axis = dims.ndim - layer.ndim
    if axis < 0 or axis in tuple(dims.displayed):
        return None
    return slider_slot(dims, layer)


def t_point(dims: Any, layer: Any, index: int) -> tuple[int, float] | None:
    """``(axis, point)`` that puts napari's slider on frame ``index`` of ``layer`` (``None``: no T slider)."""
    if layer is None:
        return None
    axis = dims.ndim - layer.ndim
    if not 0 <= axis < dims.ndim:
        return None
    return axis, float(layer.translate[0] + index * layer.scale[0])


def into_frames(dims: Any, layer: Any) -> tuple[int, float] | None:
    """``(axis, point)`` of ``layer``'s frame nearest napari's slider when the slider lies past its frames.

    ``None`` when the slider stands on one of them (or the layer has no T slider). Another layer with more
    frames (a tracked movie, an edited mask set apart) keeps the slider where the stream layers, one frame
    of a single image, have nothing: napari draws nothing of them there.
    """
    slot = slider_slot(dims, layer)
    n = int(layer.data.shape[0]) if layer is not None and layer.ndim >= 3 else 0
    if slot is None or n == 0 or 0 <= slot < n:
        return None
    return t_point(dims, layer, min(max(slot, 0), n - 1))


def middle_z_point(dims: Any, layer: Any) -> tuple[int, float] | None:
    """``(axis, point)`` of the middle Z slice of a ``T Z Y X`` layer (``None``: no Z slider for it).

    napari puts a new axis' slider at its start: the top slice, often empty or out of focus.
    """
    axis = dims.ndim - layer.ndim + 1
    if layer.ndim != 4 or not 0 < axis < dims.ndim:
        return None
    middle = layer.data.shape[1] // 2
    return axis, float(layer.translate[1] + middle * layer.scale[1])
