"""Each parallel mode vs the sequential run, on the same files, side by side in one run.

Modes: ``none`` (sequential: one process, reading overlapped with compute), ``files`` (one file per
worker process), ``frames`` (frames of a file spread over worker processes), ``batched`` (one process,
``batch_frames`` frames per model call). Wall times include starting the workers and loading the model
in each, as a user sees them. Every mode's masks are checked against the sequential ones, pixel for
pixel. Modes run round robin ``--repeats`` times and the best time of each is kept, so that a change
of machine load (other programs) does not favour one mode; every run is printed.

With ``--gpu`` (on a machine with CUDA or MPS) the comparison is one frame per call vs batched frames
on the GPU.

Usage::

    python benchmarks/bench_parallel.py                        # 4 files x 6 frames of 256x256, 2 processes
    python benchmarks/bench_parallel.py --files 6 --frames 8 --processes 2
    python benchmarks/bench_parallel.py --gpu --frames 64      # GPU: batched vs one frame at a time
    python benchmarks/bench_parallel.py --segmenter threshold  # runner overhead only (cheap segmenter)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Timer, compare_runs, machine, model_path, print_comparison, write_movie  # noqa: E402


def run_mode(name: str, files: Path, out: Path, params, options) -> tuple[float, dict[str, np.ndarray]]:
    from napari_batchseg import engine
    from napari_batchseg.io.masks import read_mask
    from napari_batchseg.runners import execute

    p = params.replace(output_dir=str(out), existing="overwrite")
    the_plan = engine.plan([files], p)
    done = 0
    with Timer() as t:
        for event in execute(the_plan, options):
            if isinstance(event, engine.TaskFailed):
                raise RuntimeError(f"{name}: {event.reason}")
            done += isinstance(event, engine.TaskDone)
    masks = {m.name: read_mask(m).labels for m in sorted(out.glob("*_vSM.ome.tif"))}
    return t.seconds, masks


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="Cellpose model (default: the project's starter model)")
    ap.add_argument("--segmenter", choices=("cellpose", "threshold"), default="cellpose")
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--frames", type=int, default=6)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--batch-frames", type=int, default=4)
    ap.add_argument("--gpu", action="store_true", help="GPU comparison: batched vs one frame per call")
    ap.add_argument("--delay", type=float, default=0.0, help="threshold segmenter: seconds per frame")
    ap.add_argument("--repeats", type=int, default=2, help="round-robin repeats of every mode (best kept)")
    args = ap.parse_args(argv)

    from napari_batchseg.params import SegmentationParams
    from napari_batchseg.runners import RunOptions
    from napari_batchseg.testing import threshold_segmenter

    factory = threshold_segmenter if args.segmenter == "threshold" else None
    # Cellpose's own segment_batch makes one eval call per group of frames
    batch_factory = factory
    if factory is None:
        params = SegmentationParams(model=model_path(args.model), gpu=args.gpu)
    else:
        params = SegmentationParams(extra={"delay": args.delay})
    print(f"# bench_parallel: {machine()}")
    print(f"# segmenter: {args.segmenter} {params.model if factory is None else ''}")
    print(f"# {args.files} files x {args.frames} frames of {args.size}x{args.size}")
    if args.gpu:
        from napari_batchseg.runners import gpu_in_use

        if not gpu_in_use(params):
            sys.exit("--gpu: no CUDA or MPS device found")
        modes = [
            ("one frame per call", RunOptions(batch_frames=1, segmenter_factory=factory)),
            (f"batched ({params.batch_size} frames)", RunOptions(segmenter_factory=batch_factory)),
        ]
    else:
        n = args.processes
        modes = [
            ("sequential", RunOptions(segmenter_factory=factory)),
            (f"files x{n}", RunOptions(parallel="files", processes=n, segmenter_factory=factory)),
            (f"frames x{n}", RunOptions(parallel="frames", processes=n, segmenter_factory=factory)),
            (f"batched ({args.batch_frames} frames/call)",
             RunOptions(batch_frames=args.batch_frames, segmenter_factory=batch_factory)),
        ]
    total = args.files * args.frames
    with tempfile.TemporaryDirectory(prefix="bench-parallel-") as tmp_name:
        tmp = Path(tmp_name)
        files = tmp / "in"
        for i in range(args.files):
            write_movie(files / f"movie{i}.ome.tif", args.frames, args.size, seed=i)
        times, same = compare_runs(
            modes, args.repeats,
            lambda i, name, options: run_mode(name, files, tmp / f"out{i}", params, options))
        print_comparison("mode", 30, "speed-up", modes, times, same, total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
