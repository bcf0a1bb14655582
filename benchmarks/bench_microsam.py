"""micro-sam on the CPU: embedding time and AIS time per 512x512 plane, without and with the cache.

Runs the production path (:class:`napari_batchseg.segmenters.microsam.MicroSamSegmenter`): SAM ViT
encoder at its real 1024 px input, micro-sam's UNETR decoder and seeded watershed (AIS).

Weights: ``--model vit_b_lm`` uses the real model from micro-sam's cache folder (``MICROSAM_CACHEDIR``);
without it (the default, ``--random``) a ``vit_b`` with random weights and a random decoder is built
and saved to a temporary checkpoint. Timings depend on the architecture, not on the weight values, so
both give the same speed; only the labels differ.

Three passes over the same planes:

1. ``cold``  - cache empty: every plane's embeddings are computed (and stored);
2. ``warm``  - same planes, other AIS thresholds: embeddings are read from the cache;
3. ``off``   - cache switched off: embeddings computed again, nothing stored (``--off-planes``).

Usage::

    python benchmarks/bench_microsam.py                  # random vit_b, 2 planes 512x512
    python benchmarks/bench_microsam.py --planes 5 --size 512 --threads 2
    python benchmarks/bench_microsam.py --model vit_b_lm # real weights (must be in the cache)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _planes(n: int, size: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size]
    out = []
    for _ in range(n):
        img = rng.normal(0.1, 0.02, (size, size))
        for _ in range(40):
            cy, cx, r = rng.uniform(0, size), rng.uniform(0, size), rng.uniform(6, 16)
            img += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r**2))
        out.append(img.astype(np.float32))
    return out


def _random_checkpoint(folder: Path) -> Path:
    import torch

    from napari_batchseg.segmenters.microsam._torchvision_compat import ensure_torchvision

    ensure_torchvision()
    from micro_sam.instance_segmentation import get_unetr
    from micro_sam.models.build_sam import build_sam_vit_b

    torch.manual_seed(0)
    sam = build_sam_vit_b()
    unetr = get_unetr(sam.image_encoder, None, "cpu")
    decoder = {k: v for k, v in unetr.state_dict().items() if not k.startswith("encoder")}
    path = folder / "vit_b_random.pt"
    torch.save({"model_state": sam.state_dict(), "decoder_state": decoder}, path)
    return path


def _pass(seg, planes, name: str) -> dict[str, float]:
    emb, ais, tot = [], [], []
    for i, img in enumerate(planes):
        seg.set_context("bench.tif", f"T{i}")
        t0 = time.perf_counter()
        out = seg.segment(img)
        tot.append(time.perf_counter() - t0)
        emb.append(out.info["embedding_s"])
        ais.append(out.info["segmentation_s"])
        print(
            f"  {name:5s} plane {i}: embedding {out.info['embedding_s']:7.3f} s "
            f"({out.info['embedding_cache']}), AIS {out.info['segmentation_s']:6.3f} s, "
            f"{out.info['n_objects']} objects",
            flush=True,
        )
    return {
        "embedding_s": statistics.median(emb),
        "ais_s": statistics.median(ais),
        "total_s": statistics.median(tot),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="micro-sam model in the cache (default: random vit_b)")
    ap.add_argument("--planes", type=int, default=2, help="planes per pass (default 2)")
    ap.add_argument("--off-planes", type=int, default=1, help="planes for the cache-off pass (default 1)")
    ap.add_argument("--size", type=int, default=512, help="plane side in pixels (default 512)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers to this file")
    args = ap.parse_args(argv)

    import torch

    from napari_batchseg.params import SegmentationParams
    from napari_batchseg.segmenters import load_segmenter

    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="bench-microsam-") as tmp:
        tmpdir = Path(tmp)
        cache = tmpdir / "embeddings"
        t0 = time.perf_counter()
        if args.model:
            params = SegmentationParams(method="sam", model=args.model, sam_mode="ais")
            label = args.model
        else:
            ckpt = _random_checkpoint(tmpdir)
            params = SegmentationParams(method="sam", model="vit_b", checkpoint=str(ckpt), sam_mode="ais")
            label = "vit_b (random weights)"
        params.extra["embedding_cache"] = str(cache)
        seg = load_segmenter(params)
        load_s = time.perf_counter() - t0
        planes = _planes(args.planes, args.size)
        print(
            f"micro-sam AIS on CPU: {label}, {args.planes} planes {args.size}x{args.size}, "
            f"torch {torch.__version__}, {torch.get_num_threads()} threads; model load {load_s:.1f} s"
        )
        cold = _pass(seg, planes, "cold")
        seg.configure(center_distance_threshold=0.4, boundary_distance_threshold=0.6)
        warm = _pass(seg, planes, "warm")
        seg.cache = None
        off = _pass(seg, planes[: max(1, args.off_planes)], "off")
        size_mb = sum(f.stat().st_size for f in cache.rglob("*") if f.is_file()) / 1e6

    print()
    print(f"{'per plane (median)':24s} {'embedding s':>12s} {'AIS s':>8s} {'total s':>8s}")
    for name, r in (("cache off", off), ("cache cold (miss+store)", cold), ("cache warm (hit)", warm)):
        print(f"{name:24s} {r['embedding_s']:12.3f} {r['ais_s']:8.3f} {r['total_s']:8.3f}")
    print()
    emb_ratio = off["embedding_s"] / max(warm["embedding_s"], 1e-9)
    tot_ratio = off["total_s"] / max(warm["total_s"], 1e-9)
    print(f"embedding step, uncached / cached:   {emb_ratio:8.1f}x")
    print(f"whole plane, uncached / cached:      {tot_ratio:8.1f}x")
    print(f"cache size: {size_mb / args.planes:.1f} MB per plane")
    result = {
        "model": label,
        "planes": args.planes,
        "size": args.size,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "load_s": load_s,
        "off": off,
        "cold": cold,
        "warm": warm,
        "embedding_speedup": emb_ratio,
        "plane_speedup": tot_ratio,
        "cache_mb_per_plane": size_mb / args.planes,
    }
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
