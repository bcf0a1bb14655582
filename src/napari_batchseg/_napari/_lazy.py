"""On-demand plane arrays: the core's :mod:`napari_batchseg.io.lazy` (no Qt).

Kept as the name the widget's modules import from.
"""

from __future__ import annotations

from ..io.lazy import PlaneArray, shared, source_channel_array

__all__ = ["PlaneArray", "shared", "source_channel_array"]
