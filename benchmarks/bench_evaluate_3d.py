"""Peak memory of evaluating volume masks (``TZYX``): a movie of volumes costs no more than one volume.

``batchseg evaluate`` scores a volume prediction against a volume ground truth one time point at a time
(one volume of each file in memory). Measured in one process with ``tracemalloc`` (which counts NumPy's
buffers): the peak while evaluating a one-volume pair (the baseline), then a ``T``-volume pair of the same
volume size; printed: both peaks, their ratio (goal: <= 1.2) and the peak as a multiple of one uint16
label volume (the working set of the matching: both volumes, their renumbered ``uint32`` copies and the
``int64`` pair index that the overlap counts are made from).

The masks are written here: blobs (dilated random seeds, labelled in 3D); the ground truth lacks object 1.

Usage::

    .venv/bin/python benchmarks/bench_evaluate_3d.py                 # 8 x 60 x 512 x 512
    .venv/bin/python benchmarks/bench_evaluate_3d.py --shape 4 30 384
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from napari_batchseg.evaluate import evaluate_files
from napari_batchseg.io.masks import MaskWriter


def blobs(shape: tuple[int, int, int], seed: int, n: int = 600) -> np.ndarray:
    """A ``(Z, Y, X)`` uint16 label volume of about ``n`` blobs."""
    rng = np.random.default_rng(seed)
    seeds = np.zeros(shape, bool)
    seeds[rng.integers(0, shape[0], n), rng.integers(0, shape[1], n), rng.integers(0, shape[2], n)] = True
    labels, _ = ndi.label(ndi.binary_dilation(seeds, iterations=4))
    return labels.astype(np.uint16)


def write_pair(folder: Path, n_t: int, shape: tuple[int, int, int]) -> tuple[Path, Path]:
    """A prediction and its ground truth (object 1 of each volume dropped), ``n_t`` volumes each."""
    paths = (folder / f"pred{n_t}.ome.tif", folder / f"gt{n_t}.ome.tif")
    writers = [MaskWriter(p, n_t, shape) for p in paths]
    for t in range(n_t):
        volume = blobs(shape, t)
        writers[0].write_frame(t, volume)
        writers[1].write_frame(t, np.where(volume == 1, 0, volume).astype(np.uint16))
    for w in writers:
        w.commit()
    return paths


def peak_of(pair: tuple[Path, Path]) -> tuple[int, float, int]:
    """(peak traced bytes, seconds, rows) of evaluating ``pair``."""
    tracemalloc.start()
    t0 = time.perf_counter()
    table = evaluate_files([pair])
    seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, seconds, len(table) - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", nargs=3, type=int, metavar=("T", "Z", "SIDE"), default=(8, 60, 512))
    args = parser.parse_args()
    n_t, nz, side = args.shape
    shape = (nz, side, side)
    one = nz * side * side * 2
    with tempfile.TemporaryDirectory() as tmp:
        base = peak_of(write_pair(Path(tmp), 1, shape))
        movie = peak_of(write_pair(Path(tmp), n_t, shape))
    print(f"volume {nz} x {side} x {side} (uint16 labels: {one / 1e6:.1f} MB)")
    print(f"1 volume : peak {base[0] / 1e6:7.1f} MB ({base[0] / one:.1f} x one volume), {base[1]:.1f} s")
    print(f"{n_t} volumes: peak {movie[0] / 1e6:7.1f} MB ({movie[0] / one:.1f} x one volume), "
          f"{movie[1]:.1f} s, {movie[2]} rows")
    print(f"ratio movie / one volume: {movie[0] / base[0]:.2f} (goal <= 1.2)")


if __name__ == "__main__":
    main()
