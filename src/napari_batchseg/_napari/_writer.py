"""npe2 writer entry point: :func:`napari_batchseg.view.layer_files.write_labels` (no Qt)."""

from __future__ import annotations

from ..view.layer_files import mask_path_for, write_labels

__all__ = ["mask_path_for", "write_labels"]
