"""Train napari-batchseg's small offline starter model for fluorescent nuclei (Cellpose 3).

The model is trained from scratch, on CPU, on synthetic images that this script draws itself
(seeded, so a run is reproducible up to floating-point differences between machines). Nothing is
downloaded and no real image is used for training; the real DSB2018 image shipped with ``stardist``
is used only to *measure* the result.

Usage (from the repository root)::

    python examples/train_starter_model.py                 # train, save, evaluate
    python examples/train_starter_model.py --evaluate-only # evaluate the saved model

The script writes its training folder (96 images, seed) and a validation folder (8 images, seed + 1)
as ``<name>.tif`` + ``<name>_masks.tif`` pairs, then trains with the project's own command,
``batchseg train TRAIN --validation VALIDATION --from scratch ...`` (printed when it runs), which
calls Cellpose's ``train_seg``. The weights are written in half precision to
``examples/models/batchseg_nuclei_cp3`` (a plain Cellpose 3 model file:
``CellposeModel(pretrained_model=<that path>)`` loads it), with ``batchseg_nuclei_cp3.json`` beside it.

The synthetic images imitate widefield/confocal nuclear stains (DAPI/Hoechst): bright, roughly
elliptical blobs of varied size, shape, texture and brightness, some touching, a few small very
bright ones (mitotic-like) and a few out-of-focus dim ones, on a dark, slightly uneven background,
blurred by a point-spread function and with shot and read noise. Every blob is labelled.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "models" / "batchseg_nuclei_cp3"

SEED = 20240611
N_TRAIN = 96
N_VAL = 8
SIZE = 256
DIAM_MEAN = 17.0  # objects are rescaled to this diameter inside the network (like Cellpose "nuclei")


# --------------------------------------------------------------------------- synthetic data
def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Zero-mean, unit-std smooth random field."""
    field = ndi.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return (field - field.mean()) / (field.std() + 1e-8)


def _blob_mask(rng: np.random.Generator, diameter: float) -> np.ndarray:
    """Boolean mask of one nucleus-like shape (a wobbly, rotated ellipse) in its own box."""
    aspect = rng.uniform(0.5, 1.0)  # minor / major
    a = diameter / 2 / np.sqrt(aspect)  # semi-major
    b = diameter / 2 * np.sqrt(aspect)  # semi-minor
    theta = rng.uniform(0, np.pi)
    half = int(np.ceil(a * 1.25)) + 2
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float64)
    xr = xx * np.cos(theta) + yy * np.sin(theta)
    yr = -xx * np.sin(theta) + yy * np.cos(theta)
    phi = np.arctan2(yr / b, xr / a)
    wobble = 1.0
    for k in (2, 3, 4, 5):  # low harmonics: bean, kidney and slightly lobed shapes
        wobble = wobble + rng.normal(0, 0.035) * np.cos(k * phi + rng.uniform(0, 2 * np.pi))
    r = np.sqrt((xr / a) ** 2 + (yr / b) ** 2)
    return r <= wobble


def synth_image(rng: np.random.Generator, size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic nuclei image (float32) and its label image (uint16)."""
    labels = np.zeros((size, size), np.uint16)
    signal = np.zeros((size, size), np.float64)
    blurred_signal = np.zeros((size, size), np.float64)
    typical = rng.uniform(14, 30)  # typical diameter of this image
    density = rng.uniform(0.15, 0.55)  # fraction of the area the nuclei try to cover
    target = int(density * size * size / (np.pi * typical**2 / 4))
    nlab = 0
    tries = 0
    while nlab < target and tries < target * 30:
        tries += 1
        kind = rng.random()
        if kind < 0.07:  # small, very bright, compact (mitotic / apoptotic)
            d = typical * rng.uniform(0.35, 0.6)
            bright = rng.uniform(2.5, 5.0)
        else:
            d = typical * np.exp(rng.normal(0, 0.18))
            bright = np.exp(rng.normal(0, 0.35))
        d = float(np.clip(d, 5, 60))
        mask = _blob_mask(rng, d)
        h, w = mask.shape
        y0 = int(rng.integers(-h // 2, size - h // 2))
        x0 = int(rng.integers(-w // 2, size - w // 2))
        ys, xs = slice(max(y0, 0), min(y0 + h, size)), slice(max(x0, 0), min(x0 + w, size))
        sub = mask[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0]
        if sub.sum() < 12:
            continue
        occupied = labels[ys, xs] > 0
        overlap = (sub & occupied).sum() / sub.sum()
        if overlap > 0.12:  # touching and slightly overlapping nuclei are allowed
            continue
        own = sub & ~occupied
        if own.sum() < 12:
            continue
        nlab += 1
        labels[ys, xs][own] = nlab
        # texture: chromatin-like granularity plus a smooth gradient across the nucleus
        tex = 1.0 + rng.uniform(0.03, 0.2) * _smooth_noise(rng, own.shape, rng.uniform(0.8, 2.0))
        tex *= 1.0 + rng.uniform(0, 0.2) * _smooth_noise(rng, own.shape, max(d / 3, 2))
        obj = np.where(own, bright * np.clip(tex, 0.2, None), 0.0)
        if rng.random() < 0.12:  # out of focus: dimmer, much softer
            blurred_signal[ys, xs] += 0.6 * ndi.gaussian_filter(obj, rng.uniform(1.5, 3.0))
        else:
            signal[ys, xs] += obj
    psf = rng.uniform(0.6, 1.6)
    image = ndi.gaussian_filter(signal, psf) + blurred_signal
    # background: offset, slow gradient/haze, faint unlabelled debris
    bg_level = rng.uniform(0.05, 0.35)
    haze = bg_level * (1 + 0.5 * _smooth_noise(rng, (size, size), size / 4))
    image = image + np.clip(haze, 0, None)
    # camera: gain, shot noise, read noise, offset
    photons = rng.uniform(20, 400)
    image = rng.poisson(np.clip(image, 0, None) * photons).astype(np.float64) / photons
    image += rng.normal(0, rng.uniform(0.005, 0.04), image.shape)
    image = image * rng.uniform(200, 3000) + rng.uniform(0, 500)
    return image.astype(np.float32), labels


def synth_set(seed: int, n: int, size: int = SIZE) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``n`` seeded synthetic images and labels."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for _ in range(n):
        img, lab = synth_image(rng, size)
        images.append(img)
        labels.append(lab)
    return images, labels


# --------------------------------------------------------------------------- training
def write_pairs(folder: Path, seed: int, n: int) -> Path:
    """Write ``n`` seeded synthetic images as ``imgNNN.tif`` + ``imgNNN_masks.tif`` (Cellpose's layout)."""
    import tifffile

    folder.mkdir(parents=True, exist_ok=True)
    images, labels = synth_set(seed, n)
    for i, (img, lab) in enumerate(zip(images, labels, strict=True)):
        tifffile.imwrite(folder / f"img{i:03d}.tif", img)
        tifffile.imwrite(folder / f"img{i:03d}_masks.tif", lab)
    return folder


def train_command(
    train_dir: Path, val_dir: Path, out: Path, n_epochs: int, nimg_per_epoch: int, learning_rate: float,
    seed: int, bsize: int,
) -> list[str]:
    """The ``batchseg train`` arguments that make the starter model from the two folders."""
    return [
        str(train_dir), "--validation", str(val_dir), "--output", str(out), "--overwrite",
        "--from", "scratch", "--diam-mean", str(DIAM_MEAN), "--epochs", str(n_epochs),
        "--images-per-epoch", str(nimg_per_epoch), "--batch-size", "8", "--crop-size", str(bsize),
        "--learning-rate", str(learning_rate), "--weight-decay", "1e-4", "--seed", str(seed),
        "--min-masks", "1", "--half",
    ]


def train(
    out: Path,
    n_epochs: int,
    nimg_per_epoch: int,
    learning_rate: float,
    seed: int,
    bsize: int,
    threads: int,
    data_dir: Path | None = None,
) -> dict:
    """Build the training folder, then train from scratch with ``batchseg train``; return its facts.

    The 96 training images (seed) and 8 validation images (seed + 1) are written as
    ``<name>.tif`` + ``<name>_masks.tif`` pairs; ``batchseg train`` (``napari_batchseg.cli_train``) then
    runs Cellpose's ``train_seg`` on them and writes the model (float16 weights) with
    ``<model>.json`` beside it (provenance: files and hashes, parameters, losses, validation AP).
    """
    import torch

    try:
        from napari_batchseg import cli_train
    except ImportError:  # a checkout without the package installed
        sys.path.insert(0, str(HERE.parent / "src"))
        from napari_batchseg import cli_train

    if threads > 0:
        torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(data_dir) if data_dir else Path(tmp)
        t0 = time.perf_counter()
        train_dir = write_pairs(root / "train", seed, N_TRAIN)
        val_dir = write_pairs(root / "validation", seed + 1, N_VAL)
        t_data = time.perf_counter() - t0
        argv = train_command(train_dir, val_dir, out, n_epochs, nimg_per_epoch, learning_rate, seed, bsize)
        print("batchseg train " + " ".join(argv), flush=True)
        t1 = time.perf_counter()
        status = cli_train.main(argv)
        t_train = time.perf_counter() - t1
    if status != 0:
        raise SystemExit(f"batchseg train failed (exit status {status})")
    prov = json.loads(out.with_name(out.name + ".json").read_text(encoding="utf-8"))
    return {
        "command": "batchseg train " + " ".join(argv),
        "seed": seed,
        "n_train_images": N_TRAIN,
        "image_size": SIZE,
        "n_epochs": n_epochs,
        "nimg_per_epoch": nimg_per_epoch,
        "batch_size": 8,
        "crop_size": bsize,
        "learning_rate": learning_rate,
        "diam_mean": DIAM_MEAN,
        "diam_labels": prov["model"]["diam_labels"],
        "final_train_loss": float(np.mean(prov["losses"]["train"][-5:])),
        "validation_ap_0.5": prov["validation"]["after"]["ap"],
        "seconds_data": round(t_data, 1),
        "seconds_training": round(t_train, 1),
        "versions": prov["versions"],
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "sha256": prov["model"]["sha256"],
    }


# --------------------------------------------------------------------------- evaluation
def _f1_at(masks_true: np.ndarray, masks_pred: np.ndarray, thresholds: list[float]) -> dict:
    from cellpose import metrics

    ap, tp, fp, fn = metrics.average_precision(masks_true, masks_pred, threshold=thresholds)
    res = {}
    for i, t in enumerate(thresholds):
        f1 = 2 * tp[i] / max(2 * tp[i] + fp[i] + fn[i], 1)
        res[f"{t:.2f}"] = {
            "AP": round(float(ap[i]), 3),
            "F1": round(float(f1), 3),
            "TP": int(tp[i]),
            "FP": int(fp[i]),
            "FN": int(fn[i]),
        }
    return res


def evaluate(weights: Path) -> dict:
    """Accuracy on the real DSB2018 image (not used for training) and on held-out synthetic images."""
    import fastremap
    import tifffile
    from cellpose import models

    model = models.CellposeModel(gpu=False, pretrained_model=str(weights))
    results: dict = {"diam_labels": float(model.diam_labels), "diam_mean": float(model.diam_mean)}
    thresholds = [0.5, 0.75]

    img_path = HERE / "data" / "dsb2018_nuclei.tif"
    gt_path = HERE / "groundtruth" / "dsb2018_nuclei_masks.tif"
    if not (img_path.is_file() and gt_path.is_file()):  # the committed copies; say so if they are gone
        results["dsb2018"] = f"unavailable: {img_path} or {gt_path} missing"
    else:
        img = tifffile.imread(img_path).astype(np.float32)
        gt = fastremap.renumber(tifffile.imread(gt_path))[0]  # ids 1..N (the file skips some)
        for name, diameter in (("diameter=0 (training diameter)", None), ("diameter=24", 24.0)):
            t0 = time.perf_counter()
            masks = model.eval(img, channels=[0, 0], diameter=diameter)[0]
            secs = time.perf_counter() - t0
            results[f"dsb2018 {name}"] = {
                "n_true": int(len(np.unique(gt)) - 1),
                "n_pred": int(masks.max()),
                "seconds": round(secs, 2),
                **_f1_at(gt, masks, thresholds),
            }

    images, labels = synth_set(SEED + 1, N_VAL)
    preds = [model.eval(im, channels=[0, 0], diameter=None)[0] for im in images]
    from cellpose import metrics

    ap, tp, fp, fn = metrics.average_precision(labels, preds, threshold=thresholds)
    tp, fp, fn = tp.sum(0), fp.sum(0), fn.sum(0)
    results["synthetic held-out (seed+1, 8 images)"] = {
        f"{t:.2f}": {"F1": round(float(2 * tp[i] / (2 * tp[i] + fp[i] + fn[i])), 3)}
        for i, t in enumerate(thresholds)
    }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="weights file to write")
    parser.add_argument("--epochs", type=int, default=120)
    parser.add_argument("--nimg-per-epoch", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=0.005)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--crop", type=int, default=112, help="training crop size (pixels)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--data-dir", type=Path, help="keep the training folders here (default: temporary)")
    parser.add_argument("--evaluate-only", action="store_true")
    parser.add_argument("--preview", type=Path, help="save a PNG of a few synthetic images and stop")
    args = parser.parse_args(argv)

    if args.preview:
        from PIL import Image

        images, labels = synth_set(args.seed, 4)
        tiles = []
        for im, lab in zip(images, labels, strict=True):
            lo, hi = np.percentile(im, [1, 99.5])
            tiles.append(np.clip((im - lo) / (hi - lo), 0, 1))
            tiles.append((lab > 0) * 0.5 + (ndi.morphological_gradient(lab, 3) > 0) * 0.5)
        grid = np.concatenate([np.concatenate(tiles[i : i + 2], 1) for i in range(0, 8, 2)], 0)
        Image.fromarray((grid * 255).astype(np.uint8)).save(args.preview)
        return 0

    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    facts: dict = {}
    if not args.evaluate_only:
        facts["training"] = train(
            args.out,
            args.epochs,
            args.nimg_per_epoch,
            args.learning_rate,
            args.seed,
            args.crop,
            args.threads,
            args.data_dir,
        )
        print(json.dumps(facts["training"], indent=2))
    facts["evaluation"] = evaluate(args.out)
    print(json.dumps(facts, indent=2))
    print(f"weights: {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
