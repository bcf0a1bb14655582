"""Waiting, from a test, for what a dock does in its worker threads."""

from __future__ import annotations

from typing import Any


def save_corrections(qtbot: Any, panel: Any, timeout: int = 20000) -> Any:
    """Press the Correct tab's *Save corrections* and wait: the summary saved, or ``None`` (not saved)."""
    got: list[Any] = []
    panel.saved.connect(got.append)
    try:
        if not panel.save_in_background():
            return None
        qtbot.waitUntil(lambda: not panel.saving, timeout=timeout)
    finally:
        panel.saved.disconnect(got.append)
    return got[0] if got else None
