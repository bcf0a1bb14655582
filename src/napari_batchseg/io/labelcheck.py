"""Is this array a label image? One rule for every command that reads masks.

* **Values** (:func:`label_values`): labels are integers ``>= 0``. Float arrays are accepted when every
  value is a finite whole number in ``0 .. 2**32 - 1`` (checked exactly, then converted to ``uint32``);
  any other float (``0.5``, NaN, inf) or a negative value is refused.
* **Look** (:func:`intensity_evidence`): a file that holds an intensity image instead of labels (a
  microscope image passed by mistake) is recognised by two statistics of one frame, both far apart for
  the two kinds of images:

  - *neighbours differ*: of the pairs of horizontally or vertically adjacent pixels that are both
    non-zero, the share whose values differ. In a label image they differ only where two objects touch
    (well under 10 % on real masks); in an intensity image noise and gradients make most of them
    differ (78-99 % on real microscope images).
  - *pieces per value*: how many separate connected pieces (8-connectivity) each non-zero value forms,
    on average. An object of a label image is one piece (about 1, a little more where objects were cut);
    a grey value of an intensity image is scattered over the whole image (tens to hundreds of pieces).

  An array is taken for an intensity image only when both exceed their thresholds
  (:data:`MAX_DIFFER`, :data:`MAX_PIECES`), so tiny touching objects (many differing neighbours, one
  piece each) and fragmented labels (several pieces, few differing neighbours) are still labels.
  Binary masks (one value) are labels. Callers skip the check for masks with a napari-batchseg log (they
  were written as labels) and when the user insists (``--force-labels``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError

__all__ = [
    "FORCE_HINT",
    "MAX_DIFFER",
    "MAX_PIECES",
    "WINDOW",
    "IntensityEvidence",
    "check_looks_like_labels",
    "intensity_evidence",
    "label_values",
]

#: Share of differing non-zero neighbours above which a frame may be an intensity image.
MAX_DIFFER = 0.5
#: Mean number of pieces per non-zero value above which a frame may be an intensity image.
MAX_PIECES = 3.0
#: Fewer non-zero neighbour pairs than this: too little to judge (accepted as labels).
MIN_PAIRS = 100
#: Frames larger than this (per side) are judged on a window of this size at the centre of their content.
WINDOW = 1024
#: How to insist, named in the refusal.
FORCE_HINT = "if it really holds labels, pass --force-labels (API: force_labels=True)"

_UINT32_MAX = float(np.iinfo(np.uint32).max)


def label_values(frame: NDArray[Any], path: str | Path, index: int) -> NDArray[Any]:
    """``frame`` as integer labels, or :class:`InputError` naming ``path`` and frame ``index``.

    Integer arrays are returned as they are (negative values refused); float arrays holding only whole
    numbers ``0 .. 2**32 - 1`` are returned as ``uint32``.
    """
    arr = np.asarray(frame)
    kind = arr.dtype.kind
    if kind in "ub":
        return arr.astype(np.uint8) if kind == "b" else arr
    if kind == "i":
        if arr.size and int(arr.min()) < 0:
            raise InputError(
                f"{path}: not a label mask: frame {index} has negative values (min {arr.min()}); "
                "labels are integers >= 0"
            )
        return arr
    if kind == "f":
        finite = np.isfinite(arr)
        if not finite.all():
            raise InputError(
                f"{path}: not a label mask: frame {index} has NaN or infinite values; labels are "
                "integers >= 0"
            )
        fractional = arr != np.floor(arr)
        if fractional.any():
            example = arr[fractional].flat[0]
            raise InputError(
                f"{path}: not a label mask: frame {index} has values that are not whole numbers "
                f"(e.g. {example:g}; {arr.dtype} file); labels are integers >= 0"
            )
        if arr.size and (float(arr.min()) < 0 or float(arr.max()) > _UINT32_MAX):
            raise InputError(
                f"{path}: not a label mask: frame {index} has values outside 0..{int(_UINT32_MAX)} "
                f"(min {arr.min():g}, max {arr.max():g})"
            )
        return arr.astype(np.uint32)
    raise InputError(f"{path}: not a label mask: values are {arr.dtype} (labels must be integers >= 0)")


@dataclass(frozen=True)
class IntensityEvidence:
    """The two statistics of :func:`intensity_evidence` for one frame."""

    differ: float
    pieces_per_value: float
    n_values: int

    @property
    def is_intensity(self) -> bool:
        """Whether both statistics say "intensity image"."""
        return self.differ > MAX_DIFFER and self.pieces_per_value > MAX_PIECES

    def describe(self) -> str:
        """The evidence in words."""
        return (
            f"{self.differ:.0%} of neighbouring non-zero pixels differ and each of its {self.n_values} "
            f"values is scattered in {self.pieces_per_value:.0f} pieces on average"
        )


def _window(arr: NDArray[Any], size: int = WINDOW) -> NDArray[Any]:
    """At most ``size`` x ``size`` pixels of ``arr``, centred on the bounding box of its non-zero pixels."""
    if max(arr.shape) <= size:
        return arr
    rows = np.flatnonzero(arr.any(axis=1))
    cols = np.flatnonzero(arr.any(axis=0))
    if rows.size == 0:
        return arr[:size, :size]
    out = []
    for found, n in ((rows, arr.shape[0]), (cols, arr.shape[1])):
        centre = (int(found[0]) + int(found[-1])) // 2
        start = min(max(centre - size // 2, 0), max(n - size, 0))
        out.append(slice(start, start + size))
    return arr[out[0], out[1]]


def intensity_evidence(frame: NDArray[Any]) -> IntensityEvidence | None:
    """Statistics of a ``(Y, X)`` integer frame, or ``None`` when it holds too little to judge.

    A frame larger than :data:`WINDOW` pixels a side is judged on a window of that size (memory and time
    stay bounded whatever the frame size).
    """
    from skimage.measure import label

    arr = np.asarray(frame)
    if arr.ndim != 2:
        raise ValueError(f"expected a (Y, X) frame, got shape {arr.shape}")
    arr = _window(arr)
    pairs = differ = 0
    for a, b in ((arr[:, 1:], arr[:, :-1]), (arr[1:], arr[:-1])):
        both = (a != 0) & (b != 0)
        pairs += int(both.sum())
        differ += int((both & (a != b)).sum())
    if pairs < MIN_PAIRS:
        return None
    values = np.unique(arr)
    n_values = int(np.count_nonzero(values))
    if n_values == 0:
        return None
    pieces = int(label(arr, background=0, connectivity=2).max())
    return IntensityEvidence(differ / pairs, pieces / n_values, n_values)


def check_looks_like_labels(frame: NDArray[Any], path: str | Path, index: int = 0) -> None:
    """Raise :class:`InputError` when frame ``index`` of ``path`` looks like an intensity image.

    ``frame`` must already hold integer labels (see :func:`label_values`).
    """
    evidence = intensity_evidence(frame)
    if evidence is not None and evidence.is_intensity:
        raise InputError(
            f"{path}: looks like an intensity image, not a label mask: in frame {index} "
            f"{evidence.describe()} (labels: each object one piece of one value); {FORCE_HINT}"
        )
