"""The short note under the dock's Model choice: whether a built-in model's weights are on this computer.

Qt-free; :func:`weights_note` reads the file system only (:func:`~..segmenters.on_disk.builtin_on_disk`:
no torch, no network), and the dock calls it in a worker thread.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from ..segmenters.on_disk import builtin_on_disk

__all__ = ["LatestNote", "weights_note"]


def weights_note(values: dict[str, Any]) -> str:
    """The note for the form's values (``method``, ``model``, ``checkpoint``, ``sam_mode``, ``diameter``).

    Reads the disk: call it off the GUI thread. Any error reading is the note's text, never raised.
    """
    try:
        found = builtin_on_disk(str(values.get("method", "")), str(values.get("model", "")),
                                sam_mode=str(values.get("sam_mode", "auto")), diameter=values.get("diameter"),
                                checkpoint=values.get("checkpoint") or None)
    except OSError as exc:
        return f"could not check the model's weights: {exc}"
    return "" if found is None else found.note()


class LatestNote:
    """:func:`weights_note` in a daemon thread per request; only the latest request's note is shown.

    ``deliver(turn, note)`` is called from the thread (the dock: a Qt signal, delivered on the GUI
    thread), which passes it to :meth:`latest`.
    """

    def __init__(self, deliver: Callable[[int, str], object]) -> None:
        self.deliver = deliver
        self.turn = 0
        self.shown = ""

    def request(self, values: dict[str, Any]) -> threading.Thread:
        """Check the weights for the form's ``values`` in a new thread (returned, started)."""
        self.turn += 1
        thread = threading.Thread(target=self._check, args=(self.turn, dict(values)),
                                  name="batchseg-weights-note", daemon=True)
        thread.start()
        return thread

    def _check(self, turn: int, values: dict[str, Any]) -> None:
        note = weights_note(values)
        with contextlib.suppress(RuntimeError):  # the receiver is gone (the dock was closed)
            self.deliver(turn, note)

    def latest(self, turn: int, note: str) -> str:
        """The note to show once request ``turn`` answered ``note`` (an older request's is passed over)."""
        if turn == self.turn:
            self.shown = note
        return self.shown
