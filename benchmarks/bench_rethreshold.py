"""Re-threshold from kept flows vs the full run, and one 512x512 frame re-thresholded on the CPU.

1. A batch (a multi-frame OME-TIFF of crops of the real nuclei image) is segmented with the project's
   model and ``--keep-flows`` (``batchseg segment`` in this process: plan, model load, reading,
   segmentation, writing); then ``batchseg rethreshold`` recomputes all its masks with other
   thresholds. Printed: both times (wall and CPU seconds of this process) and their ratio (goal: the
   re-threshold costs < 10% of the full run). The re-thresholded masks are checked against a full run
   with the same thresholds (identical, pixel for pixel).
2. The real 512x512 DSB2018 image is segmented with ``--keep-flows``, then
   :func:`~napari_batchseg.segmenters.cellpose.rethreshold.rethreshold_frame` (what the widget's
   threshold sliders call) is timed on its kept flows (median of ``--repeat``; goal < 200 ms on CPU).

Usage::

    python benchmarks/bench_rethreshold.py                   # 12 frames of 256x256, repeat 5
    python benchmarks/bench_rethreshold.py --frames 24 --size 256 --repeat 9
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, Timer, machine, model_path, write_movie  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--model", default=None)
    ap.add_argument("--cellprob-threshold", type=float, default=-1.0)
    ap.add_argument("--flow-threshold", type=float, default=0.8)
    ap.add_argument("--min-size", type=int, default=30)
    args = ap.parse_args()
    model = model_path(args.model)

    from napari_batchseg.cli import main as batchseg
    from napari_batchseg.io.masks import read_mask
    from napari_batchseg.rethreshold_run import read_kept_flows
    from napari_batchseg.segmenters.cellpose.rethreshold import Thresholds, rethreshold_frame

    new = ["--cellprob-threshold", str(args.cellprob_threshold), "--flow-threshold",
           str(args.flow_threshold), "--min-size", str(args.min_size)]
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        movie = write_movie(folder / "movie.ome.tif", args.frames, args.size)
        base = ["segment", str(movie), "--model", model, "--diameter", "17", "--output-dir", str(folder),
                "--quiet"]
        with Timer() as full:
            assert batchseg([*base, "--keep-flows"]) == 0
        with Timer() as again:
            assert batchseg(["rethreshold", str(folder / "movie_vSM.log"), "--suffix", "rt", *new]) == 0
        assert batchseg([*base, "--suffix", "full", *new]) == 0
        same = np.array_equal(read_mask(folder / "movie_vSM-rt.ome.tif").labels,
                              read_mask(folder / "movie_vSM-full.ome.tif").labels)
        dp_bytes = (folder / "movie_vSM_dP.tif").stat().st_size
        cp_bytes = (folder / "movie_vSM_cellprob.tif").stat().st_size
        pixels = args.frames * args.size * args.size
        print(f"batch: {args.frames} frames of {args.size}x{args.size}")
        print(f"  full run (segment --keep-flows): {full.seconds:.2f} s wall, {full.cpu:.2f} s CPU")
        print(f"  rethreshold:                     {again.seconds:.2f} s wall, {again.cpu:.2f} s CPU")
        print(f"  ratio rethreshold / full run: {again.seconds / full.seconds:.3f} wall, "
              f"{again.cpu / full.cpu:.3f} CPU (goal < 0.10)")
        print(f"  masks equal to a full run with those thresholds: {same}")
        print(f"  kept flows on disk: {(dp_bytes + cp_bytes) / 2**20:.2f} MiB "
              f"({(dp_bytes + cp_bytes) / pixels:.2f} bytes per pixel per frame; mask "
              f"{(folder / 'movie_vSM.ome.tif').stat().st_size / 2**20:.2f} MiB)")

        image = ROOT / "examples" / "data" / "dsb2018_nuclei.tif"
        assert batchseg(["segment", str(image), "--model", model, "--output-dir", str(folder),
                         "--keep-flows", "--quiet"]) == 0
        kept = read_kept_flows(folder / "dsb2018_nuclei_vSM.log")
        (_t, niter, dp, cellprob), = list(kept.frame_flows())
        thresholds = Thresholds(args.cellprob_threshold, args.flow_threshold, args.min_size)
        rethreshold_frame(dp, cellprob, thresholds, niter=niter)  # imports and first-call set-up
        walls, cpus = [], []
        for _ in range(args.repeat):
            with Timer() as one:
                rethreshold_frame(dp, cellprob, thresholds, niter=niter)
            walls.append(one.seconds)
            cpus.append(one.cpu)
            time.sleep(0.05)
        print(f"one 512x512 frame (real nuclei, {int(kept_objects(kept))} objects, niter {niter}): "
              f"median {statistics.median(walls) * 1000:.0f} ms wall (min {min(walls) * 1000:.0f}), "
              f"{statistics.median(cpus) * 1000:.0f} ms CPU, over {args.repeat} (goal < 200 ms)")


def kept_objects(kept: object) -> int:
    from napari_batchseg.io.masks import read_mask

    return int(read_mask(kept.mask_path).labels.max())  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
