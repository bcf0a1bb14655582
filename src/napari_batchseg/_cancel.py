"""Cancellation as every runner passes it: a :class:`threading.Event`, a callable or ``None``."""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["CancelCheck", "is_cancelled"]

CancelCheck = Callable[[], bool] | threading.Event | None


def is_cancelled(cancel: CancelCheck) -> bool:
    """Whether ``cancel`` (a :class:`threading.Event`, a callable or ``None``) says stop."""
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())
