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

(e) with ``--fast K``: the pipeline in its named fast mode (``K`` frames per network call, the whole
    mask stage on the CPU workers), the speed that identity costs, if any.

(c), (d) and (e) are measured with ``--batch-frames`` frames per call (1, the run default, unless
given). Rounds alternate the ways (best kept). Printed: frames/s and ratios (d)/(a), (d)/(c), (b)/(a)
(and (e)/(d)), and whether the masks of (b), (d) and (e) equal those of (a); ``--json FILE`` also
writes the figures. The issue's goal on a 16-core GPU machine: (d) >= 0.8 x (c) and (d) >= 4 x (a);
on a CPU: (d) not slower than (a) with the same cores.

Usage::

    python benchmarks/bench_gpu_pipeline.py                           # CPU: 256 and 1024, 8 frames
    python benchmarks/bench_gpu_pipeline.py --sizes 128 --frames 2 --rounds 1 --mask-workers 1  # smoke
    python benchmarks/bench_gpu_pipeline.py --gpu --frames 64 --sizes 256 1024 --mask-workers 8 --fast 8

On a lent GPU machine (no registry there; Python 3.12 with torch): build the wheels bundle here once,
``benchmarks/gpu_display/pack.sh .bundle <(.venv/bin/python -m pip freeze)`` (``.bundle/`` ignored by
git via ``.git/info/exclude``), then run there, carrying ``.bundle``::

    mkdir -p /tmp/site && tar -xJf .bundle/site312.tar.xz -C /tmp/site &&
    PYTHONPATH=/tmp/site:$PWD/src PYTHONUNBUFFERED=1 python3 benchmarks/bench_gpu_pipeline.py --gpu \
        --frames 64 --sizes 256 1024 --mask-workers 8 --fast 8 --json $OUT/gpu_pipeline.json

(about 3-5 minutes on an H200 with 16 cores, model load and warm-up included; use ``--rounds 1`` or
``--sizes 256`` if the device time left is short).
"""

from __future__ import annotations

import argparse
import json
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


def _one_size(seg, pipe, fast, size: int, args) -> dict[str, object]:
    """Every way on ``args.frames`` frames of ``size``; print the table and ratios; return the figures."""
    workers = pipe.mask_workers
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
    if fast is not None:
        _pipeline(fast, frames[:workers + args.fast])
        ways["(e) pipeline, fast mode"] = lambda fr=frames: _pipeline(fast, fr)
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
    same: dict[str, bool | None] = {}
    for name in ways:
        got = masks[name]
        same[name] = None if got is None else bool(ref is not None and all(
            np.array_equal(x, y) for x, y in zip(got, ref, strict=True)))
        runs = ", ".join(f"{x:.2f}" for x in times[name])
        shown = "-" if same[name] is None else str(same[name])
        print(f"{name:32s} {min(times[name]):7.2f} {fps[name]:9.3f}  {shown:16s}  {runs}")
    d, a, c = fps["(d) pipeline"], fps["(a) one frame per eval"], fps["(c) network only"]
    ratios = {"(d)/(a)": d / a, "(d)/(c)": d / c}
    if "(b) Cellpose eval on a list" in fps:
        ratios["(b)/(a)"] = fps["(b) Cellpose eval on a list"] / a
    if "(e) pipeline, fast mode" in fps:
        ratios["(e)/(d)"] = fps["(e) pipeline, fast mode"] / d
    print("ratios: " + "   ".join(f"{k} = {v:.3f}" for k, v in ratios.items()))
    return {"frames_per_s": fps, "seconds": times, "identical_to_a": same, "ratios": ratios}


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
    ap.add_argument("--fast", type=int, default=0, metavar="K",
                    help="add (e): the pipeline's fast mode, K frames per network call and masks on the CPU")
    ap.add_argument("--json", default=None, metavar="FILE", help="also write the figures to FILE")
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
    figures: dict[str, object] = {}
    report = {"machine": machine(), "device": seg.describe().get("device"), "args": vars(args),
              "mask_workers": workers, "sizes": figures}
    fast = PipelinedFrames(seg, workers, args.fast, "cpu") if args.fast else None
    with PipelinedFrames(seg, workers, args.batch_frames, args.masks_on) as pipe:
        print(f"# pipeline: masks on {pipe.masks_on} ({'GPU' if pipe.on_gpu else 'CPU'} model)")
        if fast is not None:
            fast.start()
            print(f"# (e) fast mode: {args.fast} frames per network call, masks on {fast.masks_on}")
        try:
            for size in args.sizes:
                figures[str(size)] = _one_size(seg, pipe, fast, size, args)
        finally:
            if fast is not None:
                fast.close()
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
        print(f"# figures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
