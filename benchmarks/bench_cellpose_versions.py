"""Cellpose 4 (Cellpose-SAM) vs Cellpose 3: seconds per frame on the same 512x512 frame.

Each Cellpose lives in its own virtual environment (one is installed at a time), so each side runs as
a subprocess with that environment's Python: ``--venv3`` (default ``.venv``) and ``--venv4`` (default
``.venv-cp4``, made by ``scripts/setup_cp4.sh``). Both segment the real DSB2018 nuclei image
(512x512, ``examples/data``) through this package's segmenter (the same ``CellposeModel.eval`` call), on
the CPU unless ``--gpu``:

* Cellpose 3: the project's starter model (``examples/models/batchseg_nuclei_cp3``, a CPnet like
  ``cyto3``), ``--v3-diameter`` (default 30: no rescaling, the network's native scale as on the
  Cellpose 4 side; ``0`` uses the model's training diameter, which rescales the image), one warm-up
  frame, then ``--repeats`` timed frames;
* Cellpose 4: ``--cpsam FILE`` (real ``cpsam``/``cpsam_v2`` weights) or, offline, a CPSAM network with
  random weights built in a temporary folder: the same ViT-L network and the same arithmetic per tile,
  so the network time is the real one (the mask step differs: random weights find random objects).
  ``diameter=0`` (native scale), bfloat16 weights (Cellpose 4's default; ``--v4-float32`` adds a float32
  run). No warm-up by default (``--v4-warmup`` adds one): a CPU frame takes minutes.

Prints one JSON line per side and the ratio of seconds per frame (v4 / v3).

Usage::

    python benchmarks/bench_cellpose_versions.py
    python benchmarks/bench_cellpose_versions.py --repeats 3 --v4-float32
    python benchmarks/bench_cellpose_versions.py --sides 3 --v3-diameter 0
    python benchmarks/bench_cellpose_versions.py --gpu --cpsam ~/.cellpose/models/cpsam_v2
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(args: argparse.Namespace) -> None:
    """Run in one environment: load the model, segment the frame, print one JSON line."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import numpy as np
    from _common import STARTER, nuclei_image

    from napari_batchseg.params import SegmentationParams
    from napari_batchseg.segmenters import catalog, load_segmenter

    major = catalog.cellpose_major()
    frame = nuclei_image().astype(np.float32)
    extra: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if major >= 4:
            model = args.cpsam
            if not model:
                import torch
                from cellpose.vit import CPSAM

                torch.manual_seed(0)
                model = str(Path(tmp) / "cpsam_random")
                CPSAM(dtype=torch.bfloat16).save_model(model)
            extra = {"use_bfloat16": not args.float32}
            warmups, repeats = (1 if args.v4_warmup else 0), args.v4_repeats
        else:
            model = str(STARTER)
            warmups, repeats = 1, args.repeats
        diameter = args.v3_diameter if major < 4 else 0.0
        params = SegmentationParams(model=model, diameter=diameter, gpu=args.gpu, extra=extra)
        t0 = time.perf_counter()
        seg = load_segmenter(params)
        load_s = time.perf_counter() - t0
        for _ in range(warmups):
            seg.segment(frame)
        times, n_objects = [], 0
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = seg.segment(frame)
            times.append(time.perf_counter() - t0)
            n_objects = int(out.labels.max())
        info = seg.describe()
    print(json.dumps({
        "cellpose": info["cellpose_version"], "model": Path(model).name if args.cpsam or major < 4 else
        "CPSAM (random weights)", "bfloat16": info.get("bfloat16", False), "device": info["device"],
        "frame": list(frame.shape), "diameter": info["diameter"], "load_s": round(load_s, 2),
        "warmups": warmups,
        "seconds_per_frame": [round(t, 3) for t in times], "mean_s": round(sum(times) / len(times), 3),
        "objects": n_objects,
    }))


def run_side(python: Path, argv: list[str]) -> dict[str, object]:
    cmd = [str(python), __file__, "--child", *argv]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--venv3", type=Path, default=ROOT / ".venv")
    ap.add_argument("--venv4", type=Path, default=ROOT / ".venv-cp4")
    ap.add_argument("--repeats", type=int, default=3, help="timed Cellpose 3 frames")
    ap.add_argument("--v4-repeats", type=int, default=1, help="timed Cellpose 4 frames")
    ap.add_argument("--v4-warmup", action="store_true", help="one untimed Cellpose 4 frame first")
    ap.add_argument("--v4-float32", action="store_true", help="also time Cellpose 4 in float32")
    ap.add_argument("--cpsam", default="", help="real Cellpose 4 weights (default: random CPSAM)")
    ap.add_argument("--v3-diameter", type=float, default=30.0, help="Cellpose 3 diameter (30: no rescaling)")
    ap.add_argument("--sides", default="3,4", help="which Cellpose majors to run (3,4 or one of them)")
    ap.add_argument("--gpu", action="store_true")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--float32", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    common = [f"--repeats={args.repeats}", f"--v4-repeats={args.v4_repeats}",
              f"--v3-diameter={args.v3_diameter}"]
    common += ["--gpu"] * args.gpu + ["--v4-warmup"] * args.v4_warmup
    common += [f"--cpsam={args.cpsam}"] if args.cpsam else []
    sides = {s.strip() for s in args.sides.split(",")}
    v3 = run_side(args.venv3 / "bin" / "python", common) if "3" in sides else None
    v4 = run_side(args.venv4 / "bin" / "python", common) if "4" in sides else None
    if v3 is None or v4 is None:
        return
    ratio = float(v4["mean_s"]) / float(v3["mean_s"])  # type: ignore[arg-type]
    print(f"Cellpose {v4['cellpose']} (bfloat16) / Cellpose {v3['cellpose']}: {ratio:.1f}x the seconds per "
          f"frame ({v4['mean_s']} s vs {v3['mean_s']} s, {v3['device']})")
    if args.v4_float32:
        v4f = run_side(args.venv4 / "bin" / "python", [*common, "--float32"])
        print(f"Cellpose 4 float32 / bfloat16: {float(v4f['mean_s']) / float(v4['mean_s']):.2f}x")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
