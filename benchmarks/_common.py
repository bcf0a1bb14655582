"""Shared pieces of the benchmark scripts: test movies cut from a real image, the model, timing."""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import tifffile

ROOT = Path(__file__).resolve().parents[1]
STARTER = ROOT / "examples" / "models" / "batchseg_nuclei_cp3"
try:  # the installed package (or PYTHONPATH) first; the checkout's src/ when it is not installed
    import napari_batchseg  # noqa: F401
except ImportError:
    sys.path.insert(0, str(ROOT / "src"))


def nuclei_image() -> np.ndarray:
    """The real DSB2018 nuclei image (512x512 uint16): the copy committed in examples/data."""
    return tifffile.imread(ROOT / "examples" / "data" / "dsb2018_nuclei.tif")


def movie_frames(n: int, size: int = 256, seed: int = 0) -> np.ndarray:
    """``n`` different ``size`` x ``size`` frames: crops of the real image at shifting places, flipped
    and rotated, so that every frame has real nuclei and no two frames are the same array."""
    img = nuclei_image()
    rng = np.random.default_rng(seed)
    frames = np.empty((n, size, size), img.dtype)
    for i in range(n):
        y, x = rng.integers(0, img.shape[0] - size + 1), rng.integers(0, img.shape[1] - size + 1)
        crop = img[y:y + size, x:x + size]
        crop = np.rot90(crop, i % 4)
        frames[i] = np.fliplr(crop) if (i // 4) % 2 else crop
    return frames


def write_movie(path: Path, n: int, size: int = 256, seed: int = 0) -> Path:
    """An OME-TIFF ``TYX`` movie of :func:`movie_frames` (written frame by frame)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(path, movie_frames(n, size, seed), ome=True, metadata={"axes": "TYX"})
    return path


def model_path(arg: str | None) -> str:
    """The model to benchmark: ``--model`` or the project's starter model."""
    if arg:
        return arg
    if not STARTER.exists():
        sys.exit(f"the project's starter model is missing: {STARTER} (train it or pass --model)")
    return str(STARTER)


def kept_flows_run(folder: Path, model: str) -> Path:
    """Segment the real 512x512 nuclei image with ``--keep-flows`` into ``folder``; its run log."""
    from napari_batchseg.cli import main as batchseg

    image = ROOT / "examples" / "data" / "dsb2018_nuclei.tif"
    assert batchseg(["segment", str(image), "--model", model, "--output-dir", str(folder),
                     "--keep-flows", "--quiet"]) == 0
    return folder / "dsb2018_nuclei_vSM.log"


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, MiB.

    Linux: ``VmHWM`` of ``/proc/self/status`` (this program only; ``ru_maxrss`` would also count the
    parent's memory at the time it forked us). Elsewhere ``ru_maxrss`` (KiB on Linux, bytes on macOS).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / (1024 if sys.platform == "darwin" else 1)


def machine() -> str:
    """One line about where the figures were taken."""
    try:
        import torch

        torch_info = f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    except ImportError:
        torch_info = "no torch"
    try:
        load = "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = ""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{platform.platform()}, {cores} cores, {torch_info}, {load}"


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Timer:
    """``with Timer() as t: ...``; then ``t.seconds`` (wall) and ``t.cpu`` (CPU seconds of this
    process, all threads: less disturbed than wall time when other programs share the cores)."""

    def __enter__(self) -> Timer:
        self.t0 = time.perf_counter()
        self.c0 = _cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t0
        self.cpu = _cpu_seconds() - self.c0


def compare_runs(runs, repeats: int, run_one) -> tuple[dict[str, list[float]], dict[str, bool]]:
    """Run every ``(name, options)`` of ``runs`` ``repeats`` times, round robin (a change of machine load
    then hits every run alike). ``run_one(index, name, options) -> (seconds, masks)``. Returns the
    seconds of each run by name, and whether each gave the same masks as the very first run."""
    times: dict[str, list[float]] = {name: [] for name, _ in runs}
    same: dict[str, bool] = {}
    ref = None
    for _ in range(repeats):
        for i, (name, options) in enumerate(runs):
            seconds, masks = run_one(i, name, options)
            times[name].append(seconds)
            ref = masks if ref is None else ref
            same[name] = same.get(name, True) and masks.keys() == ref.keys() and all(
                np.array_equal(masks[k], ref[k]) for k in masks)
    return times, same


def print_comparison(label: str, width: int, ratio: str, runs, times, same, total: int) -> None:
    """Table of best time, frames/s, ratio to the first run, identical masks and every run."""
    ref_t = min(times[runs[0][0]])
    rw = max(9, len(ratio))
    print(f"{label:{width}s} {'best s':>7s} {'frames/s':>9s} {ratio:>{rw}s}  identical  runs (s)")
    for name, _ in runs:
        best = min(times[name])
        listed = ", ".join(f"{x:.1f}" for x in times[name])
        print(f"{name:{width}s} {best:7.2f} {total / best:9.3f} {ref_t / best:{rw}.3f}  {same[name]!s:9s}  "
              f"{listed}")

