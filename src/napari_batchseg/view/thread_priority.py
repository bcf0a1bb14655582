"""The run's thread yields the CPU to napari's GUI thread.

The widget's run thread (which drives torch) runs at a lower scheduling priority than the rest of
napari, so that on a laptop whose cores are all busy segmenting, the event loop still gets the CPU when
it needs it: the run takes the cores the GUI leaves idle, which is nearly all of them. Threads (torch's
OpenMP pool, other threads the run starts) and worker processes started from it inherit its priority.
Short jobs that mostly hold the GIL (file metadata, results read from disk, device detection) keep
their priority: the GUI thread may wait for the GIL they hold.

The run's priority also yields to other programs' busy processes; ``BATCHSEG_RUN_NICE=0`` in the
environment napari starts in keeps the run at napari's priority (any value 0-19 sets the increment).

Linux only (where a thread has its own nice value); elsewhere nothing changes.
"""

from __future__ import annotations

import os
import sys
import threading

#: how much nicer (lower priority) than the GUI the run thread runs by default: at nice +10 a busy
#: thread gets about a tenth of the CPU time of a thread at +0 that wants the same core
BACKGROUND_NICE = 10
#: environment variable that sets another increment (0: the run keeps napari's priority)
NICE_ENV = "BATCHSEG_RUN_NICE"


def nice_increment() -> int:
    """The increment in effect: ``$BATCHSEG_RUN_NICE`` (0-19) if valid, else :data:`BACKGROUND_NICE`."""
    raw = os.environ.get(NICE_ENV, "").strip()
    try:
        return min(max(int(raw), 0), 19) if raw else BACKGROUND_NICE
    except ValueError:
        return BACKGROUND_NICE


def lower_this_thread() -> bool:
    """Lower the calling thread's priority by :func:`nice_increment` (Linux); whether it was lowered.

    Irreversible for an unprivileged process: call it only in threads made for background work.
    """
    step = nice_increment()
    if not sys.platform.startswith("linux") or step == 0:
        return False
    tid = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(current + step, 19))
    except (OSError, AttributeError):  # not permitted (some sandboxes), or not available
        return False
    return True
