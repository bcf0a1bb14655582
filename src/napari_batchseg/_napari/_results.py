"""Showing an output the user asks for: :class:`napari_batchseg.view.result_showing.ResultShowing` (no Qt)."""

from __future__ import annotations

from ..view.result_showing import ResultShowing, Streams, _layer_label, _t_offset

__all__ = ["ResultShowing", "Streams", "_layer_label", "_t_offset"]
