"""The pipelined engine vs Cellpose's own ways of segmenting many frames, in one process, side by side.

Four ways over the same prepared frames (crops of the real DSB2018 nuclei image), with the project's
Cellpose 3 model on the GPU when there is one (``--gpu``), else the CPU:

(a) one frame per ``eval`` (``CellposeSegmenter.segment``: network, then masks, frame after frame);
(b) Cellpose's own batched ``eval`` on a list of frames (``eval([f1, f2, ...])``: one call, Cellpose
    loops over the frames itself);
(c) the network only (``eval(..., compute_masks=False)``, ``--batch-frames`` frames per call): the
    ceiling any pipeline can reach;
(d) our pipeline (:class:`napari_batchseg.runners.pipeline.PipelinedFrames`): the network here, masks in
    ``--mask-workers`` CPU processes meanwhile.

Rounds alternate the four (best kept). Printed: frames/s and ratios (d)/(a), (d)/(c), (b)/(a), and
whether the masks of (b) and (d) equal those of (a). The issue's goal on a 16-core GPU machine:
(d) >= 0.8 x (c) and (d) >= 4 x (a); on a CPU: (d) not slower than (a) with the same cores.

Usage::

    python benchmarks/bench_gpu_pipeline.py                           # CPU: 256 and 1024, 8 frames
    python benchmarks/bench_gpu_pipeline.py --gpu --frames 64 --sizes 256 1024 --mask-workers 8
    python benchmarks/bench_gpu_pipeline.py --gpu --masks-on cpu      # the fast mode
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Timer, machine, model_path, movie_frames  # noqa: E402


def _frames(n: int, size: int) -> list[np.ndarray]:
    if size <= 512:
        return [f.astype(np.float32) for f in movie_frames(n, size)]
    # larger than the 512x512 image: tile flipped copies (real nuclei everywhere)
    base = movie_frames(n, 512)
    reps = -(-size // 512)
    out = []
    for f in base:
        row = np.concatenate([f if j % 2 == 0 else np.fliplr(f) for j in range(reps)], axis=1)
        big = np.concatenate([row if i % 2 == 0 else np.flipud(row) for i in range(reps)], axis=0)
        out.append(np.ascontiguousarray(big[:size, :size]).astype(np.float32))
    return out


def _one_per_eval(seg, frames):
    return [seg.segment(f).labels for f in frames]


def _cellpose_list(seg, frames):
    masks, _flows, _styles = seg.model.eval(
        list(frames), batch_size=seg.batch_size, channels=[0, 0], diameter=seg.diameter,
        flow_threshold=seg.flow_threshold, cellprob_threshold=seg.cellprob_threshold,
        niter=seg.niter, min_size=seg.min_size,
    )
    return [np.asarray(m) for m in masks]


def _network_only(pipe, frames, k):
    for i in range(0, len(frames), k):
        pipe.network_flows(frames[i:i + k])
    return None


def _pipeline(pipe, frames):
    from napari_batchseg import engine
    from napari_batchseg.prepare import PreparedFrame

    task = engine.Task(Path("bench.tif"), 0, 1, None)  # type: ignore[arg-type]
    todo = [PreparedFrame(0, t, f, 0) for t, f in enumerate(frames)]
    return [out.labels for _f, out, _s in pipe(task, iter(todo))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="Cellpose 3 model (default: the project's starter model)")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 1024])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--gpu", action="store_true")
    ap.add_argument("--batch-size", type=int, default=8, help="Cellpose batch_size (tiles per network call)")
    ap.add_argument("--batch-frames", type=int, default=1, help="frames per network call in (c) and (d)")
    ap.add_argument("--mask-workers", type=int, default=None,
                    help="CPU processes building masks in (d) (default: usable cores less one, at least 1)")
    ap.add_argument("--masks-on", default="device", choices=("device", "cpu"))
    ap.add_argument("--skip-list", action="store_true", help="leave out (b)")
    args = ap.parse_args(argv)

    from napari_batchseg import SegmentationParams
    from napari_batchseg.runners.options import usable_cores
    from napari_batchseg.runners.pipeline import PipelinedFrames
    from napari_batchseg.segmenters import load_segmenter

    workers = args.mask_workers or max(1, usable_cores() - 1)
    seg = load_segmenter(SegmentationParams(model=model_path(args.model), gpu=args.gpu,
                                            batch_size=args.batch_size))
    print(f"# bench_gpu_pipeline: {machine()}")
    print(f"# device: {seg.describe().get('device')}; {args.frames} frames per size; batch_size "
          f"{args.batch_size}; {args.batch_frames} frame(s) per network call in (c)/(d); {workers} mask "
          f"workers, masks on {args.masks_on}")
    with PipelinedFrames(seg, workers, args.batch_frames, args.masks_on) as pipe:
        print(f"# pipeline: masks on {pipe.masks_on} ({'GPU' if pipe.on_gpu else 'CPU'} model)")
        for size in args.sizes:
            frames = _frames(args.frames, size)
            seg.segment(frames[0])  # warm-up: network, dynamics and the workers' imports
            _pipeline(pipe, frames[:workers + 1])
            ways = {
                "(a) one frame per eval": lambda fr=frames: _one_per_eval(seg, fr),
                "(b) Cellpose eval on a list": lambda fr=frames: _cellpose_list(seg, fr),
                "(c) network only": lambda fr=frames: _network_only(pipe, fr, args.batch_frames),
                "(d) pipeline": lambda fr=frames: _pipeline(pipe, fr),
            }
            if args.skip_list:
                del ways["(b) Cellpose eval on a list"]
            times: dict[str, list[float]] = {k: [] for k in ways}
            masks: dict[str, list[np.ndarray] | None] = {}
            for _ in range(args.rounds):
                for name, run in ways.items():
                    with Timer() as t:
                        masks[name] = run()
                    times[name].append(t.seconds)
            fps = {k: args.frames / min(v) for k, v in times.items()}
            ref = masks["(a) one frame per eval"]
            print(f"\n## {size}x{size}, {args.frames} frames")
            print(f"{'way':32s} {'best s':>7s} {'frames/s':>9s}  identical to (a)  runs (s)")
            for name in ways:
                got = masks[name]
                same = "-" if got is None else str(ref is not None and all(
                    np.array_equal(x, y) for x, y in zip(got, ref, strict=True)))
                runs = ", ".join(f"{x:.2f}" for x in times[name])
                print(f"{name:32s} {min(times[name]):7.2f} {fps[name]:9.3f}  {same:16s}  {runs}")
            d, a, c = fps["(d) pipeline"], fps["(a) one frame per eval"], fps["(c) network only"]
            line = f"ratios: (d)/(a) = {d / a:.3f}   (d)/(c) = {d / c:.3f}"
            if "(b) Cellpose eval on a list" in fps:
                line += f"   (b)/(a) = {fps['(b) Cellpose eval on a list'] / a:.3f}"
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
