"""Frames one at a time vs several frames per Cellpose ``eval`` call, in one process, side by side.

The same prepared frames (crops of a real nuclei image) are segmented frame by frame
(``CellposeSegmenter.segment``) and in groups of k frames (``CellposeSegmenter.segment_batch``:
one ``eval`` call per group, the tiles of several frames in one network batch). Rounds alternate the
two, best kept; the masks of every grouping are compared with the frame-by-frame ones.

Usage::

    python benchmarks/bench_batching.py                    # CPU, 16 frames of 256x256, k = 2 4 8
    python benchmarks/bench_batching.py --gpu --frames 64 --groups 4 8 16 32
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Timer, machine, model_path, movie_frames  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="Cellpose model (default: the project's starter model)")
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--groups", type=int, nargs="+", default=[2, 4, 8], help="frames per eval call")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--gpu", action="store_true")
    ap.add_argument("--batch-size", type=int, default=8, help="Cellpose batch_size (tiles per network call)")
    args = ap.parse_args(argv)

    from napari_batchseg import SegmentationParams
    from napari_batchseg.segmenters import load_segmenter

    params = SegmentationParams(model=model_path(args.model), gpu=args.gpu, batch_size=args.batch_size)
    seg = load_segmenter(params)
    print(f"# bench_batching: {machine()}")
    print(f"# device: {seg.describe().get('device')}; {args.frames} frames of {args.size}x{args.size}; "
          f"batch_size {args.batch_size}")
    frames = [f.astype(np.float32) for f in movie_frames(args.frames, args.size)]
    seg.segment(frames[0])  # warm-up
    seg.segment_batch(frames[:2])
    one_t: list[float] = []
    group_t: dict[int, list[float]] = {k: [] for k in args.groups}
    same: dict[int, bool] = {k: True for k in args.groups}
    for _ in range(args.rounds):
        with Timer() as t:
            ref = [seg.segment(f) for f in frames]
        one_t.append(t.seconds)
        for k in args.groups:
            with Timer() as t:
                outs = []
                for i in range(0, len(frames), k):
                    outs += seg.segment_batch(frames[i:i + k])
            group_t[k].append(t.seconds)
            same[k] = same[k] and all(
                np.array_equal(a.labels, b.labels) for a, b in zip(ref, outs, strict=True))
    n = len(frames)
    best_one = min(one_t)
    print(f"{'frames per call':16s} {'best s':>7s} {'frames/s':>9s} {'speed-up':>9s}  identical  runs (s)")
    print(f"{1:<16d} {best_one:7.2f} {n / best_one:9.3f} {1.0:9.3f}  {'-':9s}  "
          + ", ".join(f"{x:.2f}" for x in one_t))
    for k in args.groups:
        best = min(group_t[k])
        print(f"{k:<16d} {best:7.2f} {n / best:9.3f} {best_one / best:9.3f}  {same[k]!s:9s}  "
              + ", ".join(f"{x:.2f}" for x in group_t[k]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
