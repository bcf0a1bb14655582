"""The one protocol every segmentation method implements, and a base class with its defaults.

A :class:`Segmenter` is built once per worker (the model is loaded once) and then called frame by frame
with a prepared 2D float32 image. It returns a :class:`SegmentOutput` holding integer labels
(0 = background, one id per object) and optional debug arrays.

The protocol states every capability a runner may use, so nothing is probed with ``getattr``:

* :attr:`Segmenter.batch_size`: how many frames are worth handing over in one
  :meth:`~Segmenter.segment_batch` call on a GPU (``1``: batching brings nothing, frames go one by one);
* :meth:`~Segmenter.segment_batch`: several frames at once, with the same result as one by one;
* :meth:`~Segmenter.set_context`: the file and frame(s) the next call is about (a no-op unless the
  segmenter caches per image, as micro-sam's embedding cache does).

:class:`SegmenterBase` gives the defaults (a loop for ``segment_batch``, a no-op ``set_context``,
``batch_size = 1``); an implementation overrides what it does better.

Volumes (``z_mode`` 3d / stitch) are a separate capability, :class:`VolumeSegmenter`: a segmenter lists
the modes it offers in :attr:`~VolumeSegmenter.volume_modes` and segments a ``(Z, Y, X)`` volume with
:meth:`~VolumeSegmenter.segment_volume`. :class:`SegmenterBase` offers none (its ``segment_volume``
refuses with a clear :class:`~napari_batchseg.params.ParameterError`).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from numpy.typing import NDArray

from ..params import ParameterError

__all__ = ["SegmentOutput", "Segmenter", "SegmenterBase", "VolumeSegmenter", "refuse_volume"]


@dataclass
class SegmentOutput:
    """Result of segmenting one 2D plane.

    Attributes
    ----------
    labels
        ``(Y, X)`` integer label image, 0 = background.
    debug
        Optional named arrays worth saving for inspection (e.g. ``"flows"``, ``"cellprob"``).
    info
        Small per-frame facts for the log (e.g. the diameter used).
    """

    labels: NDArray[Any]
    debug: dict[str, NDArray[Any]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Segmenter(Protocol):
    """Load once, then segment planes.

    Attributes
    ----------
    name
        Short method name (``"cellpose"``, ``"sam"``, ...).
    batch_size
        Frames per :meth:`segment_batch` call worth grouping on a GPU; ``1`` means grouping brings no
        benefit and a runner hands frames over one by one.
    """

    name: str
    batch_size: int

    def describe(self) -> dict[str, Any]:
        """Facts for provenance: method, model, resolved weights path, device, package versions."""
        ...

    def segment(self, image: NDArray[Any]) -> SegmentOutput:
        """Segment one prepared ``(Y, X)`` float32 plane."""
        ...

    def segment_batch(self, images: Sequence[NDArray[Any]]) -> list[SegmentOutput]:
        """Segment several planes (may use one network call); same result as :meth:`segment` on each."""
        ...

    def set_context(self, file_key: str, frame_key: str) -> None:
        """Name the file and frame(s) of the next :meth:`segment` / :meth:`segment_batch` call."""
        ...


@runtime_checkable
class VolumeSegmenter(Protocol):
    """Segment ``(Z, Y, X)`` volumes (``z_mode`` ``3d`` or ``stitch``).

    Attributes
    ----------
    name
        Short method name.
    volume_modes
        The Z modes offered (``()``: none; ``("3d", "stitch")`` for Cellpose 3 and 4; ``("3d",)`` for
        micro-sam, whose ``3d`` is its own slice-wise segmentation merged across Z).
    """

    name: str
    volume_modes: tuple[str, ...]

    def set_context(self, file_key: str, frame_key: str) -> None:
        """Name the file and time point of the next :meth:`segment_volume` call."""
        ...

    def segment_volume(
        self, volume: NDArray[Any], mode: str, anisotropy: float | None, stitch_threshold: float
    ) -> SegmentOutput:
        """Segment one prepared ``(Z, Y, X)`` float32 volume; labels are ``(Z, Y, X)``.

        ``mode`` ``"3d"`` segments the volume as a whole (Cellpose: ``do_3D``, ``anisotropy`` = Z step /
        XY pixel size; micro-sam: each slice in 2D, objects merged across Z by micro-sam, anisotropy not
        used); ``"stitch"`` segments each slice in 2D and joins objects of consecutive slices whose
        overlap (IoU) is above ``stitch_threshold``.
        """
        ...


def refuse_volume(name: str, mode: str, offered: Sequence[str] = (), why: str = "") -> ParameterError:
    """The error for a Z mode ``mode`` that segmenter ``name`` does not offer (one clear line).

    ``offered``: the Z modes it does offer (they are suggested); ``why``: what ``name`` lacks, said
    after them (e.g. the installed version has no 3D segmentation).
    """
    what = f"offers {', '.join(offered)} only" if offered else "segments 2D planes only"
    if why:
        what = f"{what} ({why})"
    use = " or ".join([*(f"--z-mode {m}" for m in offered), "--z-mode project"])
    use += " (a Z projection or best focus)"
    return ParameterError(f"z_mode {mode!r}: {name} {what}; use {use}")


class SegmenterBase(abc.ABC):
    """Defaults for the :class:`Segmenter` protocol: no batching benefit, no per-image context.

    Subclasses set :attr:`name`, implement :meth:`describe` and :meth:`segment`, and override
    :attr:`batch_size`, :meth:`segment_batch` or :meth:`set_context` where they do better.
    """

    name: str = "segmenter"
    batch_size: int = 1
    #: Z modes :meth:`segment_volume` offers (none by default)
    volume_modes: tuple[str, ...] = ()

    @abc.abstractmethod
    def describe(self) -> dict[str, Any]:
        """Facts for provenance: method, model, resolved weights path, device, package versions."""

    @abc.abstractmethod
    def segment(self, image: NDArray[Any]) -> SegmentOutput:
        """Segment one prepared ``(Y, X)`` float32 plane."""

    def segment_batch(self, images: Sequence[NDArray[Any]]) -> list[SegmentOutput]:
        """Segment several planes one by one with :meth:`segment`."""
        return [self.segment(image) for image in images]

    def set_context(self, file_key: str, frame_key: str) -> None:  # noqa: B027 - a deliberate no-op
        """Ignore the context: this segmenter keeps nothing per image."""
        return None

    def segment_volume(
        self, volume: NDArray[Any], mode: str, anisotropy: float | None, stitch_threshold: float
    ) -> SegmentOutput:
        """Refuse: this segmenter offers no Z mode beside the projection (see :class:`VolumeSegmenter`)."""
        raise refuse_volume(self.name, mode, self.volume_modes)
