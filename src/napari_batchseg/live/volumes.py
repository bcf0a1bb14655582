"""Volumes in the live view (``z_mode`` 3d / stitch), without Qt: their display shape, and storing one.

A volume run's output is shown as ``(T, Z, Y, X)`` layers that fill volume by volume, as frames fill
the ``(T, Y, X)`` layers of a 2D run. A volume is tens of megabytes: it is copied into the display
buffer by :func:`store_volume` in a worker thread (never on the GUI thread), one at a time per output
and in order; :meth:`~napari_batchseg.live.LiveModel.storing` counts those under way, and the output's
end waits for them (its layers then equal its mask). Memory: the buffer holds the movie once (the
engine keeps no volume it has yielded); above ``limit_bytes`` it holds only the latest volume, and the
finished output is read back from its mask file instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import BatchSegError
from ..io.sources import SourceInfo
from ..params import SegmentationParams
from ..prepare_3d import is_volume_mode, volume_z
from ..results import quick_range

__all__ = ["Stored", "store_volume", "volume_shape", "volume_slices"]

#: display bytes per voxel reckoned for the latest-only decision (uint16 labels, float32 input, and room
#: for labels widened to uint32), as for 2D frames
BYTES_PER_VOXEL = 8


def volume_slices(info: SourceInfo | None, params: SegmentationParams | None) -> int | None:
    """Z slices of each volume of an output of ``info`` run with ``params`` (``None``: not a volume run).

    ``None`` too when they cannot be told (no metadata, or a Z range the file lacks: the run fails).
    """
    if info is None or params is None or not is_volume_mode(params):
        return None
    try:
        n_z = len(volume_z(info, params.zrange))
    except BatchSegError:
        return None
    return n_z if n_z > 0 else None


def volume_shape(n_frames: int, n_z: int, yx: tuple[int, int],
                 limit_bytes: int) -> tuple[tuple[int, int, int, int], bool]:
    """``(T, Z, Y, X)`` display shape of a volume output, and whether only its latest volume is kept.

    ``limit_bytes``: above this (all volumes, :data:`BYTES_PER_VOXEL` each voxel) the latest only.
    """
    n = max(int(n_frames), 1)
    ny, nx = (int(v) for v in yx)
    latest_only = n > 1 and n * int(n_z) * ny * nx * BYTES_PER_VOXEL > limit_bytes
    return ((1 if latest_only else n), int(n_z), ny, nx), latest_only


@dataclass(frozen=True)
class Stored:
    """What :func:`store_volume` did beyond the copy.

    ``labels``: a new, wider (uint32) labels buffer that now holds every volume (the layers must show it
    instead of the old one); ``None`` when the old one held the volume. ``contrast``: display limits of
    the volume's middle slice, when asked for.
    """

    labels: NDArray[Any] | None = None
    contrast: tuple[float, float] | None = None


def store_volume(labels_buf: NDArray[Any], image_buf: NDArray[Any], slot: int, labels: NDArray[Any],
                 image: NDArray[Any] | None, contrast: bool = False) -> Stored:
    """Copy one ``(Z, Y, X)`` volume (labels, and its prepared input when given) into ``slot`` of the buffers.

    Runs in a worker thread. Labels with ids above the buffer's dtype get a uint32 copy of the whole
    buffer (returned; the old one is left unchanged). Raises ``ValueError`` when a volume does not
    fit the buffers.
    """
    if labels.shape != labels_buf.shape[1:] or (image is not None and image.shape != image_buf.shape[1:]):
        raise ValueError(f"a volume of shape {labels.shape} does not fit the display buffer "
                         f"{labels_buf.shape}")
    widened = None
    top = int(labels.max()) if labels.size else 0
    if top > np.iinfo(labels_buf.dtype).max:
        widened = labels_buf.astype(np.uint32)
        labels_buf = widened
    labels_buf[slot] = labels
    if image is not None:
        image_buf[slot] = image
    limits = quick_range(image[image.shape[0] // 2]) if contrast and image is not None else None
    return Stored(widened, limits)
