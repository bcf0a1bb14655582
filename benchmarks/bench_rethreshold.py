"""Re-threshold from kept flows vs the full run, and one 512x512 frame re-thresholded on the CPU.

1. A batch (a multi-frame OME-TIFF of crops of the real nuclei image) is segmented with the project's
   model and ``--keep-flows`` (``batchseg segment`` in this process: plan, model load, reading,
   segmentation, writing); then ``batchseg rethreshold`` recomputes all its masks with other
   thresholds. Printed: both times (wall and CPU seconds of this process) and their ratio (goal: the
   re-threshold costs < 10% of the full run). The re-thresholded masks are checked against a full run
   with the same thresholds (identical, pixel for pixel). ``--frame-only`` skips this part.
2. The real 512x512 DSB2018 image is segmented with ``--keep-flows`` (or ``--flows LOG`` reuses a run),
   then on its kept flows, in this process:

   * Cellpose's own ``resize_and_compute_masks`` (the reference: median of ``--repeat``) and the split
     of its time per stage (``steps_interp``, ``get_masks_torch``, ``remove_bad_flow_masks``,
     ``fill_holes_and_remove_small_masks``) beside this project's exact kernels for the two slow ones;
   * ``rethreshold_frame`` (one call, nothing cached: the batch's path);
   * the widget's slider steps on one :class:`FrameMasks`: cell probability steps of 0.1 *cold*
     (dynamics not computed yet), cell probability steps *computed ahead* (what the dock does while the
     sliders rest), flow threshold steps of 0.05 and minimum size steps of 1. Per kind: median and
     max wall ms, CPU ms, the ratio to Cellpose's time, and whether every step's labels equal
     Cellpose's (pixel for pixel). Goal: < 200 ms per step.

Usage::

    python benchmarks/bench_rethreshold.py                   # 12 frames of 256x256, repeat 5
    python benchmarks/bench_rethreshold.py --frames 24 --size 256 --repeat 9
    python benchmarks/bench_rethreshold.py --frame-only --steps 8
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Timer, kept_flows_run, machine, model_path, write_movie  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--model", default=None)
    ap.add_argument("--cellprob-threshold", type=float, default=-1.0)
    ap.add_argument("--flow-threshold", type=float, default=0.8)
    ap.add_argument("--min-size", type=int, default=30)
    ap.add_argument("--frame-only", action="store_true", help="skip part 1 (the batch)")
    ap.add_argument("--flows", default=None, help="a kept-flows run log of a frame (skips segmenting it)")
    ap.add_argument("--steps", type=int, default=6, help="slider steps timed per kind")
    args = ap.parse_args()
    model = model_path(args.model)

    from napari_batchseg.rethreshold_run import read_kept_flows
    from napari_batchseg.segmenters.cellpose.rethreshold import Thresholds

    new = ["--cellprob-threshold", str(args.cellprob_threshold), "--flow-threshold",
           str(args.flow_threshold), "--min-size", str(args.min_size)]
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if not args.frame_only:
            batch(folder, model, args.frames, args.size, new)
        log = Path(args.flows) if args.flows else kept_flows_run(folder, model)
        kept = read_kept_flows(log)
        (_t, niter, dp, cellprob), = list(kept.frame_flows())[:1]
        thresholds = Thresholds(args.cellprob_threshold, args.flow_threshold, args.min_size)
        print(f"one {cellprob.shape[0]}x{cellprob.shape[1]} frame ({log.name}, {kept_objects(kept)} objects, "
              f"niter {niter}); medians of {args.repeat}")
        reference = {}
        for th in (Thresholds(), thresholds):
            reference[th] = frame_reference(dp, cellprob, niter, th, args.repeat)
        one_call(dp, cellprob, niter, thresholds, args.repeat, reference[thresholds])
        slider_steps(dp, cellprob, niter, args.steps, reference[Thresholds()])


def batch(folder: Path, model: str, frames: int, size: int, new: list[str]) -> None:
    """Part 1: a batch segmented with kept flows, re-thresholded, compared with a full run."""
    from napari_batchseg.cli import main as batchseg
    from napari_batchseg.io.masks import read_mask

    movie = write_movie(folder / "movie.ome.tif", frames, size)
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
    pixels = frames * size * size
    print(f"batch: {frames} frames of {size}x{size}")
    print(f"  full run (segment --keep-flows): {full.seconds:.2f} s wall, {full.cpu:.2f} s CPU")
    print(f"  rethreshold:                     {again.seconds:.2f} s wall, {again.cpu:.2f} s CPU")
    print(f"  ratio rethreshold / full run: {again.seconds / full.seconds:.3f} wall, "
          f"{again.cpu / full.cpu:.3f} CPU (goal < 0.10)")
    print(f"  masks equal to a full run with those thresholds: {same}")
    print(f"  kept flows on disk: {(dp_bytes + cp_bytes) / 2**20:.2f} MiB "
          f"({(dp_bytes + cp_bytes) / pixels:.2f} bytes per pixel per frame; mask "
          f"{(folder / 'movie_vSM.ome.tif').stat().st_size / 2**20:.2f} MiB)")


def _median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def frame_reference(dp: np.ndarray, cellprob: np.ndarray, niter: int, th: Any, repeat: int) -> float:
    """Cellpose's ``resize_and_compute_masks`` (median wall ms) and its time per stage."""
    import torch
    from cellpose import dynamics, metrics, utils

    from napari_batchseg.segmenters.cellpose.exact_kernels import flow_errors, follow_flows, get_masks
    from napari_batchseg.segmenters.cellpose.rethreshold import cellpose_labels

    cellpose_labels(dp, cellprob, th, niter=niter)  # warm-up (numba, torch)
    follow_flows(dp, (np.zeros(1, np.int64), np.zeros(1, np.int64)), 1)  # compiles or loads our kernels
    flow_errors(np.ones((3, 3), np.uint16), np.zeros((2, 3, 3), np.float32))
    get_masks(np.zeros((2, 1), np.float32), (np.zeros(1, np.int64), np.zeros(1, np.int64)), (3, 3))
    cpu = torch.device("cpu")
    stages: dict[str, list[float]] = {k: [] for k in ("total", "steps_interp", "get_masks_torch",
                                                      "remove_bad_flow_masks", "fill_holes",
                                                      "exact follow_flows", "exact get_masks",
                                                      "exact flow_errors")}
    cpus = []
    for _ in range(repeat):
        with Timer() as whole:
            cellpose_labels(dp, cellprob, th, niter=niter)
        stages["total"].append(whole.seconds)
        cpus.append(whole.cpu)
        cell = cellprob > th.cellprob_threshold
        inds = np.nonzero(cell)
        flows = dp * cell / 5.
        with Timer() as t:
            p = dynamics.steps_interp(flows, inds, np.uint32(niter), device=cpu)
        stages["steps_interp"].append(t.seconds)
        with Timer() as t:
            ours = follow_flows(flows, inds, niter)
        stages["exact follow_flows"].append(t.seconds)
        assert np.array_equal(ours, p)
        with Timer() as t:
            mask = dynamics.get_masks_torch(torch.from_numpy(p).int(), inds, dp.shape[1:])
        stages["get_masks_torch"].append(t.seconds)
        with Timer() as t:
            ours_m = get_masks(p, inds, dp.shape[1:])
        stages["exact get_masks"].append(t.seconds)
        assert np.array_equal(ours_m, mask)
        with Timer() as t:
            kept = dynamics.remove_bad_flow_masks(mask.copy(), dp, threshold=th.flow_threshold, device=cpu)
        stages["remove_bad_flow_masks"].append(t.seconds)
        errors = metrics.flow_error(mask, dp, cpu)[0]
        with Timer() as t:
            ours_e = flow_errors(mask, dp)
        stages["exact flow_errors"].append(t.seconds)
        assert np.array_equal(ours_e, errors, equal_nan=True)
        with Timer() as t:
            utils.fill_holes_and_remove_small_masks(kept, min_size=th.min_size)
        stages["fill_holes"].append(t.seconds)
        time.sleep(0.05)
    total = _median_ms(stages["total"])
    print(f"  Cellpose resize_and_compute_masks at {th}: {total:.0f} ms wall (min "
          f"{min(stages['total']) * 1000:.0f}), {statistics.median(cpus) * 1000:.0f} ms CPU; per stage:")
    print("    " + ", ".join(f"{k} {_median_ms(v):.0f}" for k, v in stages.items() if k != "total") + " ms")
    return total


def one_call(dp: np.ndarray, cellprob: np.ndarray, niter: int, th: Any, repeat: int,
             ref_ms: float) -> None:
    """``rethreshold_frame``: one call, nothing cached (what ``batchseg rethreshold`` does per frame)."""
    from napari_batchseg.segmenters.cellpose.rethreshold import cellpose_labels, rethreshold_frame

    walls, cpus = [], []
    for _ in range(repeat):
        with Timer() as one:
            labels = rethreshold_frame(dp, cellprob, th, niter=niter)
        walls.append(one.seconds)
        cpus.append(one.cpu)
        time.sleep(0.05)
    same = np.array_equal(labels, cellpose_labels(dp, cellprob, th, niter=niter))
    print(f"  rethreshold_frame at {th}: {_median_ms(walls):.0f} ms wall (min {min(walls) * 1000:.0f}), "
          f"{_median_ms(cpus):.0f} ms CPU; ratio to Cellpose {_median_ms(walls) / ref_ms:.3f}; "
          f"identical: {same}")


def slider_steps(dp: np.ndarray, cellprob: np.ndarray, niter: int, n: int, ref_ms: float) -> None:
    """The dock's slider steps on one frame's cached stages (see the module notes)."""
    from napari_batchseg.segmenters.cellpose.frame_masks import FrameMasks
    from napari_batchseg.segmenters.cellpose.rethreshold import Thresholds, cellpose_labels

    frame = FrameMasks(dp, cellprob, niter, capacity=4 * n + 4)
    frame.labels(0.0, 0.4, 15)  # the dock's first preview
    kinds: dict[str, list[tuple[float, float, int]]] = {
        "cellprob step, cold": [(round(0.1 * k, 1), 0.4, 15) for k in range(1, n + 1)],
        "cellprob step, computed ahead": [(round(-0.1 * k, 1), 0.4, 15) for k in range(1, n + 1)],
        "flow threshold step": [(0.0, round(0.4 + 0.05 * k, 2), 15) for k in range(1, n + 1)],
        "min size step": [(0.0, 0.4, 15 + k) for k in range(1, n + 1)],
    }
    print(f"  slider steps on one frame (FrameMasks; {n} steps per kind; Cellpose {ref_ms:.0f} ms per call):")
    for kind, settings in kinds.items():
        walls, cpus, same = [], [], True
        for cp, flow, min_size in settings:
            if kind.endswith("ahead"):
                frame.prepare(cp, flow)  # what the dock does while the sliders rest
            with Timer() as step:
                labels = frame.labels(cp, flow, min_size)
            walls.append(step.seconds)
            cpus.append(step.cpu)
            expected = cellpose_labels(dp, cellprob, Thresholds(cp, flow, min_size), niter=niter)
            same = same and np.array_equal(labels, expected)
            time.sleep(0.05)
        verdict = "meets" if max(walls) < 0.2 else ("median meets" if _median_ms(walls) < 200 else "misses")
        print(f"    {kind:30s} median {_median_ms(walls):6.1f} ms wall (max {max(walls) * 1000:6.1f}), "
              f"{_median_ms(cpus):6.1f} ms CPU, ratio to Cellpose {_median_ms(walls) / ref_ms:.3f}, "
              f"identical: {same}; {verdict} 200 ms")


def kept_objects(kept: Any) -> int:
    from napari_batchseg.io.masks import read_mask

    return int(read_mask(kept.mask_path).labels.max())


if __name__ == "__main__":
    main()
