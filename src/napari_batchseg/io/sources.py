"""The :class:`ImageSource` contract: lazy, plane-by-plane access to any microscopy file.

Every reader maps its file onto one canonical axis model, ``P T C Z Y X`` (positions, time, channels,
Z slices, rows, columns). Sizes of absent axes are 1. Pixels are read one 2D plane at a time, so memory
use is bounded by a few planes, never by the file.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

CANONICAL_AXES = "PTCZYX"


@dataclass(frozen=True)
class PixelSize:
    """Physical voxel size: ``x``, ``y``, ``z`` in micrometres, ``t`` (time between frames) in seconds.

    ``None`` where unknown.
    """

    x: float | None = None
    y: float | None = None
    z: float | None = None
    t: float | None = None

    def as_dict(self) -> dict[str, float | None]:
        """``{"x": ..., "y": ..., "z": ..., "t": ...}`` (µm, µm, µm, s)."""
        return {"x": self.x, "y": self.y, "z": self.z, "t": self.t}


@dataclass
class SourceInfo:
    """Metadata of an image file, read without loading pixels.

    Attributes
    ----------
    path
        The file.
    sizes
        Size of each canonical axis ``P T C Z Y X`` (absent axes have size 1).
    dtype
        Pixel data type.
    channel_names
        One name per channel (``"C0"``, ``"C1"``, ... when the file has none).
    pixel_size
        Physical pixel size in micrometres.
    native_axes
        The file's own axis string as its reader reports it (for messages and logs).
    position_names
        One name per position (stage position / field of view).
    format
        Short format name (``"nd2"``, ``"ome-tiff"``, ``"tiff"``).
    extra
        Other reader-specific metadata worth logging (e.g. embedded earlier logs).
    """

    path: Path
    sizes: dict[str, int]
    dtype: np.dtype[Any]
    channel_names: list[str]
    pixel_size: PixelSize = field(default_factory=PixelSize)
    native_axes: str = ""
    position_names: list[str] = field(default_factory=list)
    format: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sizes = {ax: int(self.sizes.get(ax, 1)) for ax in CANONICAL_AXES}
        if not self.channel_names:
            self.channel_names = [f"C{i}" for i in range(self.sizes["C"])]
        if not self.position_names:
            self.position_names = [f"P{i}" for i in range(self.sizes["P"])]

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape in canonical ``P T C Z Y X`` order."""
        return tuple(self.sizes[a] for a in CANONICAL_AXES)

    def describe(self) -> str:
        """One-line human summary, e.g. ``P=1 T=53 C=2 Z=1 Y=512 X=512 uint16``."""
        dims = " ".join(f"{a}={self.sizes[a]}" for a in CANONICAL_AXES)
        return f"{dims} {np.dtype(self.dtype).name}"


class ImageSource(ABC):
    """A lazily read image file. Use as a context manager; :meth:`close` releases the file."""

    info: SourceInfo

    @abstractmethod
    def read_plane(self, p: int, t: int, c: int, z: int) -> NDArray[Any]:
        """Return one 2D ``(Y, X)`` plane; indices are 0-based in canonical order."""

    def read_zstack(self, p: int, t: int, c: int, z_indices: list[int] | None = None) -> NDArray[Any]:
        """Return the ``(Z, Y, X)`` stack of the given Z slices (all when ``None``)."""
        zs = range(self.info.sizes["Z"]) if z_indices is None else z_indices
        return np.stack([self.read_plane(p, t, c, z) for z in zs])

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the file handle."""

    def __enter__(self) -> ImageSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_index(self, p: int, t: int, c: int, z: int) -> None:
        s = self.info.sizes
        for name, value in (("P", p), ("T", t), ("C", c), ("Z", z)):
            if not 0 <= value < s[name]:
                raise IndexError(
                    f"{self.info.path}: {name} index {value} out of range (size {s[name]})"
                )
