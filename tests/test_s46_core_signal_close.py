"""Session 46: ``cli_gui.SignalClose``, the launcher's SIGTERM and SIGHUP (no Qt: its event loop's part is
tests/_napari/test_s46_launch_signals.py, a real ``batchseg gui`` process).

Their default action ended ``batchseg gui`` where it was, leaving a run's lock and partial file behind.
The handler records the signal; ``poll`` (called from Qt's loop) closes napari once.
"""

from __future__ import annotations

import signal
import sys

import pytest

from napari_batchseg.cli_gui import CLOSE_SIGNALS, SignalClose

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGHUP: POSIX")


@pytest.fixture
def handlers():
    """The test's own SIGTERM/SIGHUP handlers, put back after."""
    before = {sig: signal.getsignal(sig) for sig in CLOSE_SIGNALS}
    yield
    for sig, old in before.items():
        signal.signal(sig, old)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_closes_once_from_poll_and_a_second_one_gets_the_earlier_handler(handlers, signum) -> None:
    closed: list[int] = []
    later: list[int] = []
    signal.signal(signum, lambda s, _f: later.append(s))  # the earlier handler
    with SignalClose(lambda: closed.append(1)) as stop:
        stop.poll()
        assert closed == [] and stop.signum is None
        signal.raise_signal(signum)  # (its Python handler runs before this returns)
        assert stop.signum == signum and closed == []  # recorded only: closed from the event loop
        stop.poll()
        stop.poll()
        assert closed == [1]
        signal.raise_signal(signum)  # a second one: the earlier handler, as before
        assert later == [signum] and closed == [1]


def test_an_ignored_signal_stays_ignored_and_handlers_are_put_back(handlers) -> None:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # (nohup)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with SignalClose(lambda: None) as stop:
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, signal.SIG_IGN)
        signal.raise_signal(signal.SIGHUP)
        assert stop.signum is None
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
