"""How much the widget's run thread yields to napari's GUI thread (Qt-free: view.thread_priority)."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from napari_batchseg.view.thread_priority import BACKGROUND_NICE, NICE_ENV, lower_this_thread, nice_increment


@pytest.mark.parametrize(("raw", "step"), [(None, BACKGROUND_NICE), ("", BACKGROUND_NICE), ("0", 0), ("3", 3),
                                           ("25", 19), ("-4", 0), ("fast", BACKGROUND_NICE)])
def test_the_increment_is_read_from_the_environment_and_clamped(monkeypatch, raw, step):
    if raw is None:
        monkeypatch.delenv(NICE_ENV, raising=False)
    else:
        monkeypatch.setenv(NICE_ENV, raw)
    assert nice_increment() == step


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_only_the_calling_thread_is_lowered(monkeypatch):
    monkeypatch.setenv(NICE_ENV, "2")
    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    got: list[tuple[bool, int]] = []

    def lower() -> None:
        got.append((lower_this_thread(), os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))

    thread = threading.Thread(target=lower)
    thread.start()
    thread.join()
    assert got == [(True, min(before + 2, 19))]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before
