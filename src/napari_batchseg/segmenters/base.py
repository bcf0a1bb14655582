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
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from numpy.typing import NDArray

__all__ = ["SegmentOutput", "Segmenter", "SegmenterBase"]


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


class SegmenterBase(abc.ABC):
    """Defaults for the :class:`Segmenter` protocol: no batching benefit, no per-image context.

    Subclasses set :attr:`name`, implement :meth:`describe` and :meth:`segment`, and override
    :attr:`batch_size`, :meth:`segment_batch` or :meth:`set_context` where they do better.
    """

    name: str = "segmenter"
    batch_size: int = 1

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
