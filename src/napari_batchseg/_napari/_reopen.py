"""Reading a finished output back for display: the core's :mod:`napari_batchseg.results` (no Qt).

Kept as the name the widget's modules import from; the work is all in the core.
"""

from __future__ import annotations

from ..io.lazy import PlaneArray
from ..results import LoadedResult, load_result, prefetch_planes

__all__ = ["LoadedResult", "PlaneArray", "load_result", "prefetch_planes"]
