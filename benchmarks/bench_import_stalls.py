"""How long other threads stall while a background thread imports torch and Cellpose.

A GUI process imports torch and Cellpose in a worker thread (``_napari/_warmup.detect_device``) while its
event loop keeps drawing. This script imports them in a thread of a fresh child process while the main
thread ticks every 5 ms (like napari's event loop), then allocates for a while (as a run does, which is
when the collections the imports left due fall; ``quiet`` pays its one owed full collection at the end
of the import, as the widget does), and reports the longest stall and the 99th percentile:
``plain`` (``importlib.import_module``) against ``quiet``
(:func:`napari_batchseg.quiet_import.import_quietly`), alternating, each in its own process.
Ratios quiet/plain are printed with the load average.

    .venv/bin/python benchmarks/bench_import_stalls.py --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

MODULES = ["torch", "cellpose.models"]
TICK_S = 0.005


def child(mode: str, heap: str) -> dict[str, float]:
    """Tick in the main thread while another imports; return the stalls (ms)."""
    import numpy as np

    if heap == "napari":  # a GUI process's heap: the collections scan napari's and Qt's objects too
        import napari  # noqa: F401
        import qtpy.QtWidgets  # noqa: F401

    stalls: list[float] = []
    done = threading.Event()

    def importer() -> None:
        if mode == "quiet":
            from napari_batchseg.quiet_import import import_quietly

            import_quietly(MODULES)
            import gc

            gc.collect()  # the one full collection the imports owe, paid as the widget pays it
        else:
            import importlib

            for name in MODULES:
                importlib.import_module(name)
        done.set()

    t0 = time.perf_counter()
    thread = threading.Thread(target=importer)
    last = time.perf_counter()
    thread.start()
    while not done.is_set():
        time.sleep(TICK_S)
        now = time.perf_counter()
        stalls.append((now - last - TICK_S) * 1000)
        last = now
    import_s = time.perf_counter() - t0
    keep = []
    for _ in range(300):  # a run's allocations: the collections the imports left due fall here
        keep.append([object() for _ in range(2000)])
        keep = keep[-50:]
        time.sleep(TICK_S)
        now = time.perf_counter()
        stalls.append((now - last - TICK_S) * 1000)
        last = now
    arr = np.asarray(stalls)
    return {"longest_ms": float(arr.max()), "p99_ms": float(np.percentile(arr, 99)),
            "over_50ms": int((arr > 50).sum()), "import_s": import_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each mode, alternating (default 3)")
    ap.add_argument("--heap", choices=("napari", "bare"), default="napari",
                    help="import napari and Qt first, as in the plugin (default), or not")
    ap.add_argument("--child", choices=("plain", "quiet"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.heap)))
        return
    results: dict[str, list[dict[str, float]]] = {"plain": [], "quiet": []}
    for i in range(args.repeat):
        for mode in ("plain", "quiet"):
            out = subprocess.run([sys.executable, __file__, "--child", mode, "--heap", args.heap],
                                 capture_output=True, text=True, check=True)
            res = json.loads(out.stdout.strip().splitlines()[-1])
            results[mode].append(res)
            load = os.getloadavg()[0]
            print(f"run {i + 1} {mode:5s}: longest {res['longest_ms']:6.0f} ms, p99 {res['p99_ms']:5.1f} ms, "
                  f"> 50 ms: {res['over_50ms']:2d}, import {res['import_s']:.1f} s, load {load:.1f}")
    for key in ("longest_ms", "p99_ms"):
        plain = statistics.median(r[key] for r in results["plain"])
        quiet = statistics.median(r[key] for r in results["quiet"])
        print(f"median {key}: plain {plain:.1f}, quiet {quiet:.1f}, ratio quiet/plain {quiet / plain:.2f}")


if __name__ == "__main__":
    main()
