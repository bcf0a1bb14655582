"""How long the napari event loop stalls while the Batch segmentation widget works: a fixed scenario.

Run under a display (the GUI must really draw), e.g.::

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/bench_ui.py
    xvfb-run -a ... bench_ui.py --model examples/models/batchseg_nuclei_cp3   # the real Cellpose model

``--small N`` (a batch of N small files), ``--early`` (Run right after opening) and ``--clear`` (the list
emptied and filled again before Run) are the other
scenarios. Scenario (always the same): three real-size inputs, 700 x 1100 pixels (the real DSB2018
nuclei image, upscaled and cropped at shifting places): a 6-frame and a 4-frame OME-TIFF movie and a
single image, plus the real E. coli ND2 time-lapse of ``examples/`` (a different size: one more kind of file
switch). Steps: add the folder; first Run click; the batch streams into the layers, switching file
three times; reopen the first result from the status table; apply a correction and save it; done.

A QTimer ticks every 5 ms on the GUI thread; a stall is the time between two ticks minus 5 ms. The
script prints the longest stall, the 99th percentile, the number of stalls over 50 ms (and the worst
ones, with the step they happened in) and the load average: on a shared machine other processes take
CPU time from the GUI thread too, so compare figures taken at similar loads. The segmenter is by
default a stand-in (threshold + a fixed delay per frame, like a fast model) so that the figures are
about the widget; ``--model`` runs Cellpose instead.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, nuclei_image  # noqa: E402

TICK_MS = 5
SHAPE = (700, 1100)


def real_size_movie(n: int, seed: int) -> np.ndarray:
    """``n`` frames of 700 x 1100: the real image upscaled x3, cropped at shifting places."""
    img = np.kron(nuclei_image(), np.ones((3, 3), np.uint16))  # 1536 x 1536
    rng = np.random.default_rng(seed)
    out = np.empty((n, *SHAPE), img.dtype)
    for i in range(n):
        y = int(rng.integers(0, img.shape[0] - SHAPE[0]))
        x = int(rng.integers(0, img.shape[1] - SHAPE[1]))
        out[i] = img[y:y + SHAPE[0], x:x + SHAPE[1]]
    return out


def make_stills(folder: Path, n: int) -> list[Path]:
    """``--stills``: ``n`` single 700 x 1100 images (a plate screen: many small outputs in a row)."""
    folder.mkdir(parents=True, exist_ok=True)
    frames = real_size_movie(n, 4)
    for i in range(n):
        tifffile.imwrite(folder / f"a_still{i:03d}_BF.ome.tif", frames[i], ome=True,
                         metadata={"axes": "YX", "PhysicalSizeX": 0.2, "PhysicalSizeY": 0.2})
    return sorted(folder.iterdir())


def make_small(folder: Path, n: int) -> list[Path]:
    """``--small``: ``n`` small single images (crops of the real image), 256 x 256 and 200 x 320 in turn:
    a batch of many small files, the layers switching (and changing size) from file to file."""
    folder.mkdir(parents=True, exist_ok=True)
    img = nuclei_image()
    rng = np.random.default_rng(5)
    for i in range(n):
        h, w = (256, 256) if i % 2 == 0 else (200, 320)
        y = int(rng.integers(0, img.shape[0] - h))
        x = int(rng.integers(0, img.shape[1] - w))
        tifffile.imwrite(folder / f"a_small{i:03d}_BF.ome.tif", img[y:y + h, x:x + w], ome=True,
                         metadata={"axes": "YX", "PhysicalSizeX": 0.3, "PhysicalSizeY": 0.3})
    return sorted(folder.iterdir())


def make_inputs(folder: Path, movies: tuple[int, int] = (6, 4)) -> list[Path]:
    """The scenario's input files (see the module docstring); ``movies``: frames of the two movies."""
    folder.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(folder / "a_movie6_BF.ome.tif", real_size_movie(movies[0], 1), ome=True,
                     metadata={"axes": "TYX", "PhysicalSizeX": 0.2, "PhysicalSizeY": 0.2})
    tifffile.imwrite(folder / "b_movie4_BF.ome.tif", real_size_movie(movies[1], 2), ome=True,
                     metadata={"axes": "TYX", "PhysicalSizeX": 0.2, "PhysicalSizeY": 0.2})
    tifffile.imwrite(folder / "c_still_BF.ome.tif", real_size_movie(1, 3)[0], ome=True,
                     metadata={"axes": "YX", "PhysicalSizeX": 0.2, "PhysicalSizeY": 0.2})
    shutil.copy(ROOT / "examples" / "data" / "arcadia_ecoli_gfp_timelapse.nd2", folder / "d_ecoli_BF.nd2")
    return sorted(folder.iterdir())


#: milliseconds the GUI thread spent drawing: composing napari's window (Qt UpdateRequest events: the
#: canvas drawn by OpenGL, software OpenGL under Xvfb, and the widgets around it) and any draw of the vispy
#: canvas outside a composition (``paintGL``), summed since the start
COMPOSE_MS = [0.0]
#: each composition of napari's window (``--compositions``): (step, ms, canvas drawn inside it, widgets
#: painted, start)
COMPOSITIONS: list[tuple[str, float, bool, frozenset[str], float]] = []
#: the scenario's step, for :data:`COMPOSITIONS`
STEP = [lambda: ""]
#: filled while a composition runs: what it painted (the app-wide filter of ``--compositions``)
_PAINTED: set[str] = set()
_CANVAS_DRAWN = [False]


def time_window_composition() -> None:
    """Count the time spent drawing napari's window (see :data:`COMPOSE_MS`)."""
    from napari._qt.qt_main_window import _QtMainWindow
    from qtpy.QtCore import QEvent
    from vispy.app.backends import _qt as vispy_qt

    event = _QtMainWindow.event
    update = QEvent.Type.UpdateRequest
    inside = [False]

    def timed(self, e):
        if e.type() != update or inside[0]:
            return event(self, e)
        t0 = time.perf_counter()
        inside[0] = True
        _PAINTED.clear()
        _CANVAS_DRAWN[0] = False
        try:
            return event(self, e)
        finally:
            inside[0] = False
            ms = (time.perf_counter() - t0) * 1000
            COMPOSE_MS[0] += ms
            COMPOSITIONS.append((STEP[0](), ms, _CANVAS_DRAWN[0], frozenset(_PAINTED), t0))

    _QtMainWindow.event = timed
    paint = vispy_qt.CanvasBackendDesktop.paintGL

    def timed_paint(self):
        if inside[0]:
            _CANVAS_DRAWN[0] = True
            return paint(self)
        t0 = time.perf_counter()
        try:
            return paint(self)
        finally:
            ms = (time.perf_counter() - t0) * 1000
            COMPOSE_MS[0] += ms
            COMPOSITIONS.append((STEP[0](), ms, True, frozenset({"(canvas alone)"}), t0))

    vispy_qt.CanvasBackendDesktop.paintGL = timed_paint


def gl_renderer(viewer: Any) -> str:
    """The OpenGL renderer that draws napari's canvas (e.g. llvmpipe: software; a GPU's name: hardware)."""
    try:
        from vispy.gloo import gl

        canvas = viewer.window._qt_viewer.canvas
        canvas.native.makeCurrent()  # the QOpenGLWidget's context
        return f"{gl.glGetParameter(gl.GL_RENDERER)} ({gl.glGetParameter(gl.GL_VERSION)})"
    except Exception as exc:  # noqa: BLE001 - a figure to report, never a reason to stop
        return f"unknown ({exc})"


def watch_paints() -> Any:
    """Note which widgets each composition paints (``--compositions``): an application-wide event filter."""
    from qtpy.QtCore import QEvent, QObject
    from qtpy.QtWidgets import QApplication

    paint = QEvent.Type.Paint

    class Filter(QObject):
        def eventFilter(self, obj, event):  # noqa: N802 - Qt override
            if event.type() == paint:
                _PAINTED.add(type(obj).__name__)
            return False

    f = Filter()
    QApplication.instance().installEventFilter(f)
    return f


def compositions_summary() -> list[str]:
    """Per step: how many compositions, how long; the most frequent sets of painted widgets."""
    from collections import Counter, defaultdict

    out = []
    steps: dict[str, list[float]] = defaultdict(list)
    kinds: Counter[tuple[str, bool, frozenset[str]]] = Counter()
    kind_ms: dict[tuple[str, bool, frozenset[str]], float] = defaultdict(float)
    for step, ms, canvas, painted, _t in COMPOSITIONS:
        if step.startswith("widget open"):
            continue
        steps[step].append(ms)
        key = (step, canvas, painted)
        kinds[key] += 1
        kind_ms[key] += ms
    for step, v in steps.items():
        a = np.array(v)
        out.append(f"{step}: {len(a)} compositions, {a.sum():.0f} ms, median {np.median(a):.1f} ms, "
                   f"{int((a > 16).sum())} over 16 ms")
    for key, n in kinds.most_common(30):
        step, canvas, painted = key
        out.append(f"  {n:3d} x {kind_ms[key] / n:5.1f} ms [{step}] canvas={'y' if canvas else 'n'} "
                   f"{sorted(painted)[:8]}{'...' if len(painted) > 8 else ''}")
    return out


class FullCollections:
    """Python's generation-2 garbage collections (they stop every thread) during the scenario, in ms."""

    def __init__(self) -> None:
        self.active = False
        self.durations: list[tuple[float, str]] = []
        self._t0 = 0.0
        self._where = ""
        self.step = lambda: ""
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if info["generation"] != 2 or not self.active:
            return
        if phase == "start":
            self._t0 = time.perf_counter()
            # the code whose allocation set it off (which thread, doing what)
            frames = [f"{Path(f.filename).name}:{f.name}" for f in traceback.extract_stack(limit=6)[:-1]]
            self._where = " <- ".join(reversed(frames))
        else:
            where = f"{threading.current_thread().name}: {self._where}"
            ms = round((time.perf_counter() - self._t0) * 1000, 1)
            self.durations.append((ms, f"{self.step()} ({where})"))

    def summary(self) -> list[tuple[float, str]]:
        return self.durations


GC = FullCollections()


class StackSampler:
    """Where the GUI thread is while a tick is late (``--stacks``): a thread samples its stack every 10 ms.

    Each sample also keeps the innermost frames of the other threads (a GUI thread that waits in
    ``sleep`` or ``processEvents`` is waiting for the GIL one of them holds).
    """

    def __init__(self, probe: Probe) -> None:
        from collections import Counter

        self.probe = probe
        self.counts: Counter[tuple[str, str]] = Counter()
        self.samples: list[tuple[float, str, str]] = []  # (time, GUI thread's stack, other threads)
        self.main = threading.main_thread().ident
        threading.Thread(target=self._run, daemon=True, name="bench-sampler").start()

    @staticmethod
    def _where(frame: Any, depth: int) -> str:
        import traceback

        stack = traceback.extract_stack(frame)[-depth:]
        return " <- ".join(f"{Path(f.filename).name}:{f.name}" for f in reversed(stack))

    def _run(self) -> None:
        me = threading.get_ident()
        names = {}
        while True:
            time.sleep(0.01)
            try:
                if not self.probe.timer.isActive() or time.perf_counter() - self.probe.last < 0.03:
                    continue
            except RuntimeError:  # the scenario is over (its timer deleted)
                return
            frames = sys._current_frames()
            frame = frames.get(self.main)
            if frame is None:
                continue
            key = self._where(frame, 10)
            self.counts[(self.probe.step, key)] += 1
            if len(names) != len(frames):
                names = {t.ident: t.name for t in threading.enumerate()}
            others = "; ".join(f"{names.get(i, i)}: {self._where(f, 3)}" for i, f in frames.items()
                               if i not in (self.main, me))
            self.samples.append((time.perf_counter(), key, others))

    def top(self, n: int = 25) -> list[str]:
        return [f"{c * 10} ms [{step}] {key}" for (step, key), c in self.counts.most_common(n)]

    def slowest(self, n: int = 12, by_total: bool = False) -> list[str]:
        """The ``n`` longest stalls less composition (or in all), each with the samples taken during it."""
        p = self.probe
        gaps = sorted(zip(p.rest, p.records, p.spans, strict=True), reverse=True,
                      key=lambda g: g[1][0] if by_total else g[0])
        if by_total:  # the scenario's steps (opening the widget has its own figures)
            gaps = [g for g in gaps if not g[1][1].startswith("widget open")]
        out = []
        for rest, (stall, step), (t0, t1) in gaps[:n]:
            out.append(f"--- {rest:.1f} ms less composition ({stall:.1f} ms in all) [{step}]")
            out += [f"    GUI: {key}\n      others: {others}"
                    for t, key, others in self.samples if t0 <= t <= t1]
        return out


class EventTrace:
    """Every event Qt hands to an object of the GUI thread: when, which type, to what (``--events``).

    An application-wide event filter; the time from one event to the next is roughly what handling the
    first took (events sent from inside a handler, e.g. the paint events of a composition, cut it short).
    """

    def __init__(self, probe: Probe) -> None:
        from qtpy.QtCore import QEvent, QObject
        from qtpy.QtWidgets import QApplication

        trace = self
        self.probe = probe
        self.log: list[tuple[float, int, str]] = []

        class Filter(QObject):
            def eventFilter(self, obj, event):  # noqa: N802 - Qt override
                try:
                    name = type(obj).__name__
                    if name == "QTimer" or name.endswith("Timer"):
                        name = f"{name}({obj.interval() if hasattr(obj, 'interval') else ''})"
                    elif event.type() == QEvent.Type.Resize:
                        old, new = event.oldSize(), event.size()
                        text = obj.text()[:40] if hasattr(obj, "text") else ""
                        name = f"{name} {old.width()}x{old.height()} -> {new.width()}x{new.height()} {text!r}"
                    trace.log.append((time.perf_counter(), int(event.type().value), name))
                except Exception:  # noqa: BLE001 - a diagnostic never breaks the scenario
                    pass
                return False

        self.filter = Filter()
        QApplication.instance().installEventFilter(self.filter)

    def slowest(self, n: int = 8) -> list[str]:
        """The ``n`` longest stalls of the scenario, each with the events handled during it."""
        from bisect import bisect_left

        from qtpy.QtCore import QEvent

        def type_name(value: int) -> str:
            try:
                return QEvent.Type(value).name
            except ValueError:
                return str(value)

        p = self.probe
        times = [t for t, _, _ in self.log]
        gaps = sorted(zip(p.records, p.spans, p.rest, strict=True), key=lambda g: -g[0][0])
        gaps = [g for g in gaps if not g[0][1].startswith("widget open")][:n]
        out = []
        for (stall, step), (t0, t1), rest in gaps:
            out.append(f"--- {stall:.1f} ms ({rest:.1f} ms less composition) [{step}]")
            i = bisect_left(times, t0)
            while i < len(self.log) and self.log[i][0] <= t1:
                t, kind, name = self.log[i]
                nxt = self.log[i + 1][0] if i + 1 < len(self.log) else t1
                if nxt - t > 0.002:
                    out.append(f"    +{(t - t0) * 1000:5.1f} ms  {(nxt - t) * 1000:5.1f} ms  "
                               f"{type_name(kind)} -> {name}")
                i += 1
        return out


class Probe:
    """Gaps between ticks of a 5 ms QTimer, labelled with the scenario's step.

    Each gap is also split: the part spent composing the window (drawing, see :data:`COMPOSE_MS`) and
    the rest (Python: the widget, napari's layer updates, Qt widgets' own work).
    """

    def __init__(self) -> None:
        from qtpy.QtCore import QTimer

        self.timer = QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.step = "idle"
        self.records: list[tuple[float, str]] = []  # (stall ms, step)
        self.rest: list[float] = []  # stall ms minus the window composition inside it
        self.spans: list[tuple[float, float]] = []  # (start, end) of each gap
        #: (CPU ms of the GUI thread in the gap, step): what the GUI thread itself computed, whatever other
        #: processes take (on a loaded machine the wall-clock stalls mostly measure the load)
        self.cpu: list[tuple[float, str]] = []
        self.last = 0.0
        self.last_cpu = 0.0
        self.composed = 0.0

    def start(self) -> None:
        self.last = time.perf_counter()
        self.last_cpu = time.thread_time()
        self.timer.start()

    def _tick(self) -> None:
        cpu = time.thread_time()
        self.cpu.append(((cpu - self.last_cpu) * 1000, self.step))
        self.last_cpu = cpu
        now = time.perf_counter()
        stall = max((now - self.last) * 1000 - TICK_MS, 0.0)
        self.records.append((stall, self.step))
        self.spans.append((self.last, now))
        self.rest.append(max(stall - (COMPOSE_MS[0] - self.composed), 0.0))
        self.last, self.composed = now, COMPOSE_MS[0]

    def summary(self) -> dict:
        stalls = np.array([s for s, _ in self.records]) if self.records else np.zeros(1)
        worst = sorted(self.records, reverse=True)[:8]
        return {
            "ticks": len(self.records),
            "longest_stall_ms": round(float(stalls.max()), 1),
            "p99_ms": round(float(np.percentile(stalls, 99)), 1),
            "stalls_over_50ms": int((stalls > 50).sum()),
            "stalls_over_16ms": int((stalls > 16).sum()),
            "worst": [(round(s, 1), step) for s, step in worst],
            # per step: longest stall, p99, stalls over 50 ms, stalls over 16 ms, ticks
            "by_step": {
                step: [round(float(v.max()), 1), round(float(np.percentile(v, 99)), 1), int((v > 50).sum()),
                       int((v > 16).sum()), len(v)]
                for step in dict.fromkeys(st for _, st in self.records)
                for v in [np.array([s for s, st in self.records if st == step])]
            },
            # per step: longest, p99, stalls over 50 ms, stalls over 16 ms
            "by_step_without_composition": {
                step: [round(float(v.max()), 1), round(float(np.percentile(v, 99)), 1), int((v > 50).sum()),
                       int((v > 16).sum())]
                for step in dict.fromkeys(st for _, st in self.records)
                for v in [np.array([r for r, (_, st) in zip(self.rest, self.records, strict=True)
                                    if st == step])]
            },
            # the issue's scenario (from adding files on): without the widget's opening
            "after_open": self._after_open(),
            "after_open_without_composition": self.without_composition(),
            # the GUI thread's own CPU time per gap (longest, p99, over 50 ms), per step
            "gui_cpu_by_step": {
                step: [round(float(v.max()), 1), round(float(np.percentile(v, 99)), 1), int((v > 50).sum())]
                for step in dict.fromkeys(st for _, st in self.cpu)
                for v in [np.array([c for c, st in self.cpu if st == step])]
            },
            "gui_cpu_worst": [(round(c, 1), st) for c, st in sorted(self.cpu, reverse=True)[:8]],
            "gui_cpu_total_s_by_step": {st: round(sum(c for c, s in self.cpu if s == st) / 1000, 2)
                                        for st in dict.fromkeys(s for _, s in self.cpu)},
        }

    def without_composition(self) -> dict:
        """The stalls (from adding files on) less the window composition inside each."""
        v = np.array([r for r, (_, st) in zip(self.rest, self.records, strict=True)
                      if not st.startswith("widget open")] or [0.0])
        return {"longest_stall_ms": round(float(v.max()), 1), "p99_ms": round(float(np.percentile(v, 99)), 1),
                "stalls_over_50ms": int((v > 50).sum()), "stalls_over_16ms": int((v > 16).sum()),
                "composition_s": round(COMPOSE_MS[0] / 1000, 1)}

    def _after_open(self) -> dict:
        v = np.array([s for s, st in self.records if not st.startswith("widget open")] or [0.0])
        return {"longest_stall_ms": round(float(v.max()), 1), "p99_ms": round(float(np.percentile(v, 99)), 1),
                "stalls_over_50ms": int((v > 50).sum()), "stalls_over_16ms": int((v > 16).sum()),
                "ticks": len(v)}


def main(argv: list[str] | None = None) -> int:
    """Run the scenario; print (and with ``--json``, write) the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="Cellpose model (default: a stand-in segmenter, 0.25 s per frame)")
    ap.add_argument("--delay", type=float, default=0.25, help="stand-in segmenter: seconds per frame")
    ap.add_argument("--movie-frames", type=int, nargs=2, default=(6, 4), metavar=("A", "B"),
                    help="frames of the two 700 x 1100 movies (default 6 4; fewer for a real model on a CPU)")
    ap.add_argument("--stills", type=int, default=0, metavar="N",
                    help="another scenario: N single images instead of the movies (many short outputs)")
    ap.add_argument("--small", type=int, default=0, metavar="N",
                    help="instead of the fixed inputs: a batch of N small single images (256 x 256 and "
                         "200 x 320 in turn)")
    ap.add_argument("--early", action="store_true",
                    help="Run right after opening: files added and Run clicked as soon as the widget is "
                         "docked, without waiting for its start-up work (device detection)")
    ap.add_argument("--launcher", action="store_true",
                    help="open the widget as `batchseg gui` does: its start-up work (torch, Cellpose, the "
                         "device detection and their full garbage collection) done before napari's window "
                         "(_napari/_launch.preload)")
    ap.add_argument("--clear", action="store_true",
                    help="after adding the files, clear the list (the hidden stream layers are removed) and "
                         "add them again before Run: what emptying the list costs")
    ap.add_argument("--no-hold", action="store_true",
                    help="the widget's repaint hold off (_napari/_repaint.py): whether it is still needed")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--stacks", action="store_true",
                    help="also print where the GUI thread was during stalls (sampled every 10 ms)")
    ap.add_argument("--stacks-by-total", action="store_true",
                    help="with --stacks: the slowest stalls counting drawing too (default: less drawing)")
    ap.add_argument("--pump", choices=("loop", "sleep"), default="loop",
                    help="how the script runs Qt between its steps: Qt's event loop (default, as napari) "
                         "or processEvents() with 2 ms sleeps in between (earlier figures: a sleep may add "
                         "up to 2 ms to a measured stall)")
    ap.add_argument("--compositions", action="store_true",
                    help="also print each step's compositions of the window and which widgets they painted")
    ap.add_argument("--events", action="store_true",
                    help="also print the Qt events handled during the longest stalls (how long each took)")
    ap.add_argument("--profile", help="write a cProfile of the GUI thread (from the first Run) to this file")
    ap.add_argument("--cancel-model", metavar="MODEL",
                    help="instead: Cancel timing with this Cellpose model on one 700 x 1100 frame (CPU)")
    args = ap.parse_args(argv)

    import napari
    from qtpy.QtCore import QEventLoop, QTimer
    from qtpy.QtWidgets import QApplication

    from napari_batchseg._napari._widget import BatchSegWidget
    from napari_batchseg.testing import ThresholdSegmenter
    from napari_batchseg.view.layer_files import layer_meta

    if args.no_hold:  # layer work no longer holds the window's repaint (the timers still step aside)
        import napari_batchseg._napari._repaint as repaint

        repaint.repaint_hold = lambda _anchor: None
    time_window_composition()
    work = Path(tempfile.mkdtemp(prefix="batchseg-bench-ui-"))
    if args.cancel_model:
        return cancel_timing(args.cancel_model, work, args.json)
    if args.stills:
        files = make_stills(work / "data", args.stills)
    elif args.small:
        files = make_small(work / "data", args.small)
    else:
        files = make_inputs(work / "data", tuple(args.movie_frames))
    preload_s = None
    if args.launcher:
        from napari_batchseg._napari._launch import preload

        t_pre = time.perf_counter()
        preload(freeze=True)
        preload_s = round(time.perf_counter() - t_pre, 2)
    viewer = napari.Viewer(title="bench_ui", show=True)
    viewer.window._qt_window.resize(1500, 950)
    app = QApplication.instance()

    def pump(seconds: float) -> None:
        if args.pump == "loop":  # Qt's event loop, as napari runs it (app.exec): it waits only when idle
            loop = QEventLoop()
            QTimer.singleShot(max(int(seconds * 1000), 1), loop.quit)
            loop.exec()
            return
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.002)

    def wait(cond, timeout: float) -> None:
        end = time.perf_counter() + timeout
        while not cond() and time.perf_counter() < end:
            pump(0.02)
        if not cond():
            raise TimeoutError("the scenario did not reach its next step")

    t_open = time.perf_counter()
    widget = BatchSegWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Batch segmentation", area="right")
    open_s = time.perf_counter() - t_open
    renderer = gl_renderer(viewer)
    probe = Probe()
    probe.step = "widget open (start-up work)"
    probe.start()
    sampler = StackSampler(probe) if args.stacks else None
    trace = EventTrace(probe) if args.events else None
    paints = watch_paints() if args.compositions else None
    STEP[0] = lambda: probe.step
    t_ready = time.perf_counter()
    # --early: the start-up work then falls in the scenario's steps (from adding files on)
    early = args.early

    def early_skip(cond):
        return (lambda: True) if early else cond

    # older code shaped hidden stream layers in idle steps after the dock opened (``idle_left``): waited
    # for, so that the same scenario can be measured on an old commit (``git archive``); none now
    wait(early_skip(lambda: getattr(widget.streamer, "prepared", None) is not False
                    and getattr(getattr(widget.streamer, "scheduler", None), "idle_left", 0) == 0), 30)
    ready_s = time.perf_counter() - t_ready
    # the widget's own start-up work (device detection, which imports torch and Cellpose in a thread) is
    # part of opening it; the scenario starts when it is over, as it does for a user setting up a batch
    wait(early_skip(lambda: "looking for a GPU" not in widget.form.device_label.text()), 120)
    startup_s = time.perf_counter() - t_ready
    pump(0.05 if early else 1.0)
    if args.model:
        widget.form.model.setCurrentText("User trained model…")
        widget.form.model_path.setText(args.model)
    else:
        delay = args.delay
        widget.controller.segmenter_factory = lambda _p: ThresholdSegmenter(delay)
    GC.step = lambda: probe.step
    GC.active = True
    probe.step = "add files"
    # (fallbacks: the same scenario runs against older versions of the widget, for comparison)
    getattr(widget.files, "add_paths_later", widget.files.add_paths)([work / "data"])
    wait(lambda: len(widget.files.files()) == len(files) and not widget.infos.busy, 60)
    pump(0.05 if early else 0.5)
    if args.clear:  # the list emptied: the hidden stream layers go; then the files listed again
        wait(lambda: len(viewer.layers) == 2, 60)
        pump(0.5)
        probe.step = "clear the file list"
        widget.files.clear_btn.click()
        wait(lambda: len(viewer.layers) == 0, 60)
        pump(1.0)
        probe.step = "add files again"
        getattr(widget.files, "add_paths_later", widget.files.add_paths)([work / "data"])
        wait(lambda: len(widget.files.files()) == len(files) and not widget.infos.busy
             and len(viewer.layers) == 2, 60)
        pump(0.5)
    probe.step = "first Run (right after opening)" if early else "first Run"
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t_run = time.perf_counter()
    if not widget.run():
        raise SystemExit(f"Run refused: {widget.message.text()}")
    click_ms = (time.perf_counter() - t_run) * 1000
    # a Run clicked during the widget's start-up work waits for it (this code); older code started at once
    wait(lambda: widget.controller.running or not widget.running, 300)
    started_s = time.perf_counter() - t_run
    pump(1.0)
    probe.step = "batch (streaming, file switches)"
    wait(lambda: not widget.running, 1800)
    run_s = time.perf_counter() - t_run
    pump(0.5)
    probe.step = "reopen from the status table"
    widget.status.table.cellDoubleClicked.emit(0, 0)
    first = files[0].name.split("_BF")[0]
    wait(lambda: any(layer_meta(lay).get("role") == "mask" and lay.name.startswith(first)
                     for lay in viewer.layers) and getattr(widget.streamer, "settled", True), 60)
    pump(1.0)
    probe.step = "select the mask layer (napari: layer controls)"
    labels = next(lay for lay in viewer.layers if layer_meta(lay).get("role") == "mask")
    viewer.layers.selection.active = labels
    pump(0.5)
    probe.step = "correct and save"
    widget.correction.all_frames.setChecked(True)
    widget.correction.border_btn.click()
    wait(lambda: not getattr(widget.correction, "busy", False), 60)
    widget.correction.save_in_background()
    wait(lambda: not getattr(widget.correction, "saving", False), 120)
    pump(1.0)
    probe.timer.stop()
    if trace is not None:
        QApplication.instance().removeEventFilter(trace.filter)
    GC.active = False
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    figures = {
        **probe.summary(),
        "load_average_1_5_15": [round(v, 2) for v in os.getloadavg()],
        "cpus": os.cpu_count(),
        "gl_renderer": renderer,
        "widget_open_s": round(open_s, 2),
        "stream_layers_ready_s": round(ready_s, 2),
        "startup_work_done_s": round(startup_s, 2),
        "full_gc_ms_after_open": GC.summary(),
        "run_s": round(run_s, 1),
        "run_click_ms": round(click_ms, 1),
        "run_started_after_s": round(started_s, 2),
        "segmenter": args.model or f"stand-in, {args.delay} s/frame",
        "scenario": ("launcher, " if args.launcher else "") + ("early Run, " if args.early else "")
        + ("list cleared and filled again, " if args.clear else "")
        + (f"{args.small} small files" if args.small else f"{args.stills} stills" if args.stills
           else "fixed"),
        "repaint_hold": not args.no_hold,
        "launcher_preload_s": preload_s,
        "frames": sum(s.n_frames for s in widget.session.tasks),
        "statuses": [s.status for s in widget.session.tasks],
        "correction": widget.correction.result.text(),
    }
    print(json.dumps(figures, indent=1, ensure_ascii=False))
    if sampler is not None:
        print("\n".join(sampler.top()))
        print("\n".join(sampler.slowest(by_total=args.stacks_by_total)))
    if trace is not None:
        print("\n".join(trace.slowest()))
    if paints is not None:
        QApplication.instance().removeEventFilter(paints)
        print("\n".join(compositions_summary()))
        if os.environ.get("BENCH_COMPOSITIONS_JSON"):  # every composition, for a closer look
            Path(os.environ["BENCH_COMPOSITIONS_JSON"]).write_text(json.dumps(
                [(st, round(ms, 1), c, sorted(p), round(t, 4)) for st, ms, c, p, t in COMPOSITIONS]))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1, ensure_ascii=False))
    viewer.close()
    shutil.rmtree(work, ignore_errors=True)
    return 0


def cancel_timing(model: str, work: Path, json_path: str | None) -> int:
    """Cancel 2 s into a 700 x 1100 frame: when is the widget free, when has the compute stopped?"""
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_batchseg._napari._widget import BatchSegWidget

    folder = work / "data"
    folder.mkdir(parents=True)
    tifffile.imwrite(folder / "still_BF.ome.tif", real_size_movie(1, 3)[0], ome=True, metadata={"axes": "YX"})
    viewer = napari.Viewer(title="bench_ui cancel", show=True)
    widget = BatchSegWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Batch segmentation", area="right")
    app = QApplication.instance()

    def pump_until(cond, timeout: float) -> float:
        t0 = time.perf_counter()
        while not cond() and time.perf_counter() - t0 < timeout:
            app.processEvents()
            time.sleep(0.002)
        return time.perf_counter() - t0

    widget.files.add_paths([folder])
    pump_until(lambda: not widget.infos.busy, 30)
    widget.form.model.setCurrentText("User trained model…")
    widget.form.model_path.setText(model)
    if not widget.run():
        raise SystemExit(f"Run refused: {widget.message.text()}")
    pump_until(lambda: widget.session.model_state == "loaded", 300)
    pump_until(lambda: False, 2.0)  # 2 s into the frame
    frames_before = widget.session.frames_done
    t0 = time.perf_counter()
    widget.cancel()
    free = pump_until(lambda: not widget.running, 30)
    pump_until(lambda: not widget.controller.compute_alive, 60)
    stopped = time.perf_counter() - t0
    leftovers = sorted(p.name for p in folder.iterdir() if p.name != "still_BF.ome.tif")
    figures = {
        "cancel_widget_free_s": round(free, 3), "cancel_compute_stopped_s": round(stopped, 3),
        "frames_done_before_cancel": frames_before, "files_left_besides_input": leftovers,
        "statuses": [s.status for s in widget.session.tasks],
        "load_average_1_5_15": [round(v, 2) for v in os.getloadavg()], "model": model,
    }
    print(json.dumps(figures, indent=1))
    if json_path:
        Path(json_path).write_text(json.dumps(figures, indent=1))
    viewer.close()
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
