"""A Run clicked while the widget's start-up work is still going on: it waits, then starts.

Qt-free. The napari widget's start-up work (what napari's first layers import, pint's unit registry,
the device detection that imports torch and Cellpose) runs in worker threads while the widget is
already usable. A GUI thread that made layers or imported modules meanwhile would wait for the import
locks those threads hold: Run clicked at once froze napari for 0.9-2.3 s (docs/performance.md). So a
Run clicked before the start-up work is over is queued (the status says :data:`STARTING`), and it
starts, its layers made only then, when the start-up work signals its end (:meth:`StartupGate.open`).
The run loses nothing by waiting: it needs the same imports (torch, Cellpose) before its first frame.
"""

from __future__ import annotations

from typing import Generic, TypeVar

__all__ = ["STARTING", "StartupGate"]

#: the status of a Run that waits for the start-up work
STARTING = "starting: loading libraries…"

T = TypeVar("T")


class StartupGate(Generic[T]):
    """Closed until the start-up work is over; a run requested meanwhile waits (the newest one only).

    ``T``: what the caller needs to start the run (e.g. a function that starts it).
    """

    def __init__(self) -> None:
        self._open = False
        self._queued: T | None = None

    @property
    def is_open(self) -> bool:
        """The start-up work is over: runs start at once."""
        return self._open

    @property
    def queued(self) -> T | None:
        """The run waiting for the start-up work (``None``: none)."""
        return self._queued

    def request(self, run: T) -> bool:
        """Ask for ``run``: ``True`` when it may start now, else it waits (replacing one that waited)."""
        if self._open:
            return True
        self._queued = run
        return False

    def cancel(self) -> bool:
        """Drop the run that waited (Cancel clicked, the widget closing); whether there was one."""
        had, self._queued = self._queued is not None, None
        return had

    def open(self) -> T | None:
        """The start-up work is over: runs start at once from now on.

        Returns the run that waited, if any, to start now (handed out once).
        """
        self._open = True
        run, self._queued = self._queued, None
        return run
