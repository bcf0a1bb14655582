"""Turn a file's (P, T) frame into the one 2D float32 plane a segmenter sees.

Steps: choose the channel, pick the Z slices (all, a fixed range, the best-focus slice or best focus
plus/minus r), project them (max, min, mean, median, std) in floating point.

Several channels (Cellpose 4 takes up to 3) give a ``(C, Y, X)`` frame, one projected plane per channel
in the order asked for, all from the same Z slices (best focus is found on the first channel).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage as ndi

from .errors import InputError
from .io.sources import ImageSource, SourceInfo
from .params import ZRange


@dataclass
class PreparedFrame:
    """One prepared plane and how it was made.

    Attributes
    ----------
    position, t
        Where it comes from in the file (0-based).
    image
        ``(Y, X)`` float32 image handed to the segmenter; ``(C, Y, X)`` for several channels.
    channel
        0-based channel index used; a tuple of them (in order) for several channels.
    z_used
        Z slices projected (0-based).
    best_focus
        Best-focus slice, when it was computed.
    timings
        Seconds spent reading and projecting.
    """

    position: int
    t: int
    image: NDArray[Any]
    channel: int | tuple[int, ...]
    z_used: list[int] = field(default_factory=list)
    best_focus: int | None = None
    timings: dict[str, float] = field(default_factory=dict)


def resolve_channel(info: SourceInfo, channel: int | str) -> int:
    """Map a channel index or name onto a 0-based index, or raise :class:`InputError`."""
    return _resolve_one(info, channel)


def resolve_channels(
    info: SourceInfo, channel: int | str | Sequence[int | str]
) -> int | tuple[int, ...]:
    """Like :func:`resolve_channel`; a list of several channels maps onto a tuple of indices, in order."""
    if isinstance(channel, Sequence) and not isinstance(channel, str):
        indices = tuple(_resolve_one(info, c) for c in channel)
        return indices[0] if len(indices) == 1 else indices
    return _resolve_one(info, channel)


def channel_label(info: SourceInfo, channel: int | tuple[int, ...]) -> str:
    """``"1 (GFP)"``, or ``"1 (GFP), 0 (DAPI)"`` for several channels (for logs)."""
    indices = channel if isinstance(channel, tuple) else (channel,)
    names = info.channel_names
    return ", ".join(f"{i} ({names[i] if i < len(names) else '?'})" for i in indices)


def _resolve_one(info: SourceInfo, channel: int | str) -> int:
    n = info.sizes["C"]
    if isinstance(channel, str) and not channel.isdigit():
        names = [str(c) for c in info.channel_names]
        if channel in names:
            return names.index(channel)
        lowered = [c.lower() for c in names]
        if channel.lower() in lowered:
            return lowered.index(channel.lower())
        # a word of one name ("gfp" for "GFP 488 nm"), when only one name has it
        words = [re.split(r"[^0-9a-z]+", c) for c in lowered]
        having = [i for i, w in enumerate(words) if channel.lower() in w]
        if len(having) == 1:
            return having[0]
        if having:
            raise InputError(f"{info.path}: channel {channel!r} is a word of several channel names "
                             f"({', '.join(repr(names[i]) for i in having)}); give the whole name")
        raise InputError(
            f"{info.path}: no channel named {channel!r}; channels are {', '.join(map(repr, names))}"
        )
    index = int(channel)
    if not 0 <= index < n:
        listing = ", ".join(f"{i}={name}" for i, name in enumerate(info.channel_names))
        raise InputError(
            f"{info.path}: channel index {index} out of range; the file has {n} channel(s) ({listing})"
        )
    return index


def focus_measure(stack: NDArray[Any]) -> NDArray[Any]:
    """Tenengrad focus score per slice of a ``(Z, Y, X)`` stack.

    The stack is first smoothed with a 3-slice running mean over Z; each slice's score is the variance
    of its Sobel gradient magnitude.
    """
    data = np.asarray(stack, dtype=np.float32)
    if data.shape[0] > 1:
        data = ndi.uniform_filter1d(data, size=3, axis=0, mode="nearest")
    scores = np.empty(data.shape[0], dtype=np.float64)
    for i, plane in enumerate(data):
        gx = ndi.sobel(plane, axis=0)
        gy = ndi.sobel(plane, axis=1)
        scores[i] = float(np.var(np.hypot(gx, gy)))
    return scores


def best_focus_index(stack: NDArray[Any]) -> int:
    """Index of the sharpest slice of a ``(Z, Y, X)`` stack (see :func:`focus_measure`)."""
    return int(np.argmax(focus_measure(stack)))


def window_around(center: int, radius: int, n: int) -> list[int]:
    """``2*radius+1`` consecutive indices around ``center``, shifted inward at the stack edges."""
    size = min(2 * radius + 1, n)
    start = min(max(center - radius, 0), n - size)
    return list(range(start, start + size))


def check_z_range(info: SourceInfo, zrange: ZRange) -> None:
    """Raise :class:`InputError` when a fixed Z range does not fit the file."""
    nz = info.sizes["Z"]
    if zrange.mode == "range" and zrange.stop >= nz:
        slices = "1 Z slice (0): it is not a Z stack" if nz == 1 else f"{nz} Z slices (0-{nz - 1})"
        raise InputError(f"{info.path}: Z range {zrange} out of bounds; the file has {slices}")


def check_pixel_type(info: SourceInfo) -> None:
    """Raise :class:`InputError` for pixels the segmenters cannot take (complex numbers).

    Converting them to float would silently drop the imaginary part; the user decides instead
    (magnitude, phase, real part) and saves that.
    """
    if np.dtype(info.dtype).kind == "c":
        raise InputError(
            f"{info.path}: complex pixels ({np.dtype(info.dtype).name}) cannot be segmented; save the "
            "magnitude (abs), phase or real part as a real-valued image first"
        )


def project(stack: NDArray[Any], kind: str) -> NDArray[Any]:
    """Project a ``(Z, Y, X)`` stack along Z in float32 (``std`` is the sample std, ddof=1)."""
    data = np.asarray(stack, dtype=np.float32)
    if data.shape[0] == 1:
        return np.zeros_like(data[0]) if kind == "std" else data[0].copy()
    out: NDArray[Any]
    if kind == "max":
        out = data.max(axis=0)
    elif kind == "min":
        out = data.min(axis=0)
    elif kind == "mean":
        out = data.mean(axis=0, dtype=np.float64).astype(np.float32)
    elif kind == "median":
        out = np.median(data, axis=0).astype(np.float32)
    elif kind == "std":
        out = data.std(axis=0, ddof=1, dtype=np.float64).astype(np.float32)
    else:
        raise ValueError(f"unknown projection {kind!r}")
    return out


#: Cellpose sets an image whose 1st-99th percentile range is at most this to zero (an empty mask)
LOW_RANGE = 1e-3


def lift_low_range(image: NDArray[Any]) -> NDArray[Any]:
    """``image`` mapped to 0..1 by its 1st and 99th percentiles when they are closer than Cellpose takes.

    Only when their distance is at most :data:`LOW_RANGE` (and above 0); otherwise ``image`` itself.
    Cellpose normalises every image this very way, except that it zeroes one whose range is below
    :data:`LOW_RANGE` (a float image in small units, e.g. x 1e-4, gave an empty mask without a word).
    Mapped here, the segmenters see what Cellpose would have computed: the same objects as the image at
    any scale.
    """
    low, high = (float(v) for v in np.percentile(image, (1.0, 99.0)))
    span = high - low
    if not 0.0 < span <= LOW_RANGE:
        return image
    out = (image.astype(np.float64) - low) / span
    return out.astype(np.float32)


def finish_read(
    image: NDArray[Any], read_started: float, read_done: float, lift: bool = True
) -> tuple[NDArray[Any], dict[str, float]]:
    """The shared tail of preparing a frame or a volume: lift a tiny range, and the timings.

    ``image`` is what was read (between ``read_started`` and ``read_done``, :func:`time.perf_counter`
    values) and converted or projected since; it goes through :func:`lift_low_range` when ``lift``.
    Returns it with ``{"read": seconds reading, "prepare": seconds since the read, lifting included}``.
    """
    if lift:
        image = lift_low_range(image)
    return image, {"read": read_done - read_started, "prepare": time.perf_counter() - read_done}


def prepare_frame(
    source: ImageSource,
    position: int,
    t: int,
    channel: int | Sequence[int],
    zrange: ZRange,
    projection: str,
) -> PreparedFrame:
    """Read and prepare one frame of ``source`` (reads only the planes needed).

    ``channel``: one index gives a ``(Y, X)`` image; several (a sequence) a ``(C, Y, X)`` image in that
    order, every channel projected over the same Z slices (best focus found on the first channel).
    """
    if isinstance(channel, Sequence):
        channels = tuple(int(c) for c in channel)
        first = prepare_frame(source, position, t, channels[0], zrange, projection)
        nz = source.info.sizes["Z"]
        planes = [first.image]
        read_s, prepare_s = first.timings["read"], first.timings["prepare"]
        for c in channels[1:]:
            t0 = time.perf_counter()
            stack = source.read_zstack(position, t, c, first.z_used)
            t1 = time.perf_counter()
            plane = stack[0].astype(np.float32) if nz == 1 else project(stack, projection)
            plane, spent = finish_read(plane, t0, t1, lift=nz > 1 or source.info.dtype.kind == "f")
            planes.append(plane)
            read_s, prepare_s = read_s + spent["read"], prepare_s + spent["prepare"]
        return PreparedFrame(
            position=position,
            t=t,
            image=np.stack(planes),
            channel=channels,
            z_used=first.z_used,
            best_focus=first.best_focus,
            timings={"read": read_s, "prepare": prepare_s},
        )
    info = source.info
    nz = info.sizes["Z"]
    t0 = time.perf_counter()
    best: int | None = None
    if nz == 1:
        z_used = [0]
        stack = source.read_zstack(position, t, channel, z_used)
    elif zrange.mode == "all":
        z_used = list(range(nz))
        stack = source.read_zstack(position, t, channel, z_used)
    elif zrange.mode == "range":
        check_z_range(info, zrange)
        z_used = list(range(zrange.start, zrange.stop + 1))
        stack = source.read_zstack(position, t, channel, z_used)
    else:  # best focus (+/- radius): the focus measure needs every slice
        full = source.read_zstack(position, t, channel, None)
        best = best_focus_index(full)
        z_used = window_around(best, zrange.radius, nz)
        stack = full[z_used]
    t1 = time.perf_counter()
    # a single-slice file is used as it is: projection settings apply to Z stacks only
    image = stack[0].astype(np.float32) if nz == 1 else project(stack, projection)
    # integers differ by >= 1 (or not at all)
    image, timings = finish_read(image, t0, t1, lift=nz > 1 or info.dtype.kind == "f")
    return PreparedFrame(
        position=position,
        t=t,
        image=image,
        channel=channel,
        z_used=z_used,
        best_focus=best,
        timings=timings,
    )
