"""Dask ``LocalCluster`` vs local worker processes (``--parallel files``) on the same files.

Three timings, side by side: local ``files`` mode with N processes; ``--dask-local N`` as a user runs
it (cluster start included); and the same Dask run on a cluster started beforehand, whose workers keep
their model between batches (what a long-lived cluster costs per batch). They run round robin
``--repeats`` times, best kept; masks are checked against the local run.

Usage::

    python benchmarks/bench_dask.py                     # 4 files x 6 frames of 256x256, 2 workers
    python benchmarks/bench_dask.py --files 8 --workers 2
    python benchmarks/bench_dask.py --segmenter threshold --delay 0.05   # scheduling overhead only
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Timer, compare_runs, machine, model_path, print_comparison, write_movie  # noqa: E402
from bench_parallel import run_mode  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="Cellpose model (default: the project's starter model)")
    ap.add_argument("--segmenter", choices=("cellpose", "threshold"), default="cellpose")
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--frames", type=int, default=6)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--delay", type=float, default=0.0, help="threshold segmenter: seconds per frame")
    ap.add_argument("--repeats", type=int, default=2, help="round-robin repeats (best kept)")
    args = ap.parse_args(argv)

    from distributed import Client, LocalCluster

    from napari_batchseg.params import SegmentationParams
    from napari_batchseg.runners import RunOptions
    from napari_batchseg.testing import threshold_segmenter

    factory = threshold_segmenter if args.segmenter == "threshold" else None
    params = (SegmentationParams(model=model_path(args.model)) if factory is None
              else SegmentationParams(extra={"delay": args.delay}))
    n = args.workers
    total = args.files * args.frames
    print(f"# bench_dask: {machine()}")
    print(f"# segmenter: {args.segmenter}; {args.files} files x {args.frames} frames "
          f"of {args.size}x{args.size}")
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as tmp_name:
        tmp = Path(tmp_name)
        files = tmp / "in"
        for i in range(args.files):
            write_movie(files / f"movie{i}.ome.tif", args.frames, args.size, seed=i)
        with Timer() as start:
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0")
            client = Client(cluster)
        runs = [
            (f"local processes (files x{n})",
             RunOptions(parallel="files", processes=n, segmenter_factory=factory)),
            (f"--dask-local {n} (cluster start incl.)", RunOptions(dask_local=n, segmenter_factory=factory)),
            ("dask, cluster already up", RunOptions(dask_scheduler=client, segmenter_factory=factory)),
        ]
        try:
            times, same = compare_runs(
                runs, args.repeats,
                lambda i, name, options: run_mode(name, files, tmp / f"o{i}", params, options))
        finally:
            client.close()
            cluster.close()
        print(f"(cluster start for the 'already up' runs: {start.seconds:.1f} s; its workers load the model "
              "on their first run and keep it)")
        print_comparison("run", 38, "local/this", runs, times, same, total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
