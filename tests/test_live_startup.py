"""A Run clicked during the widget's start-up work (``napari_batchseg.live.startup``): no Qt, no napari."""

from __future__ import annotations

from napari_batchseg.live.startup import STARTING, StartupGate


def test_a_run_requested_before_the_start_up_work_ends_waits_then_starts_once():
    gate: StartupGate[str] = StartupGate()
    assert not gate.is_open and gate.queued is None
    assert gate.request("first") is False  # waits
    assert gate.queued == "first"
    assert gate.request("second") is False  # the newest request is the one that starts
    assert gate.queued == "second"
    assert gate.open() == "second"  # handed out once, when the work is over
    assert gate.is_open and gate.queued is None
    assert gate.open() is None
    assert gate.request("third") is True  # from now on runs start at once, nothing waits
    assert gate.queued is None


def test_a_waiting_run_can_be_cancelled_and_then_never_starts():
    gate: StartupGate[str] = StartupGate()
    assert gate.cancel() is False  # nothing waited
    gate.request("run")
    assert gate.cancel() is True
    assert gate.queued is None and gate.open() is None


def test_the_waiting_status_says_what_is_going_on():
    assert STARTING.startswith("starting") and "loading" in STARTING
