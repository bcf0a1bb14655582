"""Engine (the ``batchseg segment`` CLI, in this process) vs a bare ``CellposeModel.eval`` loop.

Both segment the same prepared frames of one multi-frame OME-TIFF (crops of a real nuclei image), with
the same model and settings, side by side in one run. The bare loop gets its frames already read and
prepared in memory and does nothing but ``eval``; the CLI does everything: plan, model load, reading,
Z/channel preparation, segmentation, streaming the masks to disk, OME-TIFF + log writing. Their masks
are checked to be identical, so both did the same work.

Then the peak memory (max RSS) of the CLI on a 50-frame and a 500-frame version of the movie, each in
a fresh process.

Usage::

    python benchmarks/bench_engine.py                       # 24 frames of 256x256, repeats 2
    python benchmarks/bench_engine.py --frames 48 --size 256 --memory-frames 50 500
    python benchmarks/bench_engine.py --skip-memory
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Timer, machine, model_path, peak_rss_mib, write_movie  # noqa: E402


def _cli_args(movie: Path, model: str, out: Path) -> list[str]:
    return ["segment", str(movie), "--model", model, "--output-dir", str(out), "--existing", "overwrite",
            "--quiet"]


def _memory_child(movie: Path, model: str, out: Path) -> None:
    import contextlib
    import io

    from napari_batchseg import cli

    with Timer() as t, contextlib.redirect_stderr(io.StringIO()):
        code = cli.main(_cli_args(movie, model, out))
    print(json.dumps({"code": code, "peak_mib": peak_rss_mib(), "seconds": t.seconds}))


def _measure_memory(movie: Path, model: str, out: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--_memory-child", str(movie), "--model", model, "--out", str(out)],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"memory child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="Cellpose model (default: the project's starter model)")
    ap.add_argument("--frames", type=int, default=24, help="frames in the speed movie")
    ap.add_argument("--size", type=int, default=256, help="plane size (pixels)")
    ap.add_argument("--repeats", type=int, default=2, help="alternating repeats of each side (best kept)")
    ap.add_argument("--memory-frames", type=int, nargs=2, default=(50, 500), metavar=("SMALL", "LARGE"))
    ap.add_argument("--memory-size", type=int, default=None, help="plane size of the memory movies "
                    "(default: --size)")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--_memory-child", dest="memory_child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    model = model_path(args.model)
    if args.memory_child:
        _memory_child(Path(args.memory_child), model, Path(args.out))
        return 0

    import contextlib
    import io

    from napari_batchseg import cli
    from napari_batchseg.io.masks import read_mask
    from napari_batchseg.io.reader import open_source
    from napari_batchseg.params import SegmentationParams
    from napari_batchseg.prepare import prepare_frame

    print(f"# bench_engine: {machine()}")
    print(f"# model: {model}")
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp_name:
        tmp = Path(tmp_name)
        if not args.skip_speed:
            from cellpose import models

            movie = write_movie(tmp / "movie.ome.tif", args.frames, args.size)
            params = SegmentationParams(model=model)
            with open_source(movie) as src:
                images = [prepare_frame(src, 0, t, 0, params.zrange, params.z_projection).image
                          for t in range(args.frames)]
            cp = models.CellposeModel(gpu=False, pretrained_model=model)
            kw = dict(channels=[0, 0], diameter=float(cp.diam_labels), flow_threshold=params.flow_threshold,
                      cellprob_threshold=params.cellprob_threshold, batch_size=params.batch_size)
            cp.eval(images[0], **kw)  # warm-up (first call allocates)
            bare_t, cli_t, bare_c, cli_c = [], [], [], []
            bare_masks: list[np.ndarray] = []
            for _ in range(args.repeats):
                with Timer() as t:
                    bare_masks = [cp.eval(im, **kw)[0] for im in images]
                bare_t.append(t.seconds)
                bare_c.append(t.cpu)
                with Timer() as t, contextlib.redirect_stderr(io.StringIO()):
                    code = cli.main(_cli_args(movie, model, tmp / "out"))
                cli_t.append(t.seconds)
                cli_c.append(t.cpu)
                assert code == 0, "the CLI run failed"
            engine_masks = read_mask(tmp / "out" / "movie_vSM.ome.tif").labels
            same = all(np.array_equal(a, b) for a, b in zip(engine_masks, bare_masks, strict=True))
            n = args.frames
            fps_bare, fps_cli = n / min(bare_t), n / min(cli_t)
            print(f"frames: {n} of {args.size}x{args.size}; repeats: {args.repeats} (best kept)")
            print(f"bare CellposeModel.eval loop : {fps_bare:7.3f} frames/s  (runs: "
                  + ", ".join(f"{x:.2f}" for x in bare_t) + " s)")
            print(f"engine via CLI (everything)  : {fps_cli:7.3f} frames/s  (runs: "
                  + ", ".join(f"{x:.2f}" for x in cli_t) + " s)")
            print(f"ratio engine / bare (wall)   : {fps_cli / fps_bare:7.3f}   (goal >= 0.95)")
            print(f"CPU seconds per frame        : bare {min(bare_c) / n:.3f}, engine {min(cli_c) / n:.3f}"
                  f"  -> ratio bare / engine {min(bare_c) / min(cli_c):.3f} (work done, all threads)")
            print(f"masks identical              : {same}")
        if not args.skip_memory:
            small, large = args.memory_frames
            size = args.memory_size or args.size
            print(f"memory movies: {small} and {large} frames of {size}x{size}, each run in a fresh process")
            res = {}
            for n in (small, large):
                movie_n = write_movie(tmp / f"movie{n}.ome.tif", n, args.memory_size or args.size, seed=1)
                res[n] = _measure_memory(movie_n, model, tmp / f"out{n}")
                movie_n.unlink()
                print(f"peak RSS, {n:4d} frames         : {res[n]['peak_mib']:8.1f} MiB "
                      f"({res[n]['seconds']:.1f} s, exit {res[n]['code']})")
            ratio = res[large]["peak_mib"] / res[small]["peak_mib"]
            print(f"peak memory {large} / {small} frames : {ratio:7.3f}   (goal <= 1.10)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
