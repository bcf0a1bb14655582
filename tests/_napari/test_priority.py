"""The widget's work threads run at a lower priority than napari's GUI thread (Linux)."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from napari_batchseg._napari._priority import BACKGROUND_NICE
from napari_batchseg._napari._worker import Background

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_background_jobs_and_the_threads_they_start_yield_to_the_gui_thread(qtbot):
    gui = _nice()
    got: list[tuple[int, int]] = []

    def job() -> tuple[int, int]:
        inner: list[int] = []
        t = threading.Thread(target=lambda: inner.append(_nice()))  # as torch's OpenMP pool is started
        t.start()
        t.join()
        return _nice(), inner[0]

    background = Background()
    background.submit(job, on_item=got.append)
    qtbot.waitUntil(lambda: bool(got), timeout=5000)
    background.close()
    job_nice, inner_nice = got[0]
    assert job_nice == min(gui + BACKGROUND_NICE, 19)
    assert inner_nice == job_nice
    assert _nice() == gui  # the GUI thread itself is untouched
