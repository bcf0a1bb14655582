"""The stream layers' names and ``batchseg`` metadata, without napari: placeholders, edits, units.

The napari widget shows each output of a run in one pair of layers, reused from output to output
(``view.layer_pool``, ``_napari._stream``): a labels layer (role ``mask``) and the prepared
input (role ``prepared``). These are the plain values it gives them and the decisions it reads from them.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..io.sources import PixelSize
from .layer_files import is_kind, layer_meta

__all__ = ["CANCELLED", "EDITED", "PLACEHOLDER", "cancelled_name", "detached_name", "image_meta",
           "in_other_units", "labels_meta", "not_shown_note", "offered", "pair_of", "per_axis_units",
           "reusable_pair", "streamed_label", "unit_name"]

#: the task key and name of the placeholder layers (made at Run, until the run's first output takes them)
PLACEHOLDER = "batch segmentation: starting…"
#: how the name of a layer with edits not saved yet ends
EDITED = " (edited)"
_INPUT = " (input)"
#: how the name of a cancelled output's labels layer ends (nothing was written)
CANCELLED = " (cancelled, not saved)"


def offered(layer: Any, kind: str) -> bool:
    """Whether the docks offer ``layer`` as a ``kind`` layer (``"Labels"``, ``"Image"``) to work on.

    Not the stream layers while they are placeholders (empty, until the run's first output takes them).
    """
    return is_kind(layer, kind) and layer_meta(layer).get("task_key") != PLACEHOLDER


def pair_of(layers: Iterable[Any], key: str | None) -> tuple[Any, Any]:
    """``(labels_layer, image_layer)`` of output ``key`` among ``layers`` (``None`` where absent).

    Found by the task key and role in their ``batchseg`` metadata (never by name, selection or
    position); the first of each role counts. ``key`` ``None``: none.
    """
    labels = image = None
    if key is None:
        return None, None
    for layer in layers:
        m = layer_meta(layer)
        if m.get("task_key") != key:
            continue
        if m.get("role") == "mask" and labels is None:
            labels = layer
        elif m.get("role") == "prepared" and image is None:
            image = layer
    return labels, image


def reusable_pair(layers: Iterable[Any], key: str, viewed: str | None) -> tuple[Any, Any]:
    """Layers to show output ``key`` in: its own, else those of ``viewed`` if unedited, else ``None``.

    An input layer whose labels layer the user closed is reused too (it was kept apart as "edited", and
    a second input layer added).
    """
    layers = list(layers)
    for k in (key, viewed) if viewed not in (None, key) else (key,):
        labels, image = pair_of(layers, k)
        orphan = labels is None and image is not None  # its labels layer closed by the user
        if orphan or (labels is not None and not layer_meta(labels).get("dirty")):
            return labels, image
    return None, None


def labels_meta(key: str, units: tuple[str, ...], mask_path: Path | None, pixel_size: PixelSize,
                first_frame: int, volume: bool = False, first_z: int = 0) -> dict[str, Any]:
    """The ``batchseg`` metadata of the stream labels layer showing output ``key`` (unedited).

    ``mask_path``: where its mask is saved (``None``: not yet); ``first_frame``: the input frame of its
    frame 0; ``volume``: it shows volumes (as the reader says of a volume mask,
    :func:`~napari_batchseg.view.layer_files.is_volume_result`); ``first_z``: the input slice of its slice 0.
    """
    return {
        "role": "mask", "task_key": key, "stream": True,
        "mask_path": str(mask_path) if mask_path else None, "pixel_size": pixel_size.as_dict(),
        "dirty": False, "units": units, "first_frame": int(first_frame), "volume": volume,
        "first_z": int(first_z),
    }


def image_meta(key: str, units: tuple[str, ...]) -> dict[str, Any]:
    """The ``batchseg`` metadata of the stream image layer (the prepared input) showing output ``key``."""
    return {"role": "prepared", "task_key": key, "stream": True, "units": units}


def streamed_label(label: str, ndim: int, latest_only: bool) -> str:
    """The labels layer's name for an output streamed in ``ndim`` display axes (``T Y X``, ``T Z Y X``).

    When only its latest frame (or volume) is kept for display, the name says so.
    """
    if not latest_only:
        return label
    return f"{label} (latest volume)" if ndim == 4 else f"{label} (latest frame)"


def cancelled_name(name: str) -> str:
    """The name of a cancelled output's labels layer: ``… (cancelled, not saved)`` (once)."""
    return name if name.endswith(CANCELLED) else f"{name}{CANCELLED}"


def detached_name(name: str, role: str | None) -> str:
    """The name of a stream layer set apart because it holds edits: ``… (edited)``.

    A labels layer (role ``mask``) gets `` (edited)`` at the end; an input layer (``prepared``) is named
    with its edited mask, ``<file> (edited) (input)`` (napari would call the next input layer
    ``… (input) [1]``). Other names, and names marked already, stay as they are.
    """
    if role == "prepared" and name.endswith(_INPUT) and EDITED not in name:
        return f"{name[: -len(_INPUT)]}{EDITED}{_INPUT}"
    if role == "mask" and not name.endswith(EDITED):
        return f"{name}{EDITED}"
    return name


def per_axis_units(units: str | tuple[str, ...], ndim: int) -> tuple[str, ...]:
    """``units`` for each of ``ndim`` axes: one string is every axis' (as the reader gives a layer)."""
    return (units,) * ndim if isinstance(units, str) else tuple(units)


def unit_name(unit: Any) -> str:
    """A napari (pint) unit as the name it was given (``µm`` for micrometre, ``second``, ``pixel``)."""
    text = str(unit)
    return {"micrometer": "µm"}.get(text, text)


def _kind(unit: Any) -> str:
    """What napari compares of a unit: a pixel count, a time, or a length (µm, nm, ...)."""
    name = unit_name(unit)
    return name if name in ("pixel", "second") else "length"


def in_other_units(layers: Iterable[Any], units: tuple[str, ...], pair: tuple[Any, Any]) -> list[Any]:
    """The stream layers kept in the viewer (but ``pair``) whose units napari cannot draw beside ``units``.

    The layers of this tool (a ``role`` in their ``batchseg`` metadata) that the stream keeps in the viewer
    beside the pair it shows: edited ones set apart, a result whose labels layer the user closed. napari
    draws layers in one world: when two disagree on an axis (µm against pixels, seconds against frames;
    compared from the last axis, as napari does) it warns ("Inconsistent units across layers") and draws
    them by their bare scale numbers, at sizes that have nothing to do with each other.
    """
    wanted = [_kind(u) for u in units[::-1]]
    return [layer for layer in layers
            if layer_meta(layer).get("role") in ("mask", "prepared") and not any(layer is p for p in pair)
            and layer_meta(layer).get("task_key") != PLACEHOLDER  # (empty; reused, else removed)
            and any(_kind(u) != w for u, w in zip(tuple(layer.units)[::-1], wanted, strict=False))]


def not_shown_note(label: str, units: tuple[str, ...], others: Iterable[Any]) -> str:
    """The dock's message for an output not shown beside layers in other units (:func:`in_other_units`)."""
    others = list(others)
    names = ", ".join(f"'{lay.name}'" for lay in others)
    space = "pixel" if "pixel" in units[-2:] else "length"
    timed = len(units) > 2 and units[0] == "second"
    if all(_kind(u) == space for lay in others for u in tuple(lay.units)[-2:]):  # the time axis differs
        own = "its frames are a time step apart" if timed else "its frames have no time step"
    else:
        own = "it is in " + ("pixels (its file has no pixel size)" if space == "pixel" else "µm")
        own += ", frames a time step apart" if timed else ""
    return (f"{label}: not shown: {own}, unlike {names} kept in the viewer (napari cannot draw "
            "both at their true sizes); its result is saved. To see it, close those layers (save their edits "
            "first, Correct tab) and show it from the table")
