"""When the widget holds napari's window repaint back, without Qt: its timings and the napari versions.

``_napari._repaint`` filters napari's window events; what it waits for and with which napari it is
used at all is decided here (see that module for why a repaint is held).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar, cast

F = TypeVar("F", bound=Callable[..., Any])

#: milliseconds between the end of the widget's layer work and the window's repaint (a real timer: a
#: 0 ms one is a posted event, handled in the same pass as the repaint request)
HOLD_MS = 1
#: a repaint that began less than this long ago may still be what the event loop just did
RECENT_MS = 100.0
#: a canvas resized this soon after layer work is a late layout pass of it (napari's dims slider is laid
#: out in two passes when it appears): its immediate draw is held as well
AFTERMATH_MS = 250.0
#: napari versions (from, up to but not including) whose window the hold was tested with: 0.8 (the oldest
#: the project supports, .venv-napari-min) and 0.9 (.venv); docs/performance.md, "event-loop stalls"
NAPARI_MEASURED = ((0, 8), (0, 10))


def version_tuple(text: str) -> tuple[int, int]:
    """``(major, minor)`` of a version string (``(0, 0)`` when it does not start with them)."""
    found = re.match(r"(\d+)\.(\d+)", text)
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


@functools.cache
def hold_supported(napari_version: str | None = None) -> bool:
    """Whether the repaint hold applies to this napari (``napari_version``: the installed one by default)."""
    if napari_version is None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            napari_version = version("napari")
        except PackageNotFoundError:
            return False
    lo, hi = NAPARI_MEASURED
    return lo <= version_tuple(napari_version) < hi


def within(context: Callable[[Any], AbstractContextManager[Any]]) -> Callable[[F], F]:
    """Decorate methods to run inside ``context(self)`` (e.g. the layer work whose repaint is held)."""

    def decorate(method: F) -> F:
        @functools.wraps(method)
        def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
            with context(self):
                return method(self, *args, **kwargs)

        return cast(F, wrapped)

    return decorate
