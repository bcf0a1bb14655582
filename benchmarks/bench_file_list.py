"""How long napari's event loop stalls while a long file list is set up (a plate of many small files).

Run under a display, e.g.::

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/bench_file_list.py --files 2000

Writes ``--files`` small TIFFs (crops of the real DSB2018 image, ``*_BF.tif``) to a temporary folder, opens
napari with the Batch segmentation dock, waits for its start-up work, then times five steps: the folder
added (found in a thread, listed, every file's metadata read by a worker and checked), a filter typed
that hides 8 files in 9, the filter typed back, a file selected, the list cleared. A QTimer ticks every
5 ms on the GUI thread; a stall is the time between two ticks minus 5 ms. Per step: the longest stall,
the number over 50 ms, and the GUI thread's time in stalls over 16 ms. The load average is printed: on a
shared machine, compare figures taken together (e.g. this commit and an older one through ``git
archive`` and ``PYTHONPATH``). Adding the first files also adds the stream layers (napari's own layer
adds, 80-140 ms each under software OpenGL), and clearing the list removes them (napari runs a full
garbage collection then: 0.3 s with torch loaded, opened from the Plugins menu).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import tifffile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import nuclei_image  # noqa: E402

TICK_S = 0.005


def make_plate(folder: Path, n: int) -> None:
    """``n`` 64 x 64 crops of the real image, named like the wells and fields of a plate."""
    img = nuclei_image()
    for i in range(n):
        y, x = (i * 37) % (img.shape[0] - 64), (i * 53) % (img.shape[1] - 64)
        tifffile.imwrite(folder / f"plate1_well{i // 9:04d}_field{i % 9}_BF.tif", img[y:y + 64, x:x + 64])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=2000, help="how many files the folder holds")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args(argv)

    import napari
    from qtpy.QtCore import QEventLoop, QTimer

    from napari_batchseg._napari._widget import BatchSegWidget

    work = Path(tempfile.mkdtemp(prefix="batchseg-bench-list-"))
    make_plate(work, args.files)
    viewer = napari.Viewer(title="bench_file_list", show=True)
    widget = BatchSegWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Batch segmentation", area="right")

    def pump(seconds: float) -> None:
        loop = QEventLoop()
        QTimer.singleShot(max(int(seconds * 1000), 1), loop.quit)
        loop.exec()

    def wait(cond, timeout: float = 300.0) -> None:
        end = time.perf_counter() + timeout
        while not cond():
            if time.perf_counter() > end:
                raise TimeoutError("the step did not end")
            pump(0.02)

    wait(lambda: "looking for a GPU" not in widget.form.device_label.text(), 120)
    pump(1.0)
    step, gaps, last = ["idle"], [], [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append((now - last[0] - TICK_S, step[0]))
        last[0] = now

    timer = QTimer()
    timer.setInterval(int(TICK_S * 1000))
    timer.timeout.connect(tick)
    timer.start()
    files = widget.files
    steps = (
        ("add folder", lambda: files.add_paths_later([work]),
         lambda: files.list.count() == args.files and not widget.infos.busy and not files.busy),
        ("filter typed", lambda: files.contains.setText("field1,_BF"), lambda: True),
        ("filter back", lambda: files.contains.setText("_BF"), lambda: True),
        ("select a file", lambda: files.list.setCurrentRow(args.files // 2), lambda: True),
        ("clear", files.clear, lambda: True),
    )
    figures = {}
    print(f"{args.files} files, load average {os.getloadavg()[0]:.2f} at the start")
    for name, action, done in steps:
        step[0] = name
        t = time.perf_counter()
        action()
        wait(done)
        pump(0.5)
        g = [x * 1e3 for x, s in gaps if s == name]
        stalled = sum(x for x in g if x > 16) / 1e3
        figures[name] = {"s": round(time.perf_counter() - t, 2), "longest_ms": round(max(g), 1),
                         "over_50ms": sum(x > 50 for x in g), "stalled_s": round(stalled, 2)}
        f = figures[name]
        print(f"{name:>14}: {f['s']:5.1f} s, longest stall {f['longest_ms']:6.1f} ms, "
              f"{f['over_50ms']} over 50 ms, {f['stalled_s']:.2f} s in stalls over 16 ms", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    if args.json:
        Path(args.json).write_text(json.dumps({"files": args.files, "steps": figures}, indent=1))
    timer.stop()
    widget.close()
    viewer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
