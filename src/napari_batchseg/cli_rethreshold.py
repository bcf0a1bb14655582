"""``batchseg rethreshold RUN_vSM.log... --cellprob-threshold X --flow-threshold Y --min-size N``.

Recomputes the masks of finished Cellpose 3 runs made with ``--keep-flows`` from their kept flows,
without loading the network (:mod:`napari_batchseg.rethreshold_run`), and writes new outputs
(``--suffix S``) or replaces the runs' own (``--overwrite``). A log that cannot be re-thresholded is
reported in one line and the others go on; the exit status is 1 when any failed, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_subcommand", "run_rethreshold"]


def add_subcommand(sub: Any) -> None:
    """Add ``batchseg rethreshold`` to the ``batchseg`` sub-parsers ``sub``."""
    p = sub.add_parser(
        "rethreshold", help="recompute masks of --keep-flows runs with other thresholds (no network)",
        description="Recompute the masks of Cellpose 3 runs made with --keep-flows from their kept flows "
                    "and cell probability, without the network; write <stem>_vSM-SUFFIX outputs, or "
                    "replace the runs' own with --overwrite.")
    p.add_argument("logs", nargs="+", metavar="RUN_vSM.log", help="logs (or masks) of runs with kept flows")
    p.add_argument("--cellprob-threshold", type=float, default=0.0, help="cell probability threshold")
    p.add_argument("--flow-threshold", type=float, default=0.4, help="flow error threshold (0: none)")
    p.add_argument("--min-size", type=int, default=15, help="remove objects under N pixels (-1: none)")
    p.add_argument("--suffix", default=None, help="write <stem>_vSM-SUFFIX beside each run's mask")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run's own outputs (no --suffix), or an existing -SUFFIX output")
    p.set_defaults(func=run_rethreshold)


def run_rethreshold(args: argparse.Namespace) -> int:
    """Run ``batchseg rethreshold``; returns the exit status."""
    from .cli_stop import BatchProgress, report_stop
    from .errors import BatchSegError
    from .params import ParameterError
    from .rethreshold_run import rethreshold_log, suffix_problem
    from .segmenters.cellpose.rethreshold import Thresholds

    try:
        thresholds = Thresholds(args.cellprob_threshold, args.flow_threshold, args.min_size)
    except ParameterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.suffix is None and not args.overwrite:
        print("error: give --suffix S for new outputs (<stem>_vSM-S), or --overwrite to replace the "
              "runs' outputs", file=sys.stderr)
        return 2
    if args.suffix is not None and (refused := suffix_problem(args.suffix)):
        print(f"error: {refused}", file=sys.stderr)  # a usage error, not a failure of each log
        return 2
    try:
        status, runs = _distinct_outputs(args.logs, args.suffix)
    except KeyboardInterrupt as exc:  # SIGINT/SIGTERM (cli_stop) while reading the logs
        report_stop(exc, "nothing was re-thresholded (it was reading the logs)")
    progress = BatchProgress([log for log, _mask in runs], [mask for _log, mask in runs])  # mask: last
    try:
        for log in progress:
            try:
                result = rethreshold_log(log, thresholds, suffix=args.suffix, overwrite=args.overwrite)
            except BatchSegError as exc:
                print(f"failed: {exc}", file=sys.stderr)
                status = 1
                continue
            objects = sum(result.n_objects)
            print(f"{result.mask}: {result.n_frames} frame(s), {objects} object(s) in all, "
                  f"{result.seconds:.2f} s (from {result.source})")
            if result.kept_corrected is not None:
                print(f"{result.mask}: the hand-corrected mask it replaced is kept as "
                      f"{result.kept_corrected}")
    except KeyboardInterrupt as exc:  # SIGINT/SIGTERM (cli_stop): the output in progress is dropped
        progress.report_stop(exc, "log", "re-thresholded")
    return status


def _distinct_outputs(logs: list[str], suffix: str | None) -> tuple[int, list[tuple[str, Path]]]:
    """The logs to re-threshold, before any work: each run once, none of those sharing an output.

    A log that cannot be read fails (one line). Several runs of one input give one output name for
    one ``--suffix``: which run's masks would end up there is the order of the names, so none of them
    runs, and one line names them all and the output. Returns the status so far (1 when any log was
    refused) and the logs to run, in the order given, each with the mask it writes.
    """
    from .errors import BatchSegError
    from .rethreshold_run import output_paths, read_kept_flows

    status = 0
    writers: dict[str, list[int]] = {}  # output mask -> the logs (indices) that would write it
    masks: dict[int, Path] = {}
    runs: set[Path] = set()
    for index, log in enumerate(logs):
        try:
            kept = read_kept_flows(log)
        except BatchSegError as exc:
            print(f"failed: {exc}", file=sys.stderr)
            status = 1
            continue
        run = kept.log_path.resolve()
        if run in runs:  # the same run named twice (or its log and its mask): once
            continue
        runs.add(run)
        mask, _log = output_paths(kept, suffix, overwrite=True)  # where it writes (whether there or not)
        writers.setdefault(os.path.normcase(os.path.abspath(mask)), []).append(index)
        masks[index] = mask
    keep: list[int] = []
    for output, indices in writers.items():
        if len(indices) == 1:
            keep += indices
            continue
        names = [logs[i] for i in indices]
        shown = ", ".join(names[:-1]) + f" and {names[-1]}"
        print(f"failed: {shown} would {'both' if len(names) == 2 else 'all'} write {output} (runs of one "
              "input: the new name is the input's with --suffix): none of them re-thresholded; name one "
              "of them, or re-threshold each in its own command with its own --suffix", file=sys.stderr)
        status = 1
    return status, [(logs[i], masks[i]) for i in sorted(keep)]
