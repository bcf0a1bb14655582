"""What the live view asks the screen to do: plain data, applied by the napari scheduler."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias


@dataclass(frozen=True)
class Show:
    """Point the layers at output ``key`` now (from its display buffers).

    ``late``: it waited for its turn (its frames kept meanwhile); its slider move follows apart.
    """

    key: str
    late: bool = False


@dataclass(frozen=True)
class FinishShow:
    """Do the second half (the image layer) of the last switch of the layers to another output."""


@dataclass(frozen=True)
class MoveSlider:
    """Move napari's frame slider to frame ``index`` of output ``key`` (re-slices every layer)."""

    key: str
    index: int


@dataclass(frozen=True)
class Refresh:
    """Refresh the layers of these outputs where their frame on screen changed.

    ``frames``: ``(key, index)`` pairs; ``index`` ``None``: whatever frame is on screen.
    """

    frames: tuple[tuple[str, int | None], ...]


@dataclass(frozen=True)
class Drop:
    """The display buffers of output ``key`` are no longer needed (it waited, then was not shown)."""

    key: str


@dataclass(frozen=True)
class Redraw:
    """Redraw the status table's changed rows and the progress bar."""


#: any command of the live view
Command: TypeAlias = Show | FinishShow | MoveSlider | Refresh | Drop | Redraw
