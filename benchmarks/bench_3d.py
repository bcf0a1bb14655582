"""Peak memory of a volume run (``z_mode`` 3d): a long movie costs no more than one volume.

The engine reads one ``(Z, Y, X)`` volume per time point (no read-ahead for volumes), segments it and
streams its labels to the mask's disk buffer; the mask file is written page by page at the end. So the
peak memory of a ``T x Z x Y x X`` movie should stay at one volume's working set.

Measured in one process: the peak of the Python heap (``tracemalloc``, which counts NumPy's buffers)
while segmenting a one-volume file (the baseline: one volume's working set), then while segmenting a
``T``-volume file of the same volume size; the ratio is printed (goal: <= 1.2). The peak RSS growth of
the process (``ru_maxrss``) is printed beside it.

The input is an uncompressed TIFF written here, read lazily plane by plane (built from the real DSB2018
nuclei image, shifted per slice and frame). The segmenter is a cheap 3D one (Gaussian smoothing,
threshold, connected components in 3D, through the same ``segment_volume`` path as Cellpose) so that
the benchmark measures the engine's memory, not the network's: with Cellpose ``do_3D`` the network's
own working set (flows over three axes) is larger still and is also held once.

Usage::

    .venv/bin/python benchmarks/bench_3d.py              # 30 x 60 x 512 x 512 (about 0.9 GB of input)
    .venv/bin/python benchmarks/bench_3d.py --small      # 6 x 12 x 256 x 256, a quick check
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from _common import nuclei_image
from numpy.typing import NDArray
from scipy import ndimage as ndi

from napari_batchseg.api import segment_files
from napari_batchseg.params import SegmentationParams
from napari_batchseg.segmenters.base import SegmenterBase, SegmentOutput


class Threshold3D(SegmenterBase):
    """Smooth, threshold and label connected components of a whole volume (cheap, deterministic)."""

    name = "threshold3d"
    volume_modes = ("3d",)

    def describe(self) -> dict[str, Any]:
        return {"method": "threshold3d"}

    def segment(self, image: NDArray[Any]) -> SegmentOutput:
        raise NotImplementedError("volumes only")

    def segment_volume(
        self, volume: NDArray[Any], mode: str, anisotropy: float | None, stitch_threshold: float
    ) -> SegmentOutput:
        smooth = ndi.gaussian_filter(np.asarray(volume, np.float32), 1.0)
        labels, n = ndi.label(smooth > smooth.mean() + 0.5 * smooth.std())
        return SegmentOutput(labels.astype(np.uint32, copy=False), info={"objects": int(n)})


def write_movie(path: Path, n_t: int, n_z: int, side: int) -> Path:
    """An uncompressed ``TZYX`` uint16 OME-TIFF written plane by plane (never whole in memory)."""
    base = nuclei_image()
    reps = -(-side // base.shape[0])
    tile = np.tile(base, (reps, reps))[:side, :side]

    def planes() -> Any:
        for t in range(n_t):
            for z in range(n_z):
                yield np.roll(tile, (3 * t, 5 * z), axis=(0, 1))

    tifffile.imwrite(path, planes(), shape=(n_t, n_z, side, side), dtype=np.uint16, ome=True,
                     metadata={"axes": "TZYX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5,
                               "PhysicalSizeZ": 1.0})
    return path


def peak_of_run(image: Path, out: Path) -> tuple[float, float, float]:
    """``(peak traced MB, RSS growth MB, seconds)`` of one 3d run of ``image``."""
    gc.collect()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tracemalloc.reset_peak()
    start_traced = tracemalloc.get_traced_memory()[0]
    t0 = time.perf_counter()
    params = SegmentationParams(z_mode="3d", anisotropy=2.0, output_dir=str(out), existing="overwrite")
    batch = segment_files([image], params, segmenter=Threshold3D())
    seconds = time.perf_counter() - t0
    report = batch.reports[0]
    if report.status != "done":
        sys.exit(f"run failed: {report.reason}")
    peak = (tracemalloc.get_traced_memory()[1] - start_traced) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - rss0
    return peak, rss, seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="6 x 12 x 256 x 256 instead of 30 x 60 x 512 x 512")
    ap.add_argument("--shape", type=int, nargs=3, metavar=("T", "Z", "SIDE"), help="another movie shape")
    args = ap.parse_args()
    n_t, n_z, side = (6, 12, 256) if args.small else (30, 60, 512)
    if args.shape:
        n_t, n_z, side = args.shape
    with tempfile.TemporaryDirectory(prefix="bench3d-", dir=Path(__file__).parent) as tmp:
        folder = Path(tmp)
        one = write_movie(folder / "one.ome.tif", 1, n_z, side)
        movie = write_movie(folder / "movie.ome.tif", n_t, n_z, side)
        volume_mb = n_z * side * side * 2 / 2**20
        print(f"volume {n_z} x {side} x {side} uint16 = {volume_mb:.0f} MB; movie {n_t} volumes = "
              f"{volume_mb * n_t:.0f} MB")
        tracemalloc.start()
        base_peak, base_rss, base_s = peak_of_run(one, folder / "out1")  # also loads every module
        base_peak, base_rss, base_s = peak_of_run(one, folder / "out1")
        peak, rss, seconds = peak_of_run(movie, folder / "outT")
        tracemalloc.stop()
    print(f"one volume (baseline): peak {base_peak:.0f} MB traced, RSS growth {base_rss:.0f} MB, "
          f"{base_s:.1f} s")
    print(f"{n_t} volumes: peak {peak:.0f} MB traced, RSS growth {rss:.0f} MB, {seconds:.1f} s")
    ratio = peak / base_peak
    print(f"peak ratio movie / one volume: {ratio:.2f} (goal <= 1.20) -> {'OK' if ratio <= 1.2 else 'OVER'}")


if __name__ == "__main__":
    main()
