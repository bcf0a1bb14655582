"""The Re-threshold dock's preview layer, without Qt: shown, updated, and removed when what it stands on goes.

``_napari._rethreshold_widget.RethresholdWidget`` holds one :class:`PreviewLayer`. The preview sits on
the previewed run's mask (its scale and units). Left in the viewer after that run's layer moved on, it
outlived its meaning and did harm (GUI trial 45): a pixel-unit preview beside the next result in µm made
napari warn of inconsistent units and draw that result tiny. So it goes with the dock, with its log
(removed from the list), and with the layer its run was taken from (*From selected layer*): that layer
removed, pointed at another mask (the run's stream layers reused for the next output) or given other units.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from .layer_files import layer_meta
from .rethreshold import LAYER_NAME, Preview

__all__ = ["SOURCE_GONE", "PreviewLayer", "outlived"]

#: the preview status once the layer its run was taken from is gone (or shows another run)
SOURCE_GONE = "The layer of the run previewed was removed or shows another result: its preview too."


def _spatial(units: Any) -> tuple[str, ...]:
    """The last two (Y, X) of a layer's units, as text."""
    return tuple(str(u) for u in tuple(units)[-2:])


def outlived(source: Any, mask: str, present: bool, preview: Any) -> bool:
    """Whether the preview layer ``preview`` outlived ``source``, the layer its run (mask ``mask``) came from.

    ``present``: ``source`` is in the viewer. Gone, pointed at another mask, or in other (Y, X) units than
    the preview: it has.
    """
    if not present or str(layer_meta(source).get("mask_path") or "") != mask:
        return True
    return preview is not None and _spatial(source.units) != _spatial(preview.units)


class PreviewLayer:
    """The preview Labels layer of one viewer (``layer``; ``None``: none) and the layer it was taken from.

    ``said(text)`` tells the dock's status line why the preview went.
    """

    def __init__(self, viewer: Any, said: Callable[[str], None]) -> None:
        self.viewer = viewer
        self.said = said
        self.layer: Any = None
        self.source: Any = None  #: the layer whose run is previewed (*From selected layer*), if any
        self.mask = ""  #: its mask file then

    def take_from(self, source: Any) -> None:
        """The run previewed is ``source``'s (its mask): the preview goes when ``source`` moves on."""
        self._unwatch()
        self.source, self.mask = source, str(layer_meta(source).get("mask_path") or "")
        for name in ("units", "metadata"):
            getattr(source.events, name).connect(self.check)
        self.viewer.layers.events.removed.connect(self.check)

    def show(self, preview: Preview) -> None:
        """Show ``preview`` in the preview layer (added when there is none), on its run's scale and units."""
        layer = self.layer
        if layer is None or layer not in self.viewer.layers:
            self.layer = self.viewer.add_labels(preview.labels, name=LAYER_NAME, scale=preview.scale,
                                                units=preview.units)
            return
        if tuple(layer.scale) != preview.scale:  # another run's log: its pixel size
            layer.units, layer.scale = preview.units, preview.scale
        layer.data = preview.labels

    def check(self, _event: object = None) -> bool:
        """Remove the preview if it outlived the layer its run came from (:func:`outlived`): whether so."""
        source = self.source
        if source is None or not outlived(source, self.mask, source in self.viewer.layers, self.layer):
            return False
        shown = self.layer is not None and self.layer in self.viewer.layers
        self.drop()
        if shown:
            self.said(SOURCE_GONE)
        return True

    def drop(self) -> None:
        """Remove the preview layer (if shown) and stop watching the layer it came from."""
        self._unwatch()
        layer, self.layer = self.layer, None
        with contextlib.suppress(Exception):  # (removed by the user, or napari tearing down)
            if layer is not None and layer in self.viewer.layers:
                self.viewer.layers.remove(layer)

    def _unwatch(self) -> None:
        source, self.source, self.mask = self.source, None, ""
        if source is None:
            return
        with contextlib.suppress(Exception):
            for name in ("units", "metadata"):
                getattr(source.events, name).disconnect(self.check)
            self.viewer.layers.events.removed.disconnect(self.check)
