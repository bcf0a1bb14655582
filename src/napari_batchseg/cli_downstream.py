"""``batchseg measure``, ``batchseg export`` and ``batchseg evaluate``: the downstream half of the CLI.

:func:`add_subcommands` registers the three subcommands on ``batchseg``'s subparsers; each sets
``args.downstream`` to its handler, which returns the exit status (0 ok, 1 some file failed, 2 usage
error). :func:`add_measure_option` and :func:`measure_masks` give ``batchseg segment --measure``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from .cli_stop import BatchProgress, report_stop, signals_stop, stop_status
from .errors import BatchSegError, about

__all__ = [
    "EXPORT_KINDS", "PATTERN_ON", "add_measure_option", "add_subcommands", "expand_masks", "main",
    "measure_after_segment", "measure_masks", "no_masks_found",
]

#: ``export``'s kinds, as :data:`.export.KINDS` names them (a test keeps them equal): the parser is built
#: without importing the export package (about a second of pandas and readers for every command).
EXPORT_KINDS = ("outlines", "rois", "semantic", "ome-zarr", "dacapo", "cellpose", "ctc")
#: ``--pattern-on``'s choices, as :data:`.export.images.PATTERN_ON` (a test keeps them equal).
PATTERN_ON = ("file", "position")



def _err(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def expand_masks(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given; folders replaced by the segmentation masks they hold (sorted).

    A folder's masks are its ``*_vSM[-suffix].ome.tif`` files (:func:`~.io.naming.is_segmentation_mask`):
    not the tracked copies or kept corrected copies beside them.
    """
    from .io.naming import is_segmentation_mask

    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(q for q in p.iterdir() if is_segmentation_mask(q) and q.is_file())
        else:
            out.append(p)
    return out


def no_masks_found(paths: Iterable[str | Path]) -> str:
    """The usage error of a batch without masks: the folders given, and what a folder's masks are named.

    (A trial: ``batchseg measure groundtruth/`` answered "no masks found", naming neither the folder nor
    that only ``*_vSM.ome.tif`` files are taken from one.)
    """
    folders = [str(p) for p in map(Path, paths) if p.is_dir()]
    if not folders:
        return "no masks found"
    verb = "holds" if len(folders) == 1 else "hold"
    return (f"no masks found: {', '.join(folders)} {verb} no segmentation masks "
            "(<stem>_vSM[-suffix].ome.tif); give other label masks by file name")


def claim_output(claimed: dict[Path, Path], output: Path, mask: Path, what: str) -> str | None:
    """Claim ``output`` for ``mask`` in a batch; ``None``: claimed, ``""``: the same mask given again.

    Else the line that refuses ``mask``: its ``what`` (tracks, tables) would replace those of the mask
    that claimed ``output`` first (masks of one name in several folders, with one ``--output-dir``).
    """
    output = output.resolve()
    earlier = claimed.get(output)
    if earlier is None:
        claimed[output] = Path(mask)
        return None
    if earlier.resolve() == Path(mask).resolve():
        return ""
    return (f"failed (nothing written): {mask}: its {what} would replace those of {earlier} (same name in "
            f"{output.parent}): masks of different files must not share outputs; use --output-dir per folder")


def _frames(text: str | None) -> list[int] | str | None:
    """``"0-3,7"`` -> ``[0, 1, 2, 3, 7]``; ``"corrected"`` stays as it is; ``"all"`` -> ``None``.

    As ``batchseg train --frames`` reads them: a range that ends before it starts, an empty entry or
    text that is no frame number is a :class:`~.params.ParameterError` (they marked no frame, silently).
    """
    from .training.data import parse_frames

    if text is None:
        return None
    frames = parse_frames(text, "--annotated-frames")
    return None if frames == "all" else list(frames) if not isinstance(frames, str) else frames


def _frame_number(text: str) -> int:
    """``--start-frame``: a frame number, 0 or more (-4 ended in a traceback, or ROIs of frame -1)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid frame number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative (input frames count from 0)")
    return value


def _add_image_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("input image (default: as recorded in each mask's log)")
    g.add_argument("--image", default=None, help="the input image (when it moved, or the mask has no log)")
    g.add_argument("--image-channel", default=None, help="channel that was segmented (index or name)")
    g.add_argument("--z-range", default=None, help="Z range used (all, best, best:R, A-B)")
    g.add_argument("--z-projection", default=None, choices=("max", "min", "mean", "median", "std"))
    g.add_argument("--image-axes", default=None, metavar="AXES",
                   help="axis order override of the image (default: its log's; with --image: --axes)")


def _add_mask_options(p: argparse.ArgumentParser, what: str = "masks") -> None:
    p.add_argument("--axes", default=None, metavar="AXES",
                   help=f"axis order override for ambiguous {what}, e.g. TYX for a plain multi-page TIFF "
                        "whose pages are time points (as segment's --axes)")
    p.add_argument("--force-labels", action="store_true",
                   help=f"use {what} without a napari-batchseg log even where they look like intensity "
                        "images rather than labels")


def _image_axes(args: argparse.Namespace) -> str | None:
    """``--image-axes``, else ``--axes`` when the image is given explicitly (a mask without a log)."""
    if args.image_axes is not None:
        return str(args.image_axes)
    return str(args.axes) if args.image is not None and args.axes is not None else None


def _channel(value: str | None) -> int | str | None:
    return int(value) if value is not None and value.isdigit() else value


def _cmd_measure(args: argparse.Namespace) -> int:
    from .measure import measure_file, measurement_paths

    masks = expand_masks(args.masks)
    if not masks:
        _err(no_masks_found(args.masks))
        return 2
    status = 0
    # a mask's objects table is written last
    progress = BatchProgress(masks, [measurement_paths(mask, args.output_dir)[0] for mask in masks])
    claimed: dict[Path, Path] = {}  # objects table -> the mask of this batch writing it
    try:
        for mask in progress:
            refused = claim_output(claimed, measurement_paths(mask, args.output_dir)[0], mask, "tables")
            if refused is not None:  # ("": the same mask given twice, measured once)
                if refused:
                    print(refused, file=sys.stderr)
                    status = 1
                continue
            try:
                res = measure_file(
                    mask, channels=[int(c) if c.isdigit() else c for c in args.channel or []],
                    output_dir=args.output_dir,
                    image=args.image, image_channel=_channel(args.image_channel), z_range=args.z_range,
                    z_projection=args.z_projection, start_frame=args.start_frame, overwrite=args.overwrite,
                    axes=args.axes, image_axes=_image_axes(args), force_labels=args.force_labels,
                    tracks=False if args.no_tracks else args.tracks,
                )
            except BatchSegError as exc:
                print(f"failed: {about(mask, exc)}", file=sys.stderr)
                status = 1
                continue
            tables = [res.objects_csv, res.summary_csv]
            tables += [res.track_summary_csv] if res.track_summary_csv else []  # tracks beside the mask
            print(f"{mask}: {res.n_objects} objects in {res.n_frames} frame(s) -> "
                  f"{', '.join(map(str, tables))}")
    except KeyboardInterrupt as exc:  # SIGINT/SIGTERM (cli_stop): the tables in progress are dropped
        progress.report_stop(exc, "mask", "measured")
    return status


def _cmd_export(args: argparse.Namespace) -> int:
    from .export import ExportOptions, export_masks, export_record
    from .io.atomic import NOT_PUT_BACK, file_identity

    masks = expand_masks(args.masks)
    if not masks:
        _err(no_masks_found(args.masks))
        return 2
    try:
        options = ExportOptions(
            overwrite=args.overwrite, image=args.image, image_channel=_channel(args.image_channel),
            z_range=args.z_range, z_projection=args.z_projection, start_frame=args.start_frame,
            pattern=args.pattern, pattern_on=args.pattern_on,
            outline_format=args.format, foreground_value=args.foreground,
            test_fraction=args.test_fraction, annotated_frames=_frames(args.annotated_frames),
            ngff_version=args.ngff, axes=args.axes, image_axes=_image_axes(args),
            force_labels=args.force_labels,
        )
    except ValueError as exc:
        _err(str(exc))
        return 2
    # each mask's provenance file, written last: new once its export is complete
    records = {export_record(args.kind, m, args.output_dir) for m in {m.resolve() for m in masks}}
    before = {r: file_identity(r) for r in records}
    try:
        result = export_masks(args.kind, masks, args.output_dir, options)
    except KeyboardInterrupt as exc:  # SIGINT/SIGTERM (cli_stop)
        done = sum(file_identity(r) not in (None, before[r]) for r in records)
        report_stop(exc, "the export was cut short: the outputs of the masks exported before it are kept: "
                         f"{done} mask(s) exported, {len(records) - done} not (nothing partial was kept); "
                         "give --overwrite to export them all again")
    except ValueError as exc:  # bad option values
        _err(str(exc))
        return 2
    except BatchSegError as exc:
        print(f"failed (nothing written): {exc}", file=sys.stderr)
        return 1
    for mask, files in result.outputs.items():
        shown = files[0] if len(files) == 1 else f"{len(files)} files in {files[0].parent}"
        print(f"{mask}: {args.kind} -> {shown}")
    for path in result.shared:
        print(f"index: {path}")
    for text in result.failed.values():  # left out; the others were exported
        said = "its earlier outputs not all put back" if NOT_PUT_BACK in text else "nothing written for it"
        print(f"failed ({said}): {text}", file=sys.stderr)
    return 1 if result.failed else 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import FAILED_ATTR, MISSING_ATTR, evaluate_paths

    try:
        table = evaluate_paths(args.pred, args.gt, args.output, overwrite=args.overwrite, axes=args.axes,
                               gt_axes=args.gt_axes, force_labels=args.force_labels)
    except BatchSegError as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return 1
    cols = ["pred", "frame", "n_true", "n_pred", "ap_50", "ap_75", "ap_50_95", "precision_50", "recall_50",
            "f1_50", "merges", "splits"]
    print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if args.output:
        print(f"written: {args.output}")
    missing: list[str] = table.attrs.get(MISSING_ATTR, [])
    failed: dict[str, str] = table.attrs.get(FAILED_ATTR, {})
    for path in missing:
        _err(f"{path}: not scored: no ground truth of the same name in {args.gt}")
    for path, reason in failed.items():
        _err(f"{path}: not scored: {reason}")
    if missing or failed:
        _err(f"{len(missing) + len(failed)} prediction(s) not scored; the table covers the others")
        return 1
    return 0


def add_subcommands(sub: Any, segment: argparse.ArgumentParser | None = None) -> None:
    """Register ``measure``, ``export`` and ``evaluate`` on ``batchseg``'s subparsers.

    Each parser sets ``downstream`` to its handler: ``args.downstream(args)`` returns the exit status.
    With ``segment`` (the ``segment`` subparser), also add its ``--measure`` option.
    """
    if segment is not None:
        add_measure_option(segment)
    m = sub.add_parser("measure", help="per-object measurements of masks (CSV)",
                       description="Write <mask>_objects.csv (one row per object per frame) and "
                                   "<mask>_summary.csv (one row per frame) for each mask.")
    m.add_argument("masks", nargs="+", help="_vSM.ome.tif masks and/or folders of them")
    m.add_argument("--channel", action="append", metavar="C",
                   help="also measure intensities in this channel (index or name; repeatable)")
    m.add_argument("--output-dir", default=None, help="write the tables here (default: beside each mask)")
    m.add_argument("--start-frame", type=_frame_number, default=None,
                   help="input frame of the mask's first frame")
    m.add_argument("--overwrite", action="store_true", help="replace existing tables")
    m.add_argument("--tracks", default=None, metavar="CSV",
                   help="the mask's _tracks.csv (batchseg track; default: beside the mask when present): "
                        "adds track_id and <mask>_track_summary.csv")
    m.add_argument("--no-tracks", action="store_true",
                   help="leave out the tracks beside the mask (e.g. made before it was segmented again)")
    _add_mask_options(m)
    _add_image_options(m)
    m.set_defaults(downstream=_cmd_measure)

    e = sub.add_parser("export", help="export masks for downstream tools",
                       description="Export masks as outlines, ImageJ ROIs, semantic masks, OME-Zarr, "
                                   "a DaCapo container, a Cellpose training folder or Cell Tracking "
                                   "Challenge masks (ctc: tracked masks).")
    e.add_argument("kind", choices=EXPORT_KINDS, help="what to write")
    e.add_argument("masks", nargs="+", help="_vSM.ome.tif masks and/or folders of them")
    e.add_argument("--output-dir", required=True, help="folder for the exports")
    e.add_argument("--overwrite", action="store_true", help="replace existing exports")
    e.add_argument("--start-frame", type=_frame_number, default=None,
                   help="input frame of the mask's first frame (masks without a log, or with --image); "
                        "a mask whose log says another is left out")
    e.add_argument("--pattern", default=None,
                   help="outlines: regex with named groups plate, well, site, searched in the input's file "
                        "name, then the mask's (each group: the first that gives it); not in the position "
                        "name unless --pattern-on position")
    e.add_argument("--pattern-on", default="file", choices=PATTERN_ON,
                   help="outlines: where --pattern is searched: file (default): the file names only; "
                        "position: the position name (e.g. P1-B4, a scene of a plate file) first, then the "
                        "file names for the groups it does not give")
    e.add_argument("--format", default="png", choices=("png", "tif"), help="outlines: image format")
    e.add_argument("--foreground", type=int, default=255, choices=(1, 255), help="semantic: foreground value")
    e.add_argument("--ngff", default="0.4", choices=("0.4", "0.5"),
                   help="ome-zarr: OME-NGFF version (0.4: Zarr format 2; 0.5: Zarr format 3)")
    e.add_argument("--test-fraction", type=float, default=0.0,
                   help="dacapo: fraction of frames (rows for one frame) kept as a test crop")
    e.add_argument("--annotated-frames", default=None, metavar="0-3,7",
                   help="dacapo: frames whose labels are complete (mask 1): the mask's frames counted "
                        "from 0, e.g. 0-3,7, or 'corrected' for the frames changed by manual corrections "
                        "(from the log); default all. A mask without such frames is left out")
    _add_mask_options(e)
    _add_image_options(e)
    e.set_defaults(downstream=_cmd_export)

    v = sub.add_parser("evaluate", help="compare predicted masks with ground truth",
                       description="Average precision at IoU 0.5, 0.75, 0.5:0.95, precision, recall, F1, "
                                   "TP/FP/FN, merges and splits, per frame and overall. Folders: "
                                   "predictions without ground truth (or that cannot be compared) are "
                                   "listed on stderr, the others scored, and the exit status is 1.")
    v.add_argument("pred", help="predicted mask, or a folder of them")
    v.add_argument("gt", help="ground-truth mask, or a folder (matched by name)")
    v.add_argument("--output", default=None, metavar="CSV", help="write the table here")
    v.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    _add_mask_options(v, "predictions and ground truths")
    v.add_argument("--gt-axes", default=None, metavar="AXES",
                   help="axis order override of the ground truths when it differs from --axes")
    v.set_defaults(downstream=_cmd_evaluate)


def add_measure_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--measure`` to ``batchseg segment``."""
    parser.add_argument("--measure", action="store_true", default=argparse.SUPPRESS,
                        help="after segmenting, write <mask>_objects.csv and _summary.csv for each new mask")


def measure_masks(masks: Sequence[Path], report: Callable[[str], None] = print) -> int:
    """Measure freshly written masks (tables replaced); 0 when all succeed, else 1.

    ``report`` gets the line of each mask measured; the ``failed: <mask>: ...`` line of each that could
    not be goes to stderr, as ``batchseg measure`` and ``segment --track`` say them (a trial: it was
    ``measure failed: ...`` on stdout, missed by ``2> errors.txt``).
    """
    from .measure import measure_file, measurement_paths

    status = 0
    progress = BatchProgress(masks, [measurement_paths(mask)[0] for mask in masks])  # objects: last
    try:
        for mask in progress:
            try:
                res = measure_file(mask, overwrite=True)
            except BatchSegError as exc:
                print(f"failed: {about(mask, exc)}", file=sys.stderr)
                status = 1
                continue
            report(f"{mask}: measured {res.n_objects} objects -> {res.objects_csv.name}")
    except KeyboardInterrupt as exc:  # SIGINT/SIGTERM (cli_stop)
        progress.report_stop(exc, "mask", "measured")
    return status


def measure_after_segment(session: Any, args: argparse.Namespace) -> int:
    """``segment --measure``: measure every mask the run wrote (``session.tasks`` in state ``done``).

    Returns 0 when there is nothing to do or all succeed, 1 when a measurement failed.
    """
    if not getattr(args, "measure", False):
        return 0
    done = [Path(s.mask_path) for s in session.tasks if s.status == "done" and s.mask_path]
    return measure_masks(done)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one downstream subcommand on its own (``python -m napari_batchseg.cli_downstream``)."""
    parser = argparse.ArgumentParser(prog="batchseg")
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.downstream
    try:
        with signals_stop(keep_ignored=argv is None):  # as batchseg: SIGINT/SIGTERM say how far it got
            return handler(args)
    except KeyboardInterrupt as exc:
        return stop_status(exc)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
