"""Training speed and peak memory: ``train_model`` (this project) vs bare ``cellpose.train.train_seg``.

All runs fine-tune the project's starter model on the same crops of the real DSB2018 image with its ground
truth (train and validation frames, same settings), each in a fresh process so that peak memory (VmHWM) is
its own:

* ``bare``: ``CellposeModel(pretrained_model=...)`` then ``train_seg(model.net, ...)`` with the validation
  frames as ``test_data``: what Cellpose's own command line does.
* ``bare_nomkldnn``: the same with ``net.mkldnn = False``, as the wrapper trains (Cellpose's CPU inference
  turns layers into MKLDNN layers in place; a network that was evaluated cannot be trained otherwise).
* ``wrapper``: :func:`napari_batchseg.training.train_model`: base-model validation AP, flows, the same
  ``train_seg`` call with per-epoch train and validation loss, cancel checks, then atomic save, reload
  and validation AP of the new model, provenance.

Epochs/s counts the ``train_seg`` call only (the wrapper's per-epoch validation loss runs inside it);
"total s" is the whole process's work after imports. The ratio line compares the wrapper with each bare run.

Usage::

    python benchmarks/bench_train.py                    # 5 epochs, 8 train + 4 validation crops of 128 px
    python benchmarks/bench_train.py --epochs 20 --repeats 2 --gpu
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, STARTER, machine, peak_rss_mib  # noqa: E402

MODES = ("bare", "bare_nomkldnn", "wrapper")


def _tiles(n: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    import tifffile

    img = tifffile.imread(ROOT / "examples" / "data" / "dsb2018_nuclei.tif")
    gt = tifffile.imread(ROOT / "examples" / "groundtruth" / "dsb2018_nuclei_masks.tif")
    starts = range(0, img.shape[0] - size + 1, size)
    tiles = [(y, x) for y in starts for x in starts][:n]
    if len(tiles) < n:
        sys.exit(f"only {len(tiles)} tiles of {size} px fit the 512x512 image")
    return (np.stack([img[y:y + size, x:x + size] for y, x in tiles]).astype(np.float32),
            np.stack([gt[y:y + size, x:x + size] for y, x in tiles]))


def child(mode: str, args: argparse.Namespace) -> dict:
    import torch

    from napari_batchseg.training import frames_from_arrays

    t_start = time.perf_counter()
    images, labels = _tiles(args.train + args.validation, args.tile)
    n = args.train
    train_data = frames_from_arrays(images[:n], labels[:n], "dsb-train", min_masks=1)
    val_data = frames_from_arrays(images[n:], labels[n:], "dsb-validation", min_masks=1)
    train, val = train_data.frames, val_data.frames
    torch.manual_seed(0)
    np.random.seed(0)
    if mode == "wrapper":
        from napari_batchseg.training import TrainingParams, train_model

        params = TrainingParams(
            base_model=str(STARTER), epochs=args.epochs, batch_size=args.batch_size,
            images_per_epoch=args.images_per_epoch, crop_size=args.crop, validation_fraction=0.5,
            min_masks=1, gpu=args.gpu,
        )
        with tempfile.TemporaryDirectory() as tmp:
            result = train_model(train_data, Path(tmp) / "model", params, remember=False,
                                 validation=val_data)
        seconds_train = result.provenance["seconds"]["training"]
        extra = {"ap_before": result.before.ap if result.before else None, "ap_after": result.after.ap}
    else:
        from cellpose import models
        from cellpose import train as cp_train

        from napari_batchseg.devices import pick_device

        choice = pick_device(args.gpu)
        model = models.CellposeModel(gpu=choice.is_gpu, pretrained_model=str(STARTER), device=choice.device)
        if mode == "bare_nomkldnn":
            model.net.mkldnn = False
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            cp_train.train_seg(
                model.net, train_data=[f.image for f in train], train_labels=[f.labels for f in train],
                test_data=[f.image for f in val], test_labels=[f.labels for f in val], channels=[0, 0],
                normalize=True, batch_size=args.batch_size, n_epochs=args.epochs,
                nimg_per_epoch=args.images_per_epoch, bsize=args.crop, min_train_masks=0,
                save_path=tmp, save_every=10**9, model_name="bench",
            )
            seconds_train = time.perf_counter() - t0
        extra = {}
    return {
        "mode": mode,
        "epochs_per_s": args.epochs / seconds_train,
        "seconds_train": seconds_train,
        "seconds_total": time.perf_counter() - t_start,
        "peak_rss_mib": peak_rss_mib(),
        **extra,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--train", type=int, default=8, help="training crops")
    p.add_argument("--validation", type=int, default=4, help="validation crops")
    p.add_argument("--tile", type=int, default=128, help="crop side cut from the image")
    p.add_argument("--crop", type=int, default=128, help="training crop side (train_seg bsize)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--images-per-epoch", type=int, default=8)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--gpu", action="store_true")
    p.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    p.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args)))
        return 0
    print(machine())
    print(f"{args.epochs} epochs; {args.train} train + {args.validation} validation crops of {args.tile} px; "
          f"{args.images_per_epoch} images/epoch, batch {args.batch_size}, training crop {args.crop} px; "
          f"{'GPU' if args.gpu else 'CPU'}")
    passthrough = [a for a in sys.argv[1:] if not a.startswith("--modes")]
    passthrough = [a for a in passthrough if a not in MODES]
    results: dict[str, list[dict]] = {m: [] for m in args.modes}
    for _ in range(args.repeats):  # round robin: load changes hit every mode alike
        for mode in args.modes:
            proc = subprocess.run([sys.executable, __file__, *passthrough, "--child", mode],
                                  capture_output=True, text=True, check=False)
            if proc.returncode:
                sys.exit(f"{mode} failed:\n{proc.stderr[-3000:]}")
            results[mode].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    best = {m: max(r, key=lambda d: d["epochs_per_s"]) for m, r in results.items()}
    print(f"{'mode':<15} {'epochs/s':>9} {'train s':>8} {'total s':>8} {'peak MiB':>9}  notes")
    for mode, r in best.items():
        note = (f"validation AP@0.5 {r['ap_before']:.3f} -> {r['ap_after']:.3f}" if "ap_after" in r else "")
        print(f"{mode:<15} {r['epochs_per_s']:>9.3f} {r['seconds_train']:>8.1f} {r['seconds_total']:>8.1f} "
              f"{r['peak_rss_mib']:>9.0f}  {note}")
    if "wrapper" in best:
        w = best["wrapper"]
        for mode in ("bare", "bare_nomkldnn"):
            if mode in best:
                b = best[mode]
                print(f"wrapper / {mode}: epochs/s {w['epochs_per_s'] / b['epochs_per_s']:.2f}x, "
                      f"peak memory {w['peak_rss_mib'] / b['peak_rss_mib']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
