"""Measurements: objects/s and peak memory of `measure_file` for a 50- vs a 500-frame movie.

The movie frames are crops of the real DSB2018 image and the same crops of its manual ground truth
(written as a mask with the project's mask writer), so every frame has real nuclei. Each size is
measured in a fresh child process: its peak resident memory (VmHWM) and Python's own peak allocation
(tracemalloc) are reported, then the 500/50 ratios (goal: memory ratio close to 1, i.e. streamed).

    python benchmarks/bench_measure.py [--frames 50 500] [--size 256]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import tifffile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, machine, peak_rss_mib  # noqa: E402


def movie_with_labels(n: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` crops of the DSB2018 image and the same crops of its ground truth."""
    img = tifffile.imread(ROOT / "examples" / "data" / "dsb2018_nuclei.tif")
    gt = tifffile.imread(ROOT / "examples" / "groundtruth" / "dsb2018_nuclei_masks.tif")
    rng = np.random.default_rng(seed)
    frames = np.empty((n, size, size), img.dtype)
    labels = np.empty((n, size, size), np.uint16)
    for i in range(n):
        y, x = rng.integers(0, img.shape[0] - size + 1), rng.integers(0, img.shape[1] - size + 1)
        a, b = np.rot90(img[y:y + size, x:x + size], i % 4), np.rot90(gt[y:y + size, x:x + size], i % 4)
        frames[i], labels[i] = (np.fliplr(a), np.fliplr(b)) if (i // 4) % 2 else (a, b)
    return frames, labels


def child(folder: str) -> None:
    """Measure the movie in ``folder`` and print a JSON line (runs in its own process)."""
    from napari_batchseg.measure import measure_file

    folder_path = Path(folder)
    tracemalloc.start()
    t0 = time.perf_counter()
    res = measure_file(folder_path / "movie_vSM.ome.tif", image=folder_path / "movie.ome.tif",
                       output_dir=folder_path / "out", overwrite=True)
    seconds = time.perf_counter() - t0
    _, py_peak = tracemalloc.get_traced_memory()
    print(json.dumps({"objects": res.n_objects, "frames": res.n_frames, "seconds": seconds,
                      "rss_mib": peak_rss_mib(), "py_peak_mib": py_peak / 2**20}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, nargs=2, default=[50, 500])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return
    from napari_batchseg.io.masks import write_mask

    print(machine())
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.frames:
            folder = Path(tmp) / f"n{n}"
            folder.mkdir()
            frames, labels = movie_with_labels(n, args.size)
            tifffile.imwrite(folder / "movie.ome.tif", frames, ome=True, metadata={"axes": "TYX"})
            write_mask(folder / "movie_vSM.ome.tif", labels)
            del frames, labels
            out = subprocess.run([sys.executable, __file__, "--child", str(folder)], check=True,
                                 capture_output=True, text=True).stdout.strip().splitlines()[-1]
            r = json.loads(out)
            results[n] = r
            print(f"{n:4d} frames: {r['objects']:6d} objects in {r['seconds']:.2f} s = "
                  f"{r['objects'] / r['seconds']:.0f} objects/s; peak RSS {r['rss_mib']:.1f} MiB, "
                  f"Python peak (tracemalloc) {r['py_peak_mib']:.1f} MiB")
    a, b = (results[n] for n in args.frames)
    speed = (b["objects"] / b["seconds"]) / (a["objects"] / a["seconds"])
    print(f"ratio {args.frames[1]}/{args.frames[0]}: objects/s {speed:.2f}, peak RSS "
          f"{b['rss_mib'] / a['rss_mib']:.3f}, Python peak {b['py_peak_mib'] / a['py_peak_mib']:.3f}")


if __name__ == "__main__":
    main()
