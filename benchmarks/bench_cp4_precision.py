"""Cellpose 4 on this CPU: seconds per frame in float32 and in bfloat16, and their ratio.

Run with ``.venv-cp4/bin/python benchmarks/bench_cp4_precision.py [SIZE]`` (default 256: one
256 x 256 frame of the DSB2018 nuclei image, tiled to SIZE). The network is CPSAM with random weights
(seed 0; no download): speed does not depend on the weights. Each precision is loaded once, run once
to warm up, then timed on one frame. Prints the CPU's bfloat16 flags and the choice ``--precision
auto`` makes here (:func:`napari_batchseg.segmenters.cellpose.v4.choose_precision`).

Where Cellpose 4 cannot be imported (e.g. a torchvision built for CUDA beside a CPU torch), it times
the same arithmetic without Cellpose: 4 transformer blocks of CPSAM's ViT-L size (width 1024, 16 heads,
MLP 4096) on the 1024 tokens of a 256 x 256 frame (patch 8), float32 against bfloat16, and says so.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile
import torch

ROOT = Path(__file__).resolve().parents[1]


def _blocks_only() -> dict[str, float]:
    """Seconds of 4 ViT-L-sized blocks on 1024 tokens per precision (Cellpose not importable)."""
    torch.manual_seed(0)
    seconds = {}
    for name, dtype in (("float32", torch.float32), ("bfloat16", torch.bfloat16)):
        layer = torch.nn.TransformerEncoderLayer(1024, 16, 4096, batch_first=True, dropout=0.0)
        net = torch.nn.TransformerEncoder(layer, 4, enable_nested_tensor=False).eval().to(dtype)
        x = torch.randn(1, 1024, 1024, dtype=dtype)
        with torch.inference_mode():
            net(x[:, :64])
            t0 = time.perf_counter()
            net(x)
            seconds[name] = time.perf_counter() - t0
    return seconds


def main() -> None:
    from napari_batchseg.segmenters.cellpose.v4 import choose_precision, cpu_bf16_flags

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; CPU bf16 flags: "
          f"{', '.join(cpu_bf16_flags()) or 'none'}; auto chooses {choose_precision('auto', 'cpu')[0]}")
    try:
        from cellpose import models
        from cellpose.vit import CPSAM
    except (ImportError, RuntimeError) as exc:
        print(f"Cellpose 4 not importable ({type(exc).__name__}: {exc}); timing ViT-L-sized blocks instead")
        s = _blocks_only()
        print(f"4 ViT-L blocks, 1024 tokens: float32 {s['float32']:.2f} s, bfloat16 {s['bfloat16']:.2f} s, "
              f"bfloat16/float32 = {s['bfloat16'] / s['float32']:.2f}")
        return
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    img = tifffile.imread(ROOT / "examples" / "data" / "dsb2018_nuclei.tif")
    frame = np.tile(img, (size // img.shape[0] + 1, size // img.shape[1] + 1))[:size, :size]
    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        weights = os.path.join(tmp, "cpsam")
        CPSAM(dtype=torch.bfloat16).save_model(weights)
        seconds = {}
        for bf16 in (False, True):
            model = models.CellposeModel(gpu=False, pretrained_model=weights, use_bfloat16=bf16)
            model.eval(frame[:64, :64], diameter=None)  # warm up
            t0 = time.perf_counter()
            model.eval(frame, diameter=None)
            seconds["bfloat16" if bf16 else "float32"] = time.perf_counter() - t0
    print(f"{size}x{size} frame: float32 {seconds['float32']:.2f} s, bfloat16 {seconds['bfloat16']:.2f} s, "
          f"bfloat16/float32 = {seconds['bfloat16'] / seconds['float32']:.2f}")


if __name__ == "__main__":
    main()
