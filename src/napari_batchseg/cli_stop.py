"""SIGINT and SIGTERM in the ``batchseg`` commands outside ``segment``'s run: stop at once, say what was done.

``segment`` stops between frames (``napari_batchseg.cli._stop_on_signals``). The other commands
(``measure``, ``export``, ``track``, ``rethreshold``, ``train``, ...) write each output under a
temporary name renamed into place when complete, so they stop where they are: :func:`signals_stop`
turns SIGINT (Ctrl-C) and SIGTERM (what SLURM sends at a time limit) into :class:`Stopped`, a
``KeyboardInterrupt``, and the output in progress is dropped on the way out. A command that knows how
far it got says so with :func:`report_stop`; :func:`stop_status` gives the exit status, 128 + the
signal (130, 143), as ``segment``'s, and says ``stopped by SIGINT`` for a command that said nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Generic, NoReturn, TypeVar

from .io.atomic import defer_signal, file_identity

__all__ = ["BatchProgress", "Stopped", "done_before_stop", "report_stop", "signals_stop", "stop_status"]

SIGNALS = (signal.SIGINT, signal.SIGTERM)
T = TypeVar("T")


class Stopped(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped the command; ``reported``: what it had done was said already."""

    def __init__(self, signum: int, reported: bool = False) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)
        self.reported = reported


def _signum(exc: BaseException) -> int:
    """The signal behind ``exc``: a plain ``KeyboardInterrupt`` is Python's own SIGINT."""
    return exc.signum if isinstance(exc, Stopped) else int(signal.SIGINT)


@contextlib.contextmanager
def signals_stop(keep_ignored: bool = False) -> Iterator[None]:
    """Inside, SIGINT and SIGTERM raise :class:`Stopped` in the main thread.

    The first one raises; later ones are ignored while the command drops its output in progress and
    says what it did (a second Ctrl-C would cut that short and leave a temporary file). A signal
    ignored when this is entered (SIGINT of a background job) stays ignored. Leaving after a stop,
    ``keep_ignored`` (the ``batchseg`` program, about to exit) leaves them ignored; else, and when no
    signal came, the earlier handlers are put back. Off the main thread this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    installed: dict[signal.Signals, Any] = {}

    def handler(signum: int, _frame: Any) -> None:
        if defer_signal(signum):  # a group of outputs is being put in place: raised again after it
            return
        for sig in installed:
            signal.signal(sig, signal.SIG_IGN)
        raise Stopped(signum)

    for sig in SIGNALS:
        old = signal.getsignal(sig)
        if old is not signal.SIG_IGN:
            signal.signal(sig, handler)
            installed[sig] = signal.SIG_DFL if old is None else old  # (None: not set from Python)
    stopped = False
    try:
        yield
    except KeyboardInterrupt:
        stopped = True
        raise
    finally:
        if not (stopped and keep_ignored):
            for sig, old in installed.items():
                signal.signal(sig, old)


def done_before_stop(done: int, left: int, noun: str, verb: str) -> str:
    """``2 mask(s) measured before it, their outputs kept; 3 not measured (nothing partial was kept)``."""
    return (f"{done} {noun}(s) {verb} before it, their outputs kept; {left} not {verb} "
            "(nothing partial was kept)")


class BatchProgress(Generic[T]):
    """A batch's items, walked in order, and what it completed: each item's marker put in place since.

    ``markers``: for each item, the output it writes last (renamed into place whole). A signal can
    come after that rename while the item is still tidying up (closing its input, syncing the folder)
    or while its line is printed; counting the markers on disk, not the items that returned, says
    the truth then too (a run of ``batchseg track`` said "stopped by SIGTERM" with nothing more). A
    marker that was there before the batch (``--overwrite``) counts once it was replaced.
    """

    def __init__(self, items: Sequence[T], markers: Sequence[str | Path]) -> None:
        self._items = items
        self._markers = [Path(p) for p in markers]
        self._before = {p: file_identity(p) for p in self._markers}
        seen: set[Any] = set()
        self._again = []  # per item: the same item given earlier in the batch (done once, not left)
        for item in items:
            key = _key(item)
            self._again.append(key in seen)
            seen.add(key)
        self._current = 0
        self._at_start: tuple[int, int, int] | None = None  # the current item's marker when it began

    def __iter__(self) -> Iterator[T]:
        for index, item in enumerate(self._items):
            self._current = index
            self._at_start = file_identity(self._markers[index]) if self._markers else None
            yield item

    def _is_new(self, marker: Path) -> bool:
        now = file_identity(marker)
        return now is not None and now != self._before[marker]

    def report_stop(self, exc: KeyboardInterrupt, noun: str, verb: str) -> NoReturn:
        """:func:`report_stop` for the batch stopped at its current item.

        The current item is done when its marker was replaced since it began (not by an earlier item
        whose outputs it would have replaced: it was refused); an item given again is not left.
        """
        done = sum(self._is_new(p) for p in self._before)
        index = self._current
        left = sum(not again for again in self._again[index:])
        if self._markers and not self._again[index]:
            now = file_identity(self._markers[index])
            left -= now is not None and now != self._at_start
        report_stop(exc, done_before_stop(done, left, noun, verb))


def _key(item: Any) -> Any:
    """What tells an item from another: a file's resolved path (a mask given twice, spelled two ways)."""
    if isinstance(item, (str, os.PathLike)):
        return Path(item).resolve()
    return item


def report_stop(exc: KeyboardInterrupt, what: str) -> NoReturn:
    """Say what the command did before ``exc`` stopped it (``stopped by SIGTERM: <what>``); stop."""
    signum = _signum(exc)
    print(f"stopped by {signal.Signals(signum).name}: {what}", file=sys.stderr, flush=True)
    raise Stopped(signum, reported=True) from None


def stop_status(exc: KeyboardInterrupt) -> int:
    """The exit status of a command ``exc`` stopped (130 SIGINT, 143 SIGTERM); said unless it was."""
    signum = _signum(exc)
    if not getattr(exc, "reported", False):
        print(f"stopped by {signal.Signals(signum).name}", file=sys.stderr, flush=True)
    return 128 + signum
