"""Segment Anything for Microscopy (micro-sam), an optional method, as a package of small modules.

* :mod:`.segmenter`: :class:`MicroSamSegmenter` (AIS/AMG/APG, tiling);
* :mod:`.cache`: the on-disk embedding cache (:class:`EmbeddingCache`, :func:`embedding_cache_dir`);
* :mod:`.weights`: built-in weights in micro-sam's cache folder, or a local checkpoint;
* :mod:`.options`: AIS/AMG/APG/run settings and the label convention (:func:`relabel_consecutive`);
* :mod:`.volume`: micro-sam's 3D automatic segmentation (``z_mode`` 3d: slices merged across Z);
* :mod:`._imports` and :mod:`._torchvision_compat`: importing micro-sam (and torchvision next to a
  CPU-only torch) with clear errors.

Model names are in :mod:`napari_batchseg.segmenters.catalog`. Importing this package does not import
micro-sam or torch.
"""

from __future__ import annotations

from ._imports import INSTALL_HINT, import_microsam, microsam_available
from .cache import EmbeddingCache, embedding_cache_dir
from .options import (
    AIS_DEFAULTS,
    AMG_DEFAULTS,
    APG_DEFAULTS,
    RUN_DEFAULTS,
    default_halo,
    relabel_consecutive,
)
from .segmenter import MicroSamSegmenter
from .volume import VOLUME_DEFAULTS

#: The name ``scripts/install_microsam.sh`` and docs/microsam.md call (same function).
_import_microsam = import_microsam

__all__ = [
    "AIS_DEFAULTS",
    "AMG_DEFAULTS",
    "APG_DEFAULTS",
    "INSTALL_HINT",
    "RUN_DEFAULTS",
    "VOLUME_DEFAULTS",
    "EmbeddingCache",
    "MicroSamSegmenter",
    "default_halo",
    "embedding_cache_dir",
    "import_microsam",
    "microsam_available",
    "relabel_consecutive",
]
