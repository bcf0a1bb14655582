"""npe2 sample data entry point: :func:`napari_batchseg.view.layer_files.nuclei_sample` (no Qt)."""

from __future__ import annotations

from ..view.layer_files import nuclei_sample

__all__ = ["nuclei_sample"]
