"""Following the layers a dock works on, without Qt: their identity, their events, their brush edits."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Any

from .layer_files import is_kind, layer_meta
from .layer_ops import mark_edited


def layer_id(layer: Any) -> Any:
    """A layer's identity that survives the proxies napari gives plugins (``unique_id``, else the name)."""
    return getattr(layer, "unique_id", None) or layer.name


def same_layer(first: Any, second: Any) -> bool:
    """Whether ``first`` and ``second`` are one layer (neither ``None``), through napari's proxies.

    A dock opened from napari's Plugins menu gets a new proxy of a layer at each look-up: compared by
    identity, the layer a table was measured on was never the one the dock was showing.
    """
    return first is not None and second is not None and layer_id(first) == layer_id(second)


def shown_output(layer: Any) -> tuple[Any, Any]:
    """``(task_key, mask_path)`` of the output a layer shows, from its ``batchseg`` metadata."""
    meta = layer_meta(layer)
    return meta.get("task_key"), meta.get("mask_path")


def content_key(layer: Any) -> tuple[Any, Any, Any]:
    """What a layer holds: its identity and the output it shows.

    The Batch segmentation dock points its stream layer at each next output of a run: the same layer,
    other content (a table or scores of the earlier one are not the layer's any more).
    """
    return (layer_id(layer), *shown_output(layer))


class LayerWatch:
    """Follows named events of one layer at a time (told apart by :func:`layer_id`)."""

    def __init__(self, **slots: Callable[..., Any]) -> None:
        self.slots = slots  # event name -> slot
        self.layer: Any = None

    def watch(self, layer: Any) -> None:
        """Follow ``layer``'s events (``None``: none); the same layer again changes nothing."""
        if self.layer is not None and (layer is None or layer_id(layer) != layer_id(self.layer)):
            for event, slot in self.slots.items():
                disconnect([getattr(self.layer.events, event, None)], slot)
            self.layer = None
        if layer is not None and self.layer is None:
            for event, slot in self.slots.items():
                getattr(layer.events, event).connect(slot)
            self.layer = layer

    def close(self) -> None:
        """Follow no layer any more."""
        self.watch(None)


#: mask layers whose brush, fill and eraser strokes mark them edited (by :func:`layer_id`)
_EDITS_WATCHED: set[Any] = set()


def watch_mask_edits(layers: Iterable[Any]) -> None:
    """Mark a mask file's Labels layer edited (``dirty``) when napari's brush, fill or eraser changes it.

    Done by every dock, not only the Correct panel: Train's 'corrected' frames and Export's note trust it.
    """
    for layer in layers:
        key = layer_id(layer)
        if is_kind(layer, "Labels") and layer_meta(layer).get("mask_path") and key not in _EDITS_WATCHED:
            _EDITS_WATCHED.add(key)
            layer.events.paint.connect(lambda _event, lay=layer: mark_edited(lay))


def disconnect(events: Iterable[Any], *slots: Callable[..., Any]) -> None:
    """Disconnect ``slots`` from napari ``events`` (a closer: the dock no longer follows the viewer)."""
    for event in events:
        for slot in slots:
            with contextlib.suppress(Exception):  # never connected, or the viewer is gone already
                event.disconnect(slot)
