"""``batchseg track``: link the objects of segmented time-lapses over time (and ``segment --track``).

Each mask gets ``<base>_tracks.csv``, ``<base>-tracked.ome.tif`` and ``<base>-tracked.log`` beside it
(:func:`napari_batchseg.tracking.files.track_file`). A mask that cannot be tracked prints one line and
the batch goes on; the exit status is 1 when any mask failed, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

from .cli_stop import BatchProgress
from .errors import BatchSegError, OutputError, about

__all__ = ["add_subcommand", "add_track_option", "track_after_segment", "track_masks_cli"]


def _add_track_params(p: argparse.ArgumentParser) -> None:
    from .tracking import DEFAULT_METHOD, METHODS, TrackParams  # (not the linkers: imported on use)

    default = TrackParams()
    p.add_argument("--method", choices=METHODS, default=DEFAULT_METHOD,
                   help="linker: laptrack (default; no weights) or trackastra (needs its weights)")
    p.add_argument("--max-distance", type=float, default=default.max_distance, metavar="D",
                   help=f"largest move between linked objects, in pixels (default {default.max_distance:g})")
    p.add_argument("--gap-frames", type=int, default=default.gap_frames, metavar="G",
                   help="frames an object may be missing and keep its track (default 0)")
    p.add_argument("--divisions", action=argparse.BooleanOptionalAction, default=default.divisions,
                   help="allow a cell to divide into two daughter tracks (default: on)")
    p.add_argument("--daughter-share", type=float, default=default.daughter_share, metavar="S",
                   help="laptrack: keep a division only when both daughters are under S of their mother's "
                        f"area (default {default.daughter_share:g}; over 1 keeps them all)")
    p.add_argument("--trackastra-model", default=default.model, metavar="NAME|FOLDER",
                   help="trackastra's model: a name (general_2d, ctc) or a folder with its files")


def add_subcommand(sub: Any) -> None:
    """Register ``batchseg track`` on ``batchseg``'s subparsers (sets ``args.downstream``)."""
    t = sub.add_parser(
        "track", help="track segmented cells over time (tracks CSV, tracked mask)",
        description="Link the objects of _vSM.ome.tif time-lapse masks over time; write beside each "
                    "<base>_tracks.csv, <base>-tracked.ome.tif (one value per cell over time) and "
                    "<base>-tracked.log.")
    t.add_argument("masks", nargs="+", help="_vSM.ome.tif masks and/or folders of them")
    _add_track_params(t)
    t.add_argument("--output-dir", default=None, help="write the outputs here (default: beside each mask)")
    t.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    t.add_argument("--image", default=None, help="trackastra: the intensity image when the log lacks it")
    t.add_argument("--axes", default=None, metavar="AXES", help="axis order override (e.g. TYX)")
    t.add_argument("--force-labels", action="store_true",
                   help="use masks without a napari-batchseg log even where they look like intensities")
    t.set_defaults(downstream=_cmd_track)
    evaluate = getattr(sub, "choices", {}).get("evaluate")  # batchseg evaluate --tracks PRED GT
    if evaluate is not None:
        evaluate.add_argument("--tracks", action="store_true",
                              help="score tracking instead (TRA, DET, LNK, division F1 by traccuracy): PRED "
                                   "a tracked mask or CTC result folder, GT a CTC ground-truth folder")
        scores: Callable[[argparse.Namespace], int] = evaluate.get_default("downstream")
        evaluate.set_defaults(downstream=lambda a: _cmd_evaluate_tracks(a) if a.tracks else scores(a))


def _cmd_evaluate_tracks(args: argparse.Namespace) -> int:
    from .evaluate_tracks import evaluate_tracks

    try:
        table = evaluate_tracks(args.pred, args.gt, args.output, overwrite=args.overwrite)
    except BatchSegError as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return 1
    cols = ["TRA", "DET", "LNK", "division_precision", "division_recall", "division_f1"]
    print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if args.output:
        print(f"written: {args.output}")
    return 0


def add_track_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--track`` (and the tracking parameters' defaults) to ``batchseg segment``."""
    parser.add_argument("--track", action="store_true", default=argparse.SUPPRESS,
                        help="after segmenting, track each new mask (laptrack, default parameters; "
                             "batchseg track for others)")


def _params(args: argparse.Namespace) -> Any:
    from .tracking import TrackParams

    return TrackParams(max_distance=args.max_distance, gap_frames=args.gap_frames, divisions=args.divisions,
                       method=args.method, model=args.trackastra_model, daughter_share=args.daughter_share)


def track_masks_cli(
    masks: Sequence[Path], params: Any, report: Callable[[str], None] = print,
    error: Callable[[str], None] | None = None, output_dir: str | None = None, overwrite: bool = False,
    axes: str | None = None, force_labels: bool = False, image: str | None = None,
    found: Collection[Path] = (),
) -> int:
    """Track each mask; one line per mask. Returns 0 when all succeed, else 1.

    ``found``: masks found in a folder (not named); those that are not 2D time-lapses (one frame, 3D)
    are skipped with a line, not failed: a results folder holds snapshots too.
    """
    from .cli_downstream import claim_output
    from .tracking import NotATimeLapse
    from .tracking.files import track_file, track_paths

    def err(text: str) -> None:
        (error or (lambda s: print(s, file=sys.stderr)))(text)

    status = 0
    claimed: dict[Path, Path] = {}  # tracks CSV -> the mask of this batch writing it
    progress = BatchProgress(masks, [track_paths(mask, output_dir)[2] for mask in masks])  # log: last
    try:
        for mask in progress:
            refused = claim_output(claimed, track_paths(mask, output_dir)[0], Path(mask), "tracks")
            if refused is not None:  # ("": the same file given twice, tracked once)
                if refused:
                    err(refused)
                    status = 1
                continue
            try:
                res = track_file(mask, params, output_dir=output_dir, overwrite=overwrite, axes=axes,
                                 force_labels=force_labels, image=image)
            except NotATimeLapse as exc:
                if Path(mask) in found:
                    report(f"skipped: {exc}")
                    continue
                err(f"failed (nothing written): {about(mask, exc)}")
                status = 1
                continue
            except OutputError as exc:  # (says itself what was put back; a kept copy may have been made)
                err(f"failed: {about(mask, exc)}")
                status = 1
                continue
            except BatchSegError as exc:
                err(f"failed (nothing written): {about(mask, exc)}")
                status = 1
                continue
            r = res.result
            report(f"{mask}: {r.n_tracks} tracks in {r.n_frames} frames ({res.seconds:.1f} s) -> "
                   f"{res.tracks_csv}, {res.tracked_mask}, {res.log}")  # where written (--output-dir)
            if res.kept:
                report(f"  the replaced tracks held saved corrections: kept as {res.kept[0].name} (and its "
                       "tracked mask and log)")
    except KeyboardInterrupt as exc:  # SIGINT/SIGTERM (cli_stop): the outputs in progress are dropped
        progress.report_stop(exc, "mask", "tracked")
    return status


def _cmd_track(args: argparse.Namespace) -> int:
    from .cli_downstream import expand_masks, no_masks_found

    try:
        params = _params(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from .tracking.files import TRACKED_SUFFIX

    named = {Path(p) for p in args.masks if not Path(p).is_dir()}
    masks = []
    for mask in expand_masks(args.masks):  # a folder's tracked masks are outputs of this command
        if not mask.name.endswith(TRACKED_SUFFIX):
            masks.append(mask)
        elif mask in named:
            print(f"skipped: {mask}: a tracked mask (an output of 'batchseg track'); track the mask it was "
                  "made from", file=sys.stderr)
    if not masks:
        print(f"error: {no_masks_found(args.masks)}", file=sys.stderr)
        return 2
    return track_masks_cli(masks, params, output_dir=args.output_dir, overwrite=args.overwrite,
                           axes=args.axes, force_labels=args.force_labels, image=args.image,
                           found={m for m in masks if m not in named})


def track_after_segment(session: Any, args: argparse.Namespace) -> int:
    """``segment --track``: track every mask the run wrote; 0 when nothing to do or all succeed, else 1."""
    if not getattr(args, "track", False):
        return 0
    from .tracking import TrackParams

    done = [Path(s.mask_path) for s in session.tasks if s.status == "done" and s.mask_path]
    return track_masks_cli(done, TrackParams(), overwrite=True, found=set(done))  # snapshots: skipped
