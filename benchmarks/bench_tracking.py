"""Tracking time per frame and peak memory, against segmentation time (goal: tracking < 5 % of it).

1. The bundled 53-frame ND2 E. coli movie: segmented with the project's Cellpose 3 model, then
   tracked (``track_file``: objects, laptrack, relabelled mask, CSV, log), in one child process;
   the ratio is tracking time / segmentation time of the same movie.
2. Synthetic movies of ``--objects`` wandering, dividing, entering and leaving disks
   (``napari_batchseg.tracking.synthetic``), ``--frames`` long (default 100, 250 and 500: the same
   objects per frame), written as masks first; each is tracked in a fresh child process that reports
   its peak resident memory (VmHWM) and Python's peak allocation (tracemalloc, numpy's included). The
   mask is read one frame at a time and laptrack links windows of frames, so what memory still grows
   with the movie is the tables of its objects: the script prints their cost per object (the slope of
   the peaks between the shortest and the longest movie, per object added) and the tracks table's own
   bytes per object.

    python benchmarks/bench_tracking.py [--frames 100 250 500] [--objects 300] [--skip-nd2]
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, STARTER, machine, peak_rss_mib, write_movie  # noqa: E402

ND2 = ROOT / "examples" / "data" / "arcadia_ecoli_gfp_timelapse.nd2"


def _track(mask: Path, max_distance: float) -> dict[str, float]:
    import laptrack  # noqa: F401  (imported before timing: a one-off cost, not per movie)

    from napari_batchseg.tracking import TrackParams
    from napari_batchseg.tracking.files import track_file

    tracemalloc.start()
    t0 = time.perf_counter()
    res = track_file(mask, TrackParams(max_distance=max_distance), overwrite=True)
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    table = float(res.result.tracks.memory_usage(deep=True).sum())
    return {"track_s": seconds, "n_frames": res.result.n_frames, "n_tracks": res.result.n_tracks,
            "n_objects": len(res.result.tracks), "tracemalloc_mib": peak, "vmhwm_mib": peak_rss_mib(),
            "table_bytes": table}


def child_nd2(out: Path) -> dict[str, float]:
    from napari_batchseg import SegmentationParams, segment_files

    t0 = time.perf_counter()
    summary = segment_files([ND2], SegmentationParams(model=str(STARTER), output_dir=str(out)))
    seg_s = time.perf_counter() - t0
    (report,) = summary.reports
    assert report.mask is not None, summary.to_frame()
    tracked = _track(Path(report.mask), 10.0)
    # a baseline of the synthetic movies' size: 3 real 512 x 512 frames (crops of the DSB2018 image)
    movie = write_movie(out / "nuclei_512.tif", 3, size=512)
    t0 = time.perf_counter()
    summary = segment_files([movie], SegmentationParams(model=str(STARTER), output_dir=str(out)))
    assert summary.ok, summary.to_frame()
    return {"segment_s": seg_s, "segment_512_s_per_frame": (time.perf_counter() - t0) / 3, **tracked}


def child_synthetic(mask: Path) -> dict[str, float]:
    return _track(mask, 8.0)


def write_synthetic(folder: Path, frames: int, objects: int) -> Path:
    import numpy as np

    from napari_batchseg.io.masks import write_mask
    from napari_batchseg.io.sources import PixelSize
    from napari_batchseg.tracking.synthetic import synthetic_movie

    side = int(np.ceil(np.sqrt(objects * 1.15))) * 30
    movie = synthetic_movie(n_frames=frames, n_objects=objects, shape=(side, side), radius=3, step=2.0,
                            n_divisions=objects // 20, n_enter=objects // 20, n_leave=objects // 20, seed=0)
    return write_mask(folder / f"synthetic_{frames}_vSM.ome.tif", movie.masks,
                      PixelSize(x=0.5, y=0.5, t=60.0), "")


def _run_child(*args: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, nargs="+", default=[100, 250, 500])
    ap.add_argument("--objects", type=int, default=300)
    ap.add_argument("--skip-nd2", action="store_true")
    ap.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, path = args.child
        result = child_nd2(Path(path)) if kind == "nd2" else child_synthetic(Path(path))
        print(json.dumps(result))
        return
    print(machine())
    seg_per_frame = None
    with tempfile.TemporaryDirectory(prefix="bench-tracking-") as tmp:
        folder = Path(tmp)
        if not args.skip_nd2:
            r = _run_child("--child", "nd2", str(folder))
            seg_per_frame = r["segment_512_s_per_frame"]
            print(f"ND2 movie ({r['n_frames']:.0f} frames, {r['n_objects']:.0f} objects, {r['n_tracks']:.0f} "
                  f"tracks): segmentation {r['segment_s']:.2f} s, tracking {r['track_s']:.3f} s "
                  f"({1000 * r['track_s'] / r['n_frames']:.1f} ms/frame) -> tracking/segmentation "
                  f"{100 * r['track_s'] / r['segment_s']:.1f} %; peak RSS {r['vmhwm_mib']:.0f} MiB "
                  f"(segmentation included), tracking's Python peak {r['tracemalloc_mib']:.1f} MiB")
            print(f"segmentation of a 512 x 512 frame (3 real frames, same model): "
                  f"{seg_per_frame:.2f} s/frame")
        rows = []
        for n in args.frames:
            mask = write_synthetic(folder, n, args.objects)
            r = _run_child("--child", "synthetic", str(mask))
            rows.append((n, r))
            per = r["track_s"] / r["n_frames"]
            line = (f"synthetic {n} frames x {args.objects} objects ({r['n_objects']:.0f} objects, "
                    f"{r['n_tracks']:.0f} tracks): tracking {r['track_s']:.1f} s "
                    f"({1000 * per:.1f} ms/frame); "
                    f"peak RSS {r['vmhwm_mib']:.0f} MiB, Python peak {r['tracemalloc_mib']:.1f} MiB")
            if seg_per_frame:
                line += f"; vs segmenting a 512 x 512 frame: {100 * per / seg_per_frame:.1f} %"
            print(line)
            mask.unlink()
        if len(rows) >= 2:
            (n0, a), (n1, b) = rows[0], rows[-1]
            print(f"memory {n1}/{n0} frames: peak RSS x{b['vmhwm_mib'] / a['vmhwm_mib']:.2f}, Python peak "
                  f"x{b['tracemalloc_mib'] / a['tracemalloc_mib']:.2f} (movie x{n1 / n0:.0f}); "
                  "time per frame "
                  f"x{(b['track_s'] / n1) / (a['track_s'] / n0):.2f}")
            added = b["n_objects"] - a["n_objects"]
            print(f"per object added ({added:.0f} objects): peak RSS "
                  f"{(b['vmhwm_mib'] - a['vmhwm_mib']) * 2**20 / added:.0f} B, Python peak "
                  f"{(b['tracemalloc_mib'] - a['tracemalloc_mib']) * 2**20 / added:.0f} B, of which the "
                  f"tracks table {b['table_bytes'] / b['n_objects']:.0f} B (the rest: the object table, the "
                  "links and the tables' copies while they are built; laptrack's graph is bounded by "
                  "its window)")


if __name__ == "__main__":
    main()
