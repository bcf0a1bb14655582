"""napari-batchseg: batch cell segmentation of microscopy files with Cellpose or micro-sam.

The public Python API is small: :func:`segment_files` runs a batch, :class:`SegmentationParams` holds
its options, :func:`open_mask` reads a result back.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ._version import __version__
from .params import SegmentationParams, ZRange

if TYPE_CHECKING:
    from typing import Any

__all__ = ["SegmentationParams", "ZRange", "__version__", "open_mask", "segment_files"]

# a library's records go where the application sends them; none configured, Python's last resort printed
# them to stderr beside the CLI's own lines (a walk: each plan note twice)
logging.getLogger(__name__).addHandler(logging.NullHandler())


def __getattr__(name: str) -> Any:  # lazy: keep `import napari_batchseg` light (no torch, no cellpose)
    if name == "segment_files":
        from .api import segment_files

        return segment_files
    if name == "open_mask":  # (checked as measure/export check masks: not io.masks.read_mask)
        from .api import open_mask

        return open_mask
    raise AttributeError(name)
