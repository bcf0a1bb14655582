"""``batchseg gui [PATHS] [options]``: napari with the Batch segmentation dock, set up from the command line.

The same paths, filters and segmentation options as ``batchseg segment`` (and its ``--config`` YAML,
which the widget's *Save parameters…* writes too): the files are listed and the options shown, and the
user checks them and presses Run. The widget's start-up work (torch, Cellpose, device detection) is
done before the window opens (:mod:`napari_batchseg._napari._launch`).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .discovery import FileFilter
    from .params import SegmentationParams

__all__ = ["CLOSE_SIGNALS", "SignalClose", "add_subcommand", "gui_setup", "run_gui"]

#: the signals that close napari as its window's close button does: SIGTERM (``kill``, a scheduler's
#: stop), SIGHUP (the terminal closed)
CLOSE_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def add_subcommand(sub: Any) -> None:
    """Add ``batchseg gui`` to the ``batchseg`` sub-parsers ``sub``."""
    from .cli_segment import add_segment_options

    p = sub.add_parser(
        "gui", help="open napari with the Batch segmentation dock: files listed, options set",
        description="Open napari with the Batch segmentation dock, the files and folders listed and the "
                    "options shown (the same as batchseg segment's; folder files are filtered by "
                    "--contains/--not-contains/--ext as on the command line, not by the widget's "
                    "default '_BF'). Press Run in the dock.")
    p.add_argument("paths", nargs="*", help="files and/or folders")
    add_segment_options(p, gui=True)
    p.set_defaults(func=run_gui)


def gui_setup(args: argparse.Namespace) -> tuple[SegmentationParams, FileFilter]:
    """The parameters and folder filters ``batchseg gui`` shows (``--config`` first, as for segment).

    Raises
    ------
    ParameterError
        A bad option or config file.
    """
    from .cli_segment import absolute_paths, params_from_args
    from .discovery import FileFilter

    params = params_from_args(args)  # (also takes the config file's filters into ``args``)
    params = absolute_paths(params)  # named relative to this folder: absolute, wherever napari runs from
    file_filter = FileFilter(contains=args.contains, not_contains=args.not_contains,
                             **({"extensions": args.ext} if args.ext else {}))
    return params, file_filter


def run_gui(args: argparse.Namespace) -> int:
    """Run ``batchseg gui``: returns when napari's window is closed (exit status 0; 2 for a bad option)."""
    import sys

    from .params import ParameterError

    try:
        params, file_filter = gui_setup(args)
    except ParameterError as exc:
        print(f"batchseg gui: error: {exc}", file=sys.stderr)
        return 2
    import importlib.util

    missing = [name for name in ("napari", "qtpy") if importlib.util.find_spec(name) is None]
    if missing:  # (said now: the launcher imports napari only after loading torch)
        print(f"batchseg gui: {' and '.join(missing)} not installed; install napari-batchseg[napari,qt]",
              file=sys.stderr)
        return 2
    from ._napari._launch import launch, run_napari

    def say(text: str) -> None:
        with contextlib.suppress(OSError):  # (a terminal hung up, SIGHUP's usual cause: EIO)
            print(f"batchseg gui: {text}", file=sys.stderr, flush=True)

    say("loading napari, torch and Cellpose (several seconds before the window opens)…")
    viewer, _ = launch(args.paths, params, file_filter, recursive=args.recursive, freeze=True, say=say)
    say("napari is open")
    with SignalClose(viewer.close) as stop:
        run_napari(stop.poll)
    if stop.signum is None:
        return 0
    say(f"closed by {signal.Signals(stop.signum).name}")
    return 128 + stop.signum


class SignalClose:
    """Inside, :data:`CLOSE_SIGNALS` close napari the normal way (``close``, e.g. the viewer's).

    Their default action ended the process where it was: a run's lock and partial file stayed in its
    output folder (until ``batchseg clean``). Closed, the dock cancels its run and removes them. Python
    runs a handler only between the main thread's bytecodes, and closing napari inside whatever Python
    code that is (a slot of the dock) is not safe: the handler records the signal, and :meth:`poll`,
    called from Qt's event loop (:func:`~._napari._launch.run_napari`), calls ``close`` there, once.
    After the first signal the earlier handlers are back: a second one ends the process as before.
    A signal ignored on entry (``nohup``'s SIGHUP) stays ignored. Off the main thread this does nothing.
    Only the launcher (a process it owns) installs this, never the plugin opened in someone's napari.
    """

    def __init__(self, close: Callable[[], object]) -> None:
        self.close = close
        #: the first signal received (``None``: none)
        self.signum: int | None = None
        self._closed = False
        self._earlier: dict[signal.Signals, Any] = {}

    def __enter__(self) -> SignalClose:
        if threading.current_thread() is threading.main_thread():
            for sig in CLOSE_SIGNALS:
                earlier = signal.getsignal(sig)
                if earlier is not signal.SIG_IGN:
                    self._earlier[sig] = signal.SIG_DFL if earlier is None else earlier
                    signal.signal(sig, self._record)
        return self

    def _record(self, signum: int, _frame: FrameType | None) -> None:
        self.signum = signum
        self._restore()

    def _restore(self) -> None:
        for sig, earlier in self._earlier.items():
            signal.signal(sig, earlier)
        self._earlier.clear()

    def poll(self) -> None:
        """Close once a signal came (called from the event loop, where closing is safe)."""
        if self.signum is not None and not self._closed:
            self._closed = True
            self.close()

    def __exit__(self, *exc: object) -> None:
        self._restore()
