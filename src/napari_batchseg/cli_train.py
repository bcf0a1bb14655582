"""``batchseg train``: train or fine-tune a Cellpose model from masks (human in the loop).

Registered in ``batchseg`` by :func:`add_subcommand`; also runs alone as
``python -m napari_batchseg.cli_train INPUTS... --output MODEL``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .cli_stop import report_stop, signals_stop, stop_status
from .errors import BatchSegError, CancelledError
from .io.atomic import file_identity
from .params import ParameterError

DESCRIPTION = (
    "Train or fine-tune a Cellpose model with cellpose.train.train_seg from _vSM.ome.tif masks (their "
    "inputs prepared as their logs say) and/or <name>.tif + <name>_masks.tif pairs. Writes the model "
    "(a plain Cellpose model file) and MODEL.json (provenance: files and frames with sha256, every "
    "parameter, base model and hash, versions, device, per-epoch losses, validation AP@0.5 before and after)."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the options of ``batchseg train`` to ``p``."""
    p.add_argument("inputs", nargs="+", metavar="INPUTS",
                   help="_vSM.ome.tif masks, <name>_masks.tif files, images with a _masks partner, folders")
    p.add_argument("--output", "-o", required=True, metavar="MODEL", help="model file to write")
    p.add_argument("--overwrite", action="store_true", help="replace MODEL if it exists")
    p.add_argument("--from", dest="base_model", default="cyto3", metavar="BASE",
                   help="model to start from: a Cellpose built-in name (cyto3, nuclei, ...), a model file, "
                        "or 'scratch' (default: cyto3)")
    p.add_argument("--epochs", type=int, default=100, help="training epochs (default: 100)")
    p.add_argument("--learning-rate", type=float, default=None,
                   help="learning rate (default: 0.001 to fine-tune a model with AdamW, else 0.005)")
    p.add_argument("--weight-decay", type=float, default=1e-5, help="AdamW weight decay (default: 1e-5)")
    p.add_argument("--optimizer", choices=("adamw", "sgd"), default="adamw",
                   help="AdamW (default) or SGD with momentum 0.9 (Cellpose's GUI fine-tunes with SGD, "
                        "--learning-rate 0.1 --weight-decay 1e-4)")
    p.add_argument("--batch-size", type=int, default=8, help="crops per optimizer step (default: 8)")
    p.add_argument("--images-per-epoch", type=int, default=None,
                   help="training images drawn per epoch (default: each training frame once)")
    p.add_argument("--crop-size", type=int, default=224, help="training crop side in pixels (default: 224)")
    p.add_argument("--validation-fraction", type=float, default=0.2,
                   help="share of frames (or files, see --split) held out for validation (default: 0.2)")
    p.add_argument("--validation", action="append", default=None, metavar="PATH",
                   help="held-out validation masks/folders (repeatable) instead of a split of INPUTS")
    p.add_argument("--split", choices=("frame", "file"), default="frame",
                   help="validation split by frame (default) or by file")
    p.add_argument("--seed", type=int, default=0, help="seed of the split and of training (default: 0)")
    p.add_argument("--min-masks", type=int, default=5,
                   help="skip (and report) frames with fewer objects (default: 5)")
    p.add_argument("--frames", default="all",
                   help="frames of the training INPUTS: 'all' (default), 'corrected' (frames a correction "
                        "record of the mask's log names) or 0-based mask frame indices such as 0,3-5")
    p.add_argument("--validation-frames", default="all", metavar="FRAMES",
                   help="frames of the --validation files, as --frames (default: all)")
    p.add_argument("--axes", default=None, metavar="AXES",
                   help="axis order override for ambiguous masks, e.g. TYX for a plain multi-page TIFF whose "
                        "pages are time points (as segment's --axes)")
    p.add_argument("--force-labels", action="store_true",
                   help="use masks without a napari-batchseg log even where they look like intensity images "
                        "rather than labels")
    p.add_argument("--channel", type=int, default=0,
                   help="channel of multi-channel images in <name>.tif pairs (_vSM masks use their log's)")
    p.add_argument("--diam-mean", type=float, default=None,
                   help="with --from scratch: object diameter the network works at (default: 30)")
    p.add_argument("--half", action="store_true", help="store the weights in float16 (half the file size)")
    p.add_argument("--gpu", action=argparse.BooleanOptionalAction, default=False,
                   help="train on a GPU (CUDA or Apple MPS) when one is found")
    p.add_argument("--quiet", "-q", action="store_true", help="no per-epoch lines")


def add_subcommand(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Register ``train`` on ``batchseg``'s sub-parsers; ``args.func(args)`` runs it."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "train", help="train or fine-tune a Cellpose model from masks", description=DESCRIPTION
    )
    add_arguments(p)
    p.set_defaults(func=run)
    return p


def _err(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Run ``batchseg train``; returns 0 on success, 2 for bad input.

    Stopped by SIGINT (Ctrl-C) or SIGTERM (a batch system's time limit) inside :func:`.cli_stop.signals_stop`
    (``batchseg``, :func:`main`), it says so and raises :class:`.cli_stop.Stopped` (exit status 130 or
    143): nothing is saved, or, when the stop came after the model was put in place, where it is.
    """
    from .quiet_import import quiet_notices
    from .training import TrainingParams, collect_training_data, parse_frames, train_model
    from .training.run import TrainingProgress, check_output, provenance_path_for

    quiet_notices()
    try:
        params = TrainingParams(
            base_model=args.base_model, epochs=args.epochs, learning_rate=args.learning_rate,
            weight_decay=args.weight_decay, optimizer=args.optimizer, batch_size=args.batch_size,
            images_per_epoch=args.images_per_epoch, crop_size=args.crop_size,
            validation_fraction=args.validation_fraction, split=args.split, seed=args.seed,
            min_masks=args.min_masks, frames=parse_frames(args.frames), gpu=args.gpu,
            diam_mean=args.diam_mean, half_precision=args.half,
            validation_frames=parse_frames(args.validation_frames), axes=args.axes,
            force_labels=args.force_labels,
        )
        if args.validation_frames != "all" and not args.validation:
            raise ParameterError("--validation-frames applies to --validation files; none were given")
        check_output(args.output, args.overwrite)
        data = collect_training_data(args.inputs, params.frames, params.min_masks, args.channel,
                                     params.axes, params.force_labels)
        validation = (
            collect_training_data(args.validation, params.validation_frames, params.min_masks, args.channel,
                                  params.axes, params.force_labels)
            if args.validation else None
        )
    except (BatchSegError, ParameterError) as exc:
        _err(str(exc))
        return 2
    n_masks = len({f.group for f in data.frames})  # (not data.files: an image and its mask are two)
    print(f"{len(data.frames)} training frame(s) from {n_masks} mask(s)")
    for s in data.skipped:
        where = f" frame {s.index}" if s.index >= 0 else ""
        print(f"skipped {s.group}{where}: {s.reason}")

    def progress(event: TrainingProgress) -> None:
        if event.epoch is not None:
            if not args.quiet:
                print(f"epoch {event.epoch:>4}/{event.n_epochs}  train loss {event.train_loss:.4f}  "
                      f"validation loss {event.validation_loss:.4f}  lr {event.learning_rate:.6f}"
                      f"{' (warm-up)' if event.learning_rate == 0 else ''}  "  # (train_seg's first epoch)
                      f"{event.seconds:.1f} s", flush=True)
        elif event.stage != "done":
            print(event.message, flush=True)

    out = Path(args.output).expanduser().absolute()  # (as train_model and check_output name it)
    there_before = file_identity(out)
    try:
        # (Cellpose's tqdm bars: off a terminal, train_model hides them)
        result = train_model(data, args.output, params, progress=progress, overwrite=args.overwrite,
                             validation=validation)
        before = result.before
        print(f"validation AP@0.5 ({len(result.provenance['validation_frames'])} frame(s)): "
              + (f"base model {before.ap:.3f} (F1 {before.f1:.3f}), " if before else "")
              + f"new model {result.after.ap:.3f} (F1 {result.after.f1:.3f})")
        print(f"model: {result.model_path}")
        print(f"provenance: {result.provenance_path}")
        if result.worse_warning:
            print(f"warning: {result.worse_warning}", file=sys.stderr)
    except (BatchSegError, ParameterError) as exc:
        if isinstance(exc, CancelledError):
            _err(str(exc))
            return 1
        _err(str(exc))
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM (cli_stop): 130 or 143, as segment exits
        # train_model renames the model into place last (its provenance file first) and never removes it
        # once there: a model file that is new since the start is the trained one, with its provenance
        now = file_identity(out)
        if now is not None and now != there_before:
            report_stop(exc, f"training had finished; model saved: {out} (provenance: "
                             f"{provenance_path_for(out)})")
        report_stop(exc, "training interrupted; nothing saved"
                         + (" (the existing model is unchanged)" if there_before is not None else ""))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m napari_batchseg.cli_train``: the same as ``batchseg train``."""
    parser = argparse.ArgumentParser(prog="batchseg train", description=DESCRIPTION)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        with signals_stop(keep_ignored=argv is None):
            return run(args)
    except KeyboardInterrupt as exc:
        return stop_status(exc)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
