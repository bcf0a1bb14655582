"""The widget's run thread runs at a lower priority than napari's GUI thread (Linux)."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from napari_batchseg._napari._jobs import Background
from napari_batchseg.view.thread_priority import BACKGROUND_NICE, NICE_ENV

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_compute_jobs_and_the_threads_they_start_yield_to_the_gui_thread(qtbot, monkeypatch):
    monkeypatch.delenv(NICE_ENV, raising=False)
    gui = _nice()
    got: list[tuple[int, int]] = []
    plain: list[int] = []

    def job() -> tuple[int, int]:
        inner: list[int] = []
        t = threading.Thread(target=lambda: inner.append(_nice()))  # as torch's OpenMP pool is started
        t.start()
        t.join()
        return _nice(), inner[0]

    background = Background()
    background.submit(job, on_item=got.append, yield_cpu=True)
    background.submit(_nice, on_item=plain.append)  # a short job (metadata, a result read from disk)
    qtbot.waitUntil(lambda: bool(got) and bool(plain), timeout=5000)
    background.close()
    job_nice, inner_nice = got[0]
    assert job_nice == min(gui + BACKGROUND_NICE, 19)
    assert inner_nice == job_nice
    assert plain == [gui]
    assert _nice() == gui  # the GUI thread itself is untouched


@pytest.mark.parametrize("setting", [None, "0", "3"])
def test_the_widgets_run_thread_yields_to_the_gui_thread(widget, data_folder, qtbot, monkeypatch, setting):
    """By BACKGROUND_NICE, or by what $BATCHSEG_RUN_NICE says (0: not at all)."""
    from ._fakes import ThresholdSegmenter

    if setting is None:
        monkeypatch.delenv(NICE_ENV, raising=False)
    else:
        monkeypatch.setenv(NICE_ENV, setting)
    step = BACKGROUND_NICE if setting is None else int(setting)

    seen: list[int] = []

    class Probe(ThresholdSegmenter):
        def segment(self, image):
            seen.append(_nice())
            return super().segment(image)

    widget.files.contains.setText("nuclei_BF")
    widget.files.add_paths([data_folder])
    widget.controller.segmenter_factory = lambda _p: Probe()
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running, timeout=60000)
    assert seen and set(seen) == {min(_nice() + step, 19)}
