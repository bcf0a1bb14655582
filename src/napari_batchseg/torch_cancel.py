"""Cancelling torch compute from another thread, within one torch operation.

Used by every front end that runs a model or a training in a thread it may have to stop at once (the
napari widget's run, a training when napari closes): :func:`torch_cancellation` makes every torch call
of the current thread raise :class:`RunCancelled` once a :class:`threading.Event` is set;
:class:`CancelOnceTorch` turns it on during a run, once the model loader has imported torch (the
widget's run job and ``batchseg segment``).
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator

__all__ = ["CancelOnceTorch", "RunCancelled", "torch_cancellation"]


class RunCancelled(BaseException):  # noqa: N818 - a control-flow signal, like GeneratorExit
    """Raised inside the compute of a cancelled run (not an ``Exception``: nothing may swallow it)."""


@contextlib.contextmanager
def torch_cancellation(cancel: threading.Event) -> Iterator[None]:
    """While active in this thread, every torch call raises :class:`RunCancelled` once ``cancel`` is set.

    A torch function mode is thread-local: only the compute of this thread is affected, and it only
    checks a flag before calling the function unchanged (the results are identical). It covers the
    network's layers (Cellpose runs them tile batch by tile batch) and Cellpose's flow dynamics, so a
    frame stops within one torch operation instead of at its end. Without torch imported yet, nothing
    is done (torch is never imported here: the model loader does it).
    """
    if "torch" not in sys.modules:
        yield
        return
    # torch may still be initialising in another thread (the widget's device detection): ``import
    # torch`` waits for it to finish; importing a submodule of a half-initialised torch instead breaks
    # that other import (ImportError there, KeyError: 'torch' here)
    import torch  # noqa: F401
    from torch.overrides import TorchFunctionMode

    class _CancelMode(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            if cancel.is_set():
                raise RunCancelled
            return func(*args, **(kwargs or {}))

    with _CancelMode():
        yield


class CancelOnceTorch:
    """:func:`torch_cancellation` for the rest of a run, from the first :meth:`check` with torch imported.

    A run imports torch when its model loads (after its first events): the caller checks between
    events, in the thread that computes (a torch function mode is thread-local), and closes it when the
    run ends. A ``cancel`` that is not a :class:`threading.Event` (a caller with no way to cancel) never
    turns it on.

    Parameters
    ----------
    cancel : threading.Event or object
        Set to cancel the run.
    """

    def __init__(self, cancel: object) -> None:
        self.cancel = cancel
        self._stack = contextlib.ExitStack()
        #: whether :func:`torch_cancellation` is on
        self.on = False

    def check(self) -> None:
        """Turn :func:`torch_cancellation` on in this thread if torch is imported now (once)."""
        if not self.on and isinstance(self.cancel, threading.Event) and "torch" in sys.modules:
            self._stack.enter_context(torch_cancellation(self.cancel))
            self.on = True

    def close(self) -> None:
        """Turn it off (the run ended); nothing to do if it never was on."""
        self._stack.close()
