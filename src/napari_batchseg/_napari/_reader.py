"""npe2 reader entry point: the layer data are made without Qt by :mod:`napari_batchseg.view.layer_files`."""

from __future__ import annotations

from ..view.layer_files import (
    META_KEY,
    axis_scale,
    axis_units,
    is_mask_file,
    mask_layer_data,
    napari_get_reader,
    read_paths,
    tyx_scale,
)

__all__ = ["META_KEY", "axis_scale", "axis_units", "is_mask_file", "mask_layer_data", "napari_get_reader",
           "read_paths", "tyx_scale"]
