"""Turn a file's (P, T) frame into the ``(Z, Y, X)`` float32 volume a segmenter sees (``z_mode`` 3d/stitch).

The counterpart of :mod:`.prepare` for volumes: the channel is chosen, the Z slices picked (all, or a
fixed range ``A-B``), nothing is projected. One volume is read per time point, never the whole movie.
The anisotropy handed to Cellpose (Z step / XY pixel size) is the one given, else the file's own when
it states both sizes, else 1; :func:`resolve_anisotropy` says which, for the run log.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .io.sources import ImageSource, SourceInfo
from .params import SegmentationParams, ZRange
from .prepare import PreparedFrame, check_z_range, finish_read

__all__ = [
    "PreparedVolume",
    "check_volume",
    "file_anisotropy",
    "is_volume_mode",
    "prepare_volume",
    "resolve_anisotropy",
    "volume_z",
]


@dataclass
class PreparedVolume(PreparedFrame):
    """One prepared volume: :attr:`image` is ``(Z, Y, X)`` float32 (the slices :attr:`z_used`).

    Attributes
    ----------
    anisotropy
        Z step / XY pixel size handed to the segmenter (``3d``); ``None`` for ``stitch``.
    """

    anisotropy: float | None = None


def is_volume_mode(params: SegmentationParams) -> bool:
    """Whether ``params`` segments volumes (``z_mode`` ``3d`` or ``stitch``) rather than projected planes."""
    return params.z_mode != "project"


def volume_z(info: SourceInfo, zrange: ZRange) -> list[int]:
    """The Z slices of a volume: every slice (``all``) or ``start..stop`` (a range; checked)."""
    if zrange.mode == "range":
        check_z_range(info, zrange)
        return list(range(zrange.start, zrange.stop + 1))
    return list(range(info.sizes["Z"]))


def check_volume(info: SourceInfo, params: SegmentationParams) -> None:
    """Raise :class:`InputError` when the file cannot be segmented as volumes with ``params``.

    A file without Z (one slice), a Z range of one slice, or several channels are refused with one
    line naming the file.
    """
    nz = info.sizes["Z"]
    if nz < 2:
        raise InputError(
            f"{info.path}: --z-mode {params.z_mode} needs a Z stack; the file has 1 Z slice "
            "(use --z-mode project)"
        )
    zs = volume_z(info, params.zrange)
    if len(zs) < 2:
        raise InputError(
            f"{info.path}: --z-mode {params.z_mode} needs several Z slices; z_range {params.z_range} "
            "selects one"
        )
    if isinstance(params.channel, list) and len(params.channel) > 1:
        raise InputError(
            f"{info.path}: --z-mode {params.z_mode} segments one channel; {len(params.channel)} were given"
        )


def file_anisotropy(info: SourceInfo) -> float | None:
    """Z step / XY pixel size when the file states both (and they are positive), else ``None``."""
    ps = info.pixel_size
    xy = ps.x if ps.x is not None else ps.y
    if ps.z is None or xy is None:
        return None
    try:
        z, xy = float(ps.z), float(xy)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(z) and math.isfinite(xy)) or z <= 0 or xy <= 0:
        return None
    return z / xy


def resolve_anisotropy(info: SourceInfo, params: SegmentationParams) -> tuple[float | None, str]:
    """``(anisotropy, how it was chosen)`` for one file; ``(None, ...)`` outside ``z_mode`` 3d.

    Given (``params.anisotropy``) wins; else the file's Z step / XY pixel size; else 1 (said so).
    """
    if params.z_mode != "3d":
        return None, ""
    if params.anisotropy is not None:
        return float(params.anisotropy), f"anisotropy {params.anisotropy:g} (given)"
    found = file_anisotropy(info)
    if found is not None:
        ps = info.pixel_size
        xy = ps.x if ps.x is not None else ps.y
        return found, (
            f"anisotropy {found:.4g} (from the file: Z step {float(ps.z or 0):g} µm / XY pixel size "
            f"{float(xy or 0):g} µm)"
        )
    return 1.0, "anisotropy 1 (the file does not state both its Z step and XY pixel size; give --anisotropy)"


def prepare_volume(
    source: ImageSource,
    position: int,
    t: int,
    channel: int,
    z_indices: list[int],
    anisotropy: float | None,
) -> PreparedVolume:
    """Read the ``(Z, Y, X)`` volume of frame ``t`` (slices ``z_indices``) as float32.

    A volume whose 1st-99th percentile range is tiny is lifted to 0..1 as
    :func:`~.prepare.lift_low_range` does for planes (Cellpose would zero it; the tail shared with
    :func:`~.prepare.prepare_frame`: :func:`~.prepare.finish_read`); others are handed over as they are
    (converted to float32).
    """
    t0 = time.perf_counter()
    stack = source.read_zstack(position, t, channel, list(z_indices))
    t1 = time.perf_counter()
    volume, timings = finish_read(np.asarray(stack, dtype=np.float32), t0, t1)
    return PreparedVolume(
        position=position,
        t=t,
        image=volume,
        channel=channel,
        z_used=list(z_indices),
        best_focus=None,
        timings=timings,
        anisotropy=anisotropy,
    )
