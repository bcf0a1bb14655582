"""What every linker shares: the parameters, the object table it links and the :class:`Tracker` protocol.

A tracker links the objects of a movie (one row per object per frame, see :data:`OBJECT_COLUMNS`) and
returns the links as pairs of row indices (earlier object, later object). Everything else -- reading the
frames, the lineage (track ids, parents), the relabelled mask, the files -- is the same for every method
(:mod:`.lineage`, :mod:`.run`). A new method is a class with ``name``, ``versions()`` and ``link()``,
registered in :data:`~napari_batchseg.tracking.registry.TRACKERS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError, ModelError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEFAULT_METHOD", "METHODS", "OBJECT_COLUMNS", "FrameReader", "TrackParams", "Tracker", "TrackingError",
    "TrackingModelError",
]

#: The tracking methods by name (:data:`~.registry.TRACKERS` holds their classes; a test keeps them equal)
METHODS: tuple[str, ...] = ("laptrack", "trackastra")
DEFAULT_METHOD = "laptrack"
#: Columns of the object table a tracker links: ``frame`` is the mask's frame index (0-based).
OBJECT_COLUMNS: tuple[str, ...] = ("frame", "label", "area_px", "centroid_y_px", "centroid_x_px")

#: ``reader(i)`` -> the labels of mask frame ``i`` (``(Y, X)``); what a tracker that needs pixels reads
FrameReader = Callable[[int], NDArray[Any]]


class TrackingError(InputError):
    """A mask cannot be tracked (one frame, 3D, a label used for two objects, ...): names file and problem."""


class NotATimeLapse(TrackingError):
    """A mask that is not a 2D time-lapse (one frame, or 3D): nothing to track (a folder's are skipped)."""


class TrackingModelError(ModelError):
    """A tracking model (trackastra weights) cannot be found or loaded; names where to put it."""


@dataclass(frozen=True)
class TrackParams:
    """How objects are linked.

    Attributes
    ----------
    max_distance
        Largest centroid displacement (pixels) between linked objects, per frame step (also the largest
        distance from a mother to a daughter, and across a gap).
    gap_frames
        How many consecutive frames an object may be missing (undetected) and still keep its track
        (0: no gap closing).
    divisions
        Whether an object may split into two daughters (new tracks whose ``parent_track_id`` is the
        mother's track).
    daughter_share
        laptrack only: a division is kept only when both daughters are smaller than this share of their
        mother's area (her largest in her last frames: a mitotic cell rounds up and shrinks); otherwise the
        nearer one goes on as the mother. Lower it for crowded movies whose neighbours are taken for
        daughters; a value over 1 keeps every division laptrack makes.
    method
        The linker: ``"laptrack"`` (default, no weights) or ``"trackastra"`` (needs its weights).
    model
        trackastra only: the pretrained model's name or a folder holding it.
    """

    max_distance: float = 20.0
    gap_frames: int = 0
    divisions: bool = True
    daughter_share: float = 0.8
    method: str = "laptrack"
    model: str = "general_2d"

    def __post_init__(self) -> None:
        if not (np.isfinite(self.max_distance) and self.max_distance > 0):
            raise ValueError(f"max_distance must be a positive number of pixels, got {self.max_distance}")
        if int(self.gap_frames) != self.gap_frames or self.gap_frames < 0:
            raise ValueError(f"gap_frames must be a whole number >= 0, got {self.gap_frames}")
        if not (np.isfinite(self.daughter_share) and self.daughter_share > 0):
            raise ValueError(f"daughter_share must be a positive share of the mother's area, got "
                             f"{self.daughter_share}")

    def to_dict(self) -> dict[str, Any]:
        """The parameters as a plain dict (for the log)."""
        return asdict(self)


class Tracker(Protocol):
    """A linker of segmented objects over time."""

    #: the method's name on the command line (``--method``)
    name: str
    #: whether :meth:`link` needs the intensity images (``images``) as well as the masks
    needs_images: bool

    def check(self, params: TrackParams) -> None:
        """Raise when the method cannot run (library or weights missing), before anything is read."""
        ...

    def versions(self) -> dict[str, str]:
        """Versions of the libraries the links depend on (for the log)."""
        ...

    def link(
        self, objects: pd.DataFrame, params: TrackParams, frames: FrameReader, n_frames: int,
        images: FrameReader | None = None,
    ) -> list[tuple[int, int]] | NDArray[np.int64]:
        """Links between objects as ``(row of the earlier object, row of the later object)``.

        Pairs, or an ``(n, 2)`` integer array (16 bytes per link: what a long movie should return).

        ``objects`` has :data:`OBJECT_COLUMNS` and a default ``RangeIndex``; rows are the positions.
        ``frames`` reads a mask frame, ``images`` an intensity frame (``None`` when unknown); a linker
        that only needs centroids ignores both.
        """
        ...
