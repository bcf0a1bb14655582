"""``batchseg``: the command-line front end over the engine.

Commands: ``segment`` (run a batch), ``info`` (show what a file holds, without reading pixels), ``rerun``
(repeat the run recorded in a ``.log``), ``clean`` (remove what killed runs left behind).

SIGINT (Ctrl-C) and SIGTERM (what SLURM sends at a time limit) stop a run between frames: the output in
progress is dropped (no temporary file is kept), the summary of what was done and what was not is
printed, and the exit status is 130 or 143. A second signal stops at once (still cleaning up). The
other commands stop at once on the first (:mod:`napari_batchseg.cli_stop`), say what they had written,
and exit 130 or 143 alike.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ._version import __version__

# apply_config_filters and params_from_args stay importable from napari_batchseg.cli (re-exported)
from .cli_segment import absolute_paths, add_segment_options, given_run_options, unused_options
from .cli_segment import apply_config_filters as apply_config_filters
from .cli_segment import params_from_args as params_from_args
from .io.formats import FORMATS, supported_extensions
from .params import (
    EXISTING_POLICIES,
    ParameterError,
    SegmentationParams,
)
from .quiet_import import quiet_notices

if TYPE_CHECKING:
    from rich.console import Console

    from .events import Plan
    from .io.leftovers import Leftover
    from .runners import RunOptions, RunSession


def build_parser() -> argparse.ArgumentParser:
    """The ``batchseg`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="batchseg", description="Batch cell segmentation of microscopy files (Cellpose, micro-sam)."
    )
    parser.add_argument("--version", action="version", version=f"napari-batchseg {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    seg = sub.add_parser("segment", help="segment files and folders",
                         description="Segment files and folders; write <stem>_vSM.ome.tif and .log each.")
    seg.add_argument("paths", nargs="+", help="files and/or folders")
    add_segment_options(seg)
    seg.set_defaults(usage_parser=seg)  # its errors show its own usage, not batchseg's (a walk)
    info = sub.add_parser("info", help="show the axes, sizes, channels and pixel size of files; "
                                       "without files, the formats this installation reads")
    info.add_argument("paths", nargs="*")
    info.add_argument("--axes", default=None, help="axis order override")
    info.add_argument("--dataset", default=None, metavar="PATH",
                      help="HDF5: the image dataset inside the file; OME-Zarr: a label image (labels/NAME)")
    rerun = sub.add_parser("rerun", help="repeat the run recorded in a .log file")
    rerun.add_argument("log", help="a _vSM .log file (or a _vSM.ome.tif with its embedded log)")
    rerun.add_argument("--output-dir", default=None, help="write the new outputs here")
    rerun.add_argument("--suffix", default=None, help="suffix for the new outputs")
    rerun.add_argument("--existing", choices=EXISTING_POLICIES, default="error",
                       help="when the new output exists (default: error; use --output-dir or --suffix, "
                            "or overwrite to replace the original)")
    rerun.add_argument("--force", action="store_true",
                       help="run even if the input or the model weights differ from the logged run's "
                            "(a warning instead of an error)")
    rerun.add_argument("--logged-output-dir", action="store_true",
                       help="write into the output folder the log names (default: beside the log, "
                            "or --output-dir)")
    rerun.add_argument("--trust-checkpoint", action="store_true",
                       help="allow model/checkpoint files that need code from their pickle to load "
                            "(only for files you trust: such a file can run any code)")
    rerun.add_argument("--quiet", "-q", action="store_true")
    clean = sub.add_parser(
        "clean", help="list and remove what killed runs left behind",
        description="List and remove temporary files (.<name>.partial-*), stale lock files and locks "
                    "moved aside, in the given folders; an earlier output kept aside by a killed run "
                    "(.<name>.partial-old-*) is put back where its output is missing, removed otherwise. "
                    "Files of outputs a live run is producing are left alone.")
    clean.add_argument("folders", nargs="+", help="output folders")
    clean.add_argument("--dry-run", action="store_true", help="only list what would be removed")
    clean.add_argument("--recursive", "-r", action="store_true", help="also sub-folders")
    from .cli_train import add_subcommand as add_train  # batchseg train (napari_batchseg.cli_train)

    add_train(sub)
    from .cli_rethreshold import add_subcommand as add_rethreshold  # batchseg rethreshold

    add_rethreshold(sub)
    from .cli_downstream import add_subcommands  # measure, export, evaluate; segment --measure

    add_subcommands(sub, seg)
    from .cli_track import add_subcommand as add_track  # batchseg track; segment --track
    from .cli_track import add_track_option

    add_track(sub)
    add_track_option(seg)
    from .cli_gui import add_subcommand as add_gui  # batchseg gui (napari with the dock set up)

    add_gui(sub)
    return parser


#: console width when stderr is not a terminal: wide enough that no table cell folds a path
UNWRAPPED_WIDTH = 10_000


def _console() -> Console:
    """The console on stderr for errors, warnings, progress and the summary.

    On a terminal rich wraps to the terminal's width. Elsewhere (a pipe, a file, a test, a batch
    system's log) nothing is hard-wrapped: every error or warning stays one line, whatever ``COLUMNS``
    says, and the summary table is as wide as its content, so a path can be copied or grepped whole.
    """
    from rich.console import Console

    console = Console(stderr=True)
    if not _stderr_is_terminal():
        console.soft_wrap = True
        console.width = UNWRAPPED_WIDTH
    return console


def _m(text: object) -> str:
    """``text`` as it is, in a rich console line.

    Its ``[...]`` (``well[B2].tif``, ``napari-batchseg[cp3]``) are not markup: they vanished from file
    names and install hints, or turned the rest of a line red.
    """
    from rich.markup import escape

    return escape(str(text))


def _stderr_is_terminal() -> bool:
    """Whether stderr itself is a terminal (FORCE_COLOR makes rich's console treat any file as one)."""
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


#: ``module:function`` of a segmenter factory used instead of the real models (tests, benchmarks of the
#: runners and of crash safety, e.g. ``napari_batchseg.testing:threshold_segmenter``)
FACTORY_ENV = "BATCHSEG_SEGMENTER_FACTORY"


def _factory_from_env() -> Any:
    import os

    spec = os.environ.get(FACTORY_ENV, "").strip()
    if not spec:
        return None
    import importlib

    module, _, name = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ParameterError(f"{FACTORY_ENV}={spec!r}: {exc}") from exc


def unread_extensions(given: Sequence[str]) -> list[str]:
    """A warning for each ``--ext`` ending that no reader of this installation reads (``[]``: none).

    Files found with it fail as unreadable (before, nothing said so until each failed); a known format
    whose reader is not installed says how to install it.
    """
    readable = supported_extensions()
    notes = []
    for raw in given:
        ext = raw.strip().lower()
        ext = ext if ext.startswith(".") else f".{ext}"
        def covers(suffixes: Sequence[str], ext: str = ext) -> bool:
            return any(s.endswith(ext) or ext.endswith(s) for s in suffixes)

        if covers(readable):
            continue
        known = next((f for f in FORMATS if covers(f.suffixes)), None)
        why = (f"its {known.label} reader is not installed ({known.install_hint()})" if known is not None
               else f"no reader of this tool's reads it (it reads {' '.join(readable)})")
        notes.append(f"--ext {raw}: {why}; the files found with it fail as unreadable")
    return notes


def _run_batch(paths: Sequence[str], params: SegmentationParams, args: argparse.Namespace) -> int:
    """Plan and run a batch; an output folder the run created and left empty is removed after it."""
    from .io.made_dirs import missing_folders, remove_empty

    created = [] if getattr(args, "dry_run", False) else missing_folders(params.output_dir)
    try:
        return _plan_and_run(paths, params, args)
    finally:
        remove_empty(created)


def _plan_and_run(paths: Sequence[str], params: SegmentationParams, args: argparse.Namespace) -> int:
    from . import engine
    from .discovery import FileFilter
    from .errors import BatchSegError
    from .runners import RunOptions, resolve_options, usable_cores

    console = _console()
    exts = [e for item in (args.ext or []) for e in item.split(",") if e] or list(supported_extensions())
    flt = FileFilter(contains=args.contains or [], not_contains=args.not_contains or [], extensions=exts)
    for note in unread_extensions(args.ext and exts):
        console.print(f"[yellow]warning:[/yellow] {_m(note)}", highlight=False)
    dry_run = bool(getattr(args, "dry_run", False))
    if getattr(args, "track", False) and params.z_mode != "project":
        console.print(f"[red]error:[/red] --track with --z-mode {params.z_mode}: tracking handles 2D "
                      "time-lapses (T, Y, X) only; segment with --z-mode project to track", highlight=False)
        return 2
    try:
        from .io.atomic import no_writes

        with no_writes() if dry_run else contextlib.nullcontext():  # a dry run creates nothing
            the_plan = engine.plan(paths, params, flt, recursive=args.recursive)
    except KeyboardInterrupt as exc:  # reading the files' metadata
        from .cli_stop import report_stop

        report_stop(exc, "nothing was run (it was planning the run)")
    except BatchSegError as exc:
        console.print(f"[red]error:[/red] {_m(exc)}", highlight=False)
        return 2
    only = getattr(args, "only_position", None)
    if only is not None:  # rerun of one position of a multi-position file
        the_plan.tasks = [t for t in the_plan.tasks if t.n_positions == 1 or t.position == only]
    for note in the_plan.notes:
        console.print(f"[yellow]warning:[/yellow] {_m(note)}", highlight=False)
    if "channel" not in getattr(args, "chosen_params", {"channel"}):
        from .runnable import first_channel_note

        runnable = [t.info for t in the_plan.tasks if t.info is not None and not t.error]
        if first := first_channel_note(runnable):
            console.print(f"[yellow]note:[/yellow] {_m(first)}", highlight=False)
    if not the_plan.tasks:
        console.print("[yellow]no input files found[/yellow] (check paths and filters)")
        return 2
    try:
        parallel = getattr(args, "parallel", "none") or "none"
        processes = getattr(args, "processes", None)
        if processes is None:
            processes = usable_cores() if parallel != "none" else 1
        options = RunOptions(
            parallel=parallel,
            processes=processes,
            threads_per_process=getattr(args, "threads_per_process", None),
            batch_frames=getattr(args, "batch_frames", None),
            mask_workers=getattr(args, "mask_workers", None),
            masks_on=getattr(args, "masks_on", "device") or "device",
            dask_scheduler=getattr(args, "dask_scheduler", None),
            dask_local=getattr(args, "dask_local", None),
            segmenter_factory=_factory_from_env(),
        )
        if dry_run:  # what the run checks first (execute resolves them again)
            resolve_options(options, the_plan.params)
            if options.segmenter_factory is None:  # the model files, as the run finds them (none loaded)
                from .segmenters import check_model

                for note in check_model(the_plan.params):  # missing built-in files: nothing downloaded
                    console.print(f"[yellow]note:[/yellow] {_m(note)}", highlight=False)
    except (ParameterError, BatchSegError) as exc:
        console.print(f"[red]error:[/red] {_m(exc)}", highlight=False)
        return 2
    if dry_run:  # after every check the real run makes; nothing was written
        from .existing import dry_run_line

        failing = 0
        for t in the_plan.tasks:
            line, fails = dry_run_line(t, the_plan.params)
            print(line)
            failing += fails
        return 1 if failing else 0  # a script can tell that files would fail
    expect = getattr(args, "expect", None)
    if expect is not None:
        for task in the_plan.tasks:
            task.expect = expect
    from .runners import RunSession

    session = RunSession()
    with _stop_on_signals() as stop:
        _follow(the_plan, options, console, quiet=args.quiet, cancel=stop.event, session=session)
    if session.error is not None:  # colliding outputs, model not found, ...: a usage error
        console.print(f"[red]error:[/red] {_m(session.error)}", highlight=False)
        return 2
    session.finish("not started: the run was stopped" if stop.signum else "not run")
    _print_summary(session, console)
    if stop.signum:
        counts = session.counts()
        name = signal.Signals(stop.signum).name
        console.print(
            f"[red]stopped by {name}[/red]: {counts['done']} output(s) done and kept; "
            f"{counts['cancelled']} not done (nothing partial was kept); run the same command again "
            "to finish", highlight=False)
        return 128 + stop.signum
    from .cli_downstream import measure_after_segment  # segment --measure: 1 if a measurement failed
    from .cli_track import track_after_segment  # segment --track: 1 if a mask could not be tracked

    tracked = track_after_segment(session, args)  # before --measure, which then adds track_id
    measured = measure_after_segment(session, args)
    return 0 if session.ok and not measured and not tracked else 1


class _Stop:
    """What :func:`_stop_on_signals` caught: the first signal's number (0: none) and the cancel event."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signum = 0


class _StopNow(BaseException):
    """A second signal: leave the run at once (the engine's cleanup still runs)."""


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[_Stop]:
    """SIGINT/SIGTERM set the run's cancel event (stop between frames); a second one stops at once."""
    stop = _Stop()

    def handler(signum: int, _frame: Any) -> None:
        if stop.signum:
            raise _StopNow()
        stop.signum = signum
        stop.event.set()

    installed: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            installed[sig] = signal.signal(sig, handler)
    try:
        yield stop
    except (_StopNow, KeyboardInterrupt):
        stop.event.set()
        stop.signum = stop.signum or int(signal.SIGINT)
    finally:
        for sig, old in installed.items():
            # stopped by a signal, as a program: one more while it winds up (summary, exit) ends it with
            # the same status and no traceback, not by the default action (killed: status -15 / -2)
            signal.signal(sig, _exit_with(128 + stop.signum) if stop.signum and _AS_PROGRAM else old)


def _exit_with(status: int) -> Any:
    def handler(_signum: int, _frame: Any) -> None:
        raise SystemExit(status)

    return handler


def _follow(
    the_plan: Plan, options: RunOptions, console: Console, quiet: bool, cancel: Any = None,
    session: RunSession | None = None,
) -> RunSession:
    """Run the plan through :func:`~.runners.execute`; show its events on a progress bar.

    Returns the :class:`~.runners.RunSession` the events were folded into (``session`` when given,
    so that a caller interrupted by a second signal still has what happened so far).
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from .events import ModelLoading, Planned, RunFailed, TaskDone, TaskFailed, TaskStarted
    from .runners import RunSession, execute
    from .torch_cancel import CancelOnceTorch, RunCancelled

    session = session if session is not None else RunSession()
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=console, disable=quiet, transient=False,
    )
    # shown from the first file segmented on: nothing before the model is ready, or when nothing is (a
    # stderr that is not a terminal gets the bar once, at the end: a stray 'frames 0/1' before an error);
    # on a terminal, from the model's loading on ('loading cellpose model NAME…'), gone if it fails
    bar = progress.add_task("frames", total=the_plan.n_frames)
    loading = False
    events = execute(the_plan, options, cancel=cancel)
    guard = CancelOnceTorch(cancel)  # the first signal stops inside a frame, as Cancel does in the widget
    shown = False
    try:
        for event in events:
            guard.check()
            state = session.apply(event)
            if isinstance(event, ModelLoading) and not shown and _stderr_is_terminal():
                model = str(the_plan.params.model)  # (a model file: its name, not its whole path)
                what = event.what.replace(model, Path(model).name)
                progress.update(bar, description=_m(f"loading {what}…"))
                progress.start()
                shown = loading = True
            elif loading and not isinstance(event, ModelLoading):  # loaded, or it failed: no bar left
                progress.update(bar, description="frames", visible=not isinstance(event, RunFailed))
                loading = False
            if isinstance(event, TaskStarted) and not shown:
                progress.start()
                shown = True
            if isinstance(event, Planned):
                for note in event.notes:  # the plan's own notes were printed as warnings already
                    if note not in the_plan.notes:
                        progress.console.print(f"[yellow]note:[/yellow] {_m(note)}", highlight=False)
            if state is None:
                continue
            if isinstance(event, TaskStarted):
                progress.update(bar, description=_m(state.task.label[:40]))
            progress.update(bar, total=session.frames_total, completed=session.frames_done)
            if isinstance(event, TaskFailed):  # which position of a file of several (its reason may not say)
                where = f" \\[P{state.task.position}]" if state.task.n_positions > 1 else ""
                progress.console.print(f"[red]failed{where}:[/red] {_m(state.reason)}", highlight=False)
            if isinstance(event, TaskDone):
                for text in event.warnings:
                    progress.console.print(f"[yellow]warning:[/yellow] {_m(text)}", highlight=False)
    except RunCancelled:  # raised in the frame's compute: the output was dropped on the way out
        pass
    finally:
        guard.close()
        events.close()  # after a second signal: the output in progress is cleaned up here
        if shown:
            progress.stop()
    return session


def _print_summary(session: RunSession, console: Console) -> None:
    from rich.table import Table

    table = Table(title="napari-batchseg summary")
    for col in ("input", "status", "frames", "seconds", "output / reason"):
        table.add_column(col, overflow="fold")
    colors = {"done": "green", "skipped": "yellow", "failed": "red", "cancelled": "red"}
    for s in session.tasks:
        done = s.status == "done"
        detail = str(s.mask_path) if done else ("cancelled" if s.status == "cancelled" else s.reason)
        table.add_row(_m(s.task.label), f"[{colors[s.status]}]{s.status}[/]", str(s.n_frames if done else ""),
                      f"{s.seconds:.1f}" if s.seconds else "", _m(detail))
    console.print(table)
    counts = session.counts()
    line = f"{counts['done']} done, {counts['skipped']} skipped, {counts['failed']} failed"
    other = sum(1 for s in session.tasks if s.status == "skipped" and s.other_parameters)
    if other:
        line += (f" ({other} skipped output(s) were made with other parameters or inputs and are not this "
                 "run's results: use --existing overwrite or another --suffix)")
    if counts["cancelled"]:
        line += f", {counts['cancelled']} not done (cancelled)"
    console.print(line)


def _cmd_info(args: argparse.Namespace) -> int:
    from .errors import BatchSegError, about
    from .io.reader import read_info

    status = 0
    if not args.paths:
        _print_formats()
    for path in args.paths:
        folder = _plain_folder(path)
        if folder is not None:
            print(f"ERROR {path}: {folder}", file=sys.stderr)
            status = 1
            continue
        try:
            info = read_info(path, args.axes, args.dataset)
        except BatchSegError as exc:
            print(f"ERROR {about(path, exc)}", file=sys.stderr)
            status = 1
            continue
        ps = info.pixel_size
        print(f"{path}\n  format: {info.format}  file axes: {info.native_axes}\n  {info.describe()}\n"
              f"  channels: {info.channel_names}\n  pixel size (µm): x={ps.x} y={ps.y} z={ps.z}\n"
              f"  time step (s): {ps.t}")
        if info.sizes["P"] > 1:
            print(f"  positions: {info.position_names}")
        if info.extra.get("left_out"):
            print(f"  {info.extra['left_out']}")
        if info.extra.get("hdf5_dataset") or info.extra.get("ome_zarr_dataset"):
            print(f"  dataset: {info.extra.get('hdf5_dataset') or info.extra['ome_zarr_dataset']}")
        if info.extra.get("ome_zarr_labels"):
            names = ", ".join("labels/" + n for n in info.extra["ome_zarr_labels"])
            print(f"  label images (--dataset): {names}")
    return status


def _plain_folder(path: str) -> str | None:
    """What to say of ``path`` when it is a folder ``info`` cannot read as one (not an OME-Zarr store)."""
    folder = Path(path)
    exts = supported_extensions()
    if not folder.is_dir() or folder.name.lower().endswith(tuple(exts)):
        return None
    try:
        names = sorted(p.name for p in folder.iterdir()
                       if p.name.lower().endswith(tuple(exts)) and not p.name.startswith("."))
    except OSError:
        names = []
    pattern = str(folder / "*")
    if not names:
        return f"a folder, and info reads files: it holds no file of a supported type ({', '.join(exts)})"
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return (f"a folder, and info reads files: give them, e.g. batchseg info {pattern} "
            f"({len(names)} file(s) of a supported type in it: {shown})")


def _print_formats() -> None:
    """The formats this installation reads, and how to add those it does not."""
    print("formats:")
    for fmt in FORMATS:
        state = "installed" if fmt.available() else f"not installed: {fmt.install_hint()}"
        print(f"  {fmt.label:<9} {' '.join(fmt.suffixes):<34} {state}")


def _cmd_rerun(args: argparse.Namespace) -> int:
    """``batchseg rerun``: the decisions are :func:`.rerun.prepare_rerun`'s, shown before any work."""
    from .rerun import RerunError, prepare_rerun
    from .segmenters.safe_load import TRUST_ENV

    try:
        setup = prepare_rerun(args.log, output_dir=args.output_dir, suffix=args.suffix,
                              existing=args.existing, force=args.force,
                              use_logged_output_dir=getattr(args, "logged_output_dir", False))
    except RerunError as exc:
        _console().print(f"[red]error:[/red] {_m(exc)}", highlight=False)
        return 2
    if getattr(args, "trust_checkpoint", False):
        import os

        os.environ[TRUST_ENV] = "1"
    console = _console()
    for line in setup.notes:
        console.print(f"rerun: {_m(line)}", highlight=False)
    for line in setup.warnings:
        console.print(f"[yellow]warning:[/yellow] {_m(line)}", highlight=False)
    logged, expect = setup.logged, setup.expect
    assert logged.input_path is not None  # prepare_rerun refuses a log without one
    try:  # before the model is loaded: a different size means different pixels
        now = logged.input_path.stat().st_size
    except OSError:
        now = None
    if expect.input_size is not None and now is not None and now != expect.input_size:
        text = (f"input {logged.input_path} changed since the logged run: {now} bytes, "
                f"logged {expect.input_size}")
        if not args.force:
            console.print(f"[red]error:[/red] {_m(text)} (--force runs anyway)", highlight=False)
            return 2
        console.print(f"[yellow]warning:[/yellow] {_m(text)}; running anyway (--force)", highlight=False)
    if not logged.input_identity:
        console.print("[yellow]note:[/yellow] the log records no input identity (an older log): "
                      "the input cannot be verified", highlight=False)
    ns = argparse.Namespace(contains=[], not_contains=[], ext=[], recursive=False, quiet=args.quiet,
                            dry_run=False, only_position=logged.position, expect=expect)
    return _run_batch([str(logged.input_path)], setup.params, ns)


def _cmd_clean(args: argparse.Namespace) -> int:
    from .io.leftovers import find_leftovers, settle

    total = 0
    status = 0
    scanned = 0
    for folder in args.folders:
        if not Path(folder).is_dir():
            print(f"{folder}: not a folder", file=sys.stderr)
            status = 2
            continue
        scanned += 1
        found, held = find_leftovers(folder, recursive=args.recursive)
        for item in found:
            if item.kind in ("put-back", "restore"):  # an earlier output a killed run left aside
                status = max(status, _put_back(item, args.dry_run))
                continue
            verb = "would remove" if args.dry_run else "removed"
            if not args.dry_run:
                try:
                    if not settle(item):  # (a folder: with its files)
                        continue
                except OSError as exc:
                    print(f"cannot remove {item.path}: {exc.strerror or exc}", file=sys.stderr)
                    status = 1
                    continue
            total += item.size
            print(f"{verb}: {item.path} ({item.size} bytes; {item.reason})")
        for note in held:
            print(f"left alone: {note}")
    if scanned:  # (not after "not a folder" alone)
        print(f"{'would free' if args.dry_run else 'freed'} {total} bytes")
    return status


def _put_back(item: Leftover, dry_run: bool) -> int:
    """``batchseg clean``: give an earlier file a killed run kept aside its name back; the exit status.

    Its output's only copy (``put-back``), or one of an output whose replacement was cut (``restore``:
    it replaces the killed run's new file, the output is whole again).
    """
    import os

    from .io.leftovers import settle

    aside, target = item.path, item.target
    if not dry_run:
        try:
            if not settle(item):
                if os.path.lexists(aside):
                    print(f"left alone: {aside}: {target} appeared meanwhile")
                return 0
        except OSError as exc:
            print(f"cannot put back {target} from {aside}: {exc.strerror or exc}", file=sys.stderr)
            return 1
    why = "it was its only copy" if item.kind == "put-back" else item.reason
    print(f"{'would put back' if dry_run else 'put back'}: {target} (from {aside}: {why})")
    return 0


#: whether :func:`main` runs as the ``batchseg`` program (no ``argv``), not called from Python code
_AS_PROGRAM = False


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``batchseg``; returns the exit status (0 ok, 1 some file failed, 2 usage error)."""
    global _AS_PROGRAM
    _AS_PROGRAM = argv is None
    parser = build_parser()
    args = parser.parse_args(argv)
    quiet_notices()  # third-party notices a user cannot act on (torch's about sparse tensors)
    from .cli_stop import signals_stop, stop_status

    # SIGINT/SIGTERM outside segment's run: stop at once (gui: napari's own event loop has Ctrl-C)
    stops = signals_stop(keep_ignored=_AS_PROGRAM) if args.command != "gui" else contextlib.nullcontext()
    try:
        try:
            with stops, _own_warnings_as_lines():
                status = _dispatch(parser, args)
        except KeyboardInterrupt as exc:  # SIGINT or SIGTERM outside segment's run (cli_stop)
            status = stop_status(exc)
        if _AS_PROGRAM and status in (128 + signal.SIGINT, 128 + signal.SIGTERM):
            for sig in (signal.SIGINT, signal.SIGTERM):  # stopped and cleaned up: a signal while the
                with contextlib.suppress(ValueError):  # interpreter exits would end it as killed instead
                    signal.signal(sig, signal.SIG_IGN)
        for stream in (sys.stdout, sys.stderr):  # a closed pipe shows here, not at interpreter exit
            stream.flush()
        return status
    except BrokenPipeError:  # `batchseg info ... | head`: the reader went away; stop quietly
        _silence_broken_streams()
        return BROKEN_PIPE_STATUS


@contextlib.contextmanager
def _own_warnings_as_lines() -> Iterator[None]:
    """The package's own warnings as one ``warning: ...`` line on stderr, as the command's other ones.

    Other packages' warnings are shown as Python shows them (file, line, source).
    """
    shown, package = warnings.showwarning, str(Path(__file__).resolve().parent)

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: Any = None, line: str | None = None) -> None:
        if str(Path(filename).resolve()).startswith(package):  # (UserWarning, atomic's RuntimeWarning)
            print(f"warning: {message}", file=sys.stderr, flush=True)
        else:
            shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown


#: exit status when the reader of the output went away (128 + SIGPIPE, as a shell reports such a process)
BROKEN_PIPE_STATUS = 128 + 13


def _silence_broken_streams() -> None:
    """Point stdout/stderr whose reader is gone at ``/dev/null``, so that exit prints no traceback."""
    import os

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:
            with contextlib.suppress(OSError, ValueError):  # ValueError: a stream without a descriptor
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, stream.fileno())
                os.close(devnull)
        except (OSError, ValueError):
            pass


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.command == "info":
        return _cmd_info(args)
    if args.command == "rerun":
        return _cmd_rerun(args)
    if args.command == "clean":
        return _cmd_clean(args)
    if args.command in ("train", "rethreshold", "gui"):
        return int(args.func(args))
    if getattr(args, "downstream", None) is not None:  # measure, export, evaluate (cli_downstream)
        return int(args.downstream(args))
    try:
        params = params_from_args(args)
    except ParameterError as exc:
        getattr(args, "usage_parser", parser).error(str(exc))
    for unused in unused_options(args, params):
        _console().print(f"[yellow]warning:[/yellow] {_m(unused)}", highlight=False)
    if getattr(args, "trust_checkpoint", False):  # the command line only: no log or YAML sets it
        import os

        from .segmenters.safe_load import TRUST_ENV

        os.environ[TRUST_ENV] = "1"
    if args.save_config:  # paths absolute: the file may be read from another folder (or by the dock)
        saved = absolute_paths(params).to_dict()
        for key in ("contains", "not_contains", "ext"):
            if getattr(args, key, None):
                saved[key] = list(getattr(args, key))
        if args.recursive:
            saved["recursive"] = True
        saved.update(given_run_options(args))
        from .errors import BatchSegError
        from .io.atomic import atomic_write_text

        try:  # (a folder that is missing or read-only, or a folder's name, ended in a traceback)
            atomic_write_text(args.save_config, yaml.safe_dump(saved, sort_keys=False))
        except BatchSegError as exc:
            _console().print(f"[red]error:[/red] --save-config: {_m(exc)}", highlight=False)
            return 2
    return _run_batch(args.paths, params, args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
