"""Crash harness: napari processes that open all three docks, start a job and close at a random moment.

Each child process opens a real napari viewer with the three docks of the plugin (Batch segmentation,
Measure and export, Train), starts one job in one of them (``segment``, ``measure``, ``export``,
``evaluate``, ``train``, ``reopen``, ``save``: save a correction) and closes the viewer after a random
delay (an odd delay removes the job's dock first, as its × does, and closes the viewer 200 ms
later), then lets the event loop and the interpreter finish as napari would. A child that crashes
(segfault, abort on an exception in a Qt slot, a hang past the timeout) exits non-zero. The parent
prints how many children of each job exited with which status.

Run it under a display (``xvfb-run -a``) with the project's model::

    xvfb-run -a .venv/bin/python benchmarks/crash_harness.py -n 50
    xvfb-run -a .venv/bin/python benchmarks/crash_harness.py --child train --delay-ms 3000  # one child

The tests in ``tests/_napari/test_close_during_jobs.py`` run single children of this script.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, STARTER  # noqa: E402

JOBS = ("segment", "measure", "export", "evaluate", "train", "reopen", "save")
IMAGE = ROOT / "examples" / "data" / "dsb2018_nuclei.tif"
GROUND_TRUTH = ROOT / "examples" / "groundtruth" / "dsb2018_nuclei_masks.tif"
#: jobs that need a finished result of the image
NEEDS_RESULT = ("export", "reopen", "save")
#: a child that has not exited this long after its start hangs (counted as a failure)
CHILD_TIMEOUT_S = 300


# --------------------------------------------------------------------------- data (parent)
def prepare_data(folder: Path) -> Path:
    """A copy of the nuclei image and its finished result (mask + log) in ``folder``; the mask path."""
    folder.mkdir(parents=True, exist_ok=True)
    image = folder / "nuclei_BF.tif"
    shutil.copy(IMAGE, image)
    from napari_batchseg.events import RunFailed, TaskDone
    from napari_batchseg.params import SegmentationParams
    from napari_batchseg.runners import execute

    params = SegmentationParams(model=str(STARTER), diameter=0, output_dir=str(folder / "results"))
    done = [ev for ev in execute([image], params=params) if isinstance(ev, (TaskDone, RunFailed))]
    if not done or not isinstance(done[0], TaskDone):
        raise SystemExit(f"cannot prepare the result: {done}")
    return done[0].task.names.mask


# --------------------------------------------------------------------------- one child
def _docks(viewer):  # noqa: ANN001, ANN202 - napari objects
    _, main = viewer.window.add_plugin_dock_widget("napari-batchseg", "Batch segmentation")
    _, measure = viewer.window.add_plugin_dock_widget("napari-batchseg", "Measure and export")
    _, train = viewer.window.add_plugin_dock_widget("napari-batchseg", "Train")
    return main, measure, train


def _pump(seconds: float) -> None:
    from qtpy.QtWidgets import QApplication

    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        QApplication.processEvents()
        time.sleep(0.005)


def _use_model(main) -> None:  # noqa: ANN001
    main.form.model.setCurrentText("User trained model…")
    main.form.model_path.setText(str(STARTER))
    main.form.diameter.setValue(0)


def child(job: str, delay_ms: int, data: Path, work: Path) -> int:
    """One napari session: docks, ``job`` started, viewer closed ``delay_ms`` later; 0 when it ran."""
    import napari
    import numpy as np
    import tifffile
    from qtpy.QtCore import QTimer

    image = tifffile.imread(IMAGE)
    truth = tifffile.imread(GROUND_TRUTH)
    viewer = napari.Viewer()
    main, measure, train = _docks(viewer)
    mask = data / "results" / "nuclei_BF_vSM.ome.tif"
    if job in ("measure", "evaluate", "export"):
        viewer.add_image(image, name="nuclei")
        viewer.add_labels(truth.copy(), name="truth")
        viewer.add_labels(truth[::-1].copy(), name="other")
        _pump(0.3)
        measure.labels_combo.setCurrentText("other")
        measure.gt_combo.setCurrentText("truth")
        measure.mask_path.setText(str(mask))
        measure.export_dir.setText(str(work / "exports"))
        start = {"measure": measure.measure_btn, "evaluate": measure.evaluate_btn,
                 "export": measure.export_btn}[job].click
    elif job == "train":
        tiles = [(0, 0), (0, 96), (96, 0), (96, 96)]
        viewer.add_image(np.stack([image[y:y + 96, x:x + 96] for y, x in tiles]), name="tiles")
        viewer.add_labels(np.stack([truth[y:y + 96, x:x + 96] for y, x in tiles]), name="tiles truth")
        _pump(0.3)
        train.image_layer.setCurrentText("tiles")
        train.labels_layer.setCurrentText("tiles truth")
        train.base_model.setCurrentText(str(STARTER))
        train.output.setText(str(work / "model"))
        train.epochs.setValue(1000)
        train.crop_size.setValue(64)
        train.batch_size.setValue(3)
        train.validation_fraction.setValue(0.25)
        train.min_masks.setValue(1)
        start = train.start_button.click
    elif job == "save":
        own = work / "results"
        shutil.copytree(data / "results", own)
        layer = viewer.open(own / mask.name, plugin="napari-batchseg")[0]
        viewer.layers.selection.active = layer
        _pump(0.3)
        layer.data = (np.asarray(layer.data) > 0).astype(layer.data.dtype) * layer.data  # an "edit"
        start = main.correction.save_btn.click
    else:  # segment, reopen: the main widget over the image, its result already in (reopen) or not
        source = work / "nuclei_BF.tif"
        shutil.copy(data / "nuclei_BF.tif", source)
        out = work / "results"
        if job == "reopen":
            shutil.copytree(data / "results", out)
        main.output.folder.setText(str(out))
        _use_model(main)
        main.files.add_paths([source])
        _pump(0.5)
        if job == "reopen":  # a run over the file (skipped, or redone when its parameters differ),
            main.run()       # then its result is opened once the run has ended
            end = time.perf_counter() + CHILD_TIMEOUT_S / 2
            while main.running and time.perf_counter() < end:
                _pump(0.05)
            key = main.session.tasks[0].key
            start = lambda: main.show_result(key)  # noqa: E731
        else:
            start = main.run_btn.click
    from napari_batchseg._napari._jobs import Background

    dock = {"segment": main, "reopen": main, "save": main, "train": train}.get(job, measure)

    def busy() -> bool:  # some background job of the dock is still running
        return any(b.busy for b in dock.findChildren(Background))

    at_close: list[bool] = []
    # an odd delay closes the job's dock first (its ×: napari's remove_dock_widget), then the viewer
    remove_dock_first = delay_ms % 2 == 1

    def close() -> None:
        at_close.append(busy())
        if remove_dock_first:
            viewer.window.remove_dock_widget(dock)
            QTimer.singleShot(200, viewer.close)
        else:
            viewer.close()

    QTimer.singleShot(0, start)
    QTimer.singleShot(delay_ms, close)
    napari.run()
    print(f"child {job}: job running at close: {at_close[0] if at_close else None}", flush=True)
    # napari's own hook shows exceptions raised in Qt slots as notifications while it runs; once it is
    # closed, PyQt's default (abort on an exception in a slot, as in a plain Python session) applies
    sys.excepthook = sys.__excepthook__
    _pump(1.0)  # late deliveries of jobs that outlived the viewer
    from napari.utils.notifications import NotificationSeverity, notification_manager

    errors = [r for r in notification_manager.records if r.severity == NotificationSeverity.ERROR]
    print(f"child {job} {delay_ms} ms: closed, {len(errors)} error(s) in napari's notifications", flush=True)
    for record in errors:
        print(f"  {record.message}", flush=True)
    import threading

    alive = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    print(f"child {job}: threads alive before exit: {', '.join(alive) or 'none'}", flush=True)
    return 3 if errors else 0


# --------------------------------------------------------------------------- parent
def _run_child(job: str, delay_ms: int, data: Path) -> tuple[int, str]:
    cmd = [sys.executable, __file__, "--child", job, "--delay-ms", str(delay_ms), "--data", str(data)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return -999, "timeout"
    tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
    return done.returncode, " | ".join(tail)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=50, help="number of napari processes (default 50)")
    ap.add_argument("--jobs", default=",".join(JOBS), help="jobs to draw from (comma-separated)")
    ap.add_argument("--max-delay-ms", type=int, default=4000, help="latest close after the job starts")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--child", choices=JOBS, help=argparse.SUPPRESS)
    ap.add_argument("--delay-ms", type=int, default=500, help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    os.environ.setdefault("BATCHSEG_CONFIG_DIR", tempfile.mkdtemp(prefix="batchseg-crash-config-"))
    if args.child:
        with tempfile.TemporaryDirectory(prefix="batchseg-crash-") as tmp:
            data = args.data or Path(tmp) / "data"
            if args.data is None:
                data.mkdir()
                shutil.copy(IMAGE, data / "nuclei_BF.tif")
                if args.child in NEEDS_RESULT:
                    prepare_data(data)
            return child(args.child, args.delay_ms, data, Path(tmp))
    rng = random.Random(args.seed)
    jobs = [j.strip() for j in args.jobs.split(",") if j.strip()]
    with tempfile.TemporaryDirectory(prefix="batchseg-crash-data-") as tmp:
        data = Path(tmp)
        prepare_data(data)
        counts: Counter[tuple[str, int]] = Counter()
        t0 = time.perf_counter()
        for i in range(args.n):
            job, delay = jobs[i % len(jobs)], rng.randint(0, args.max_delay_ms)
            rc, tail = _run_child(job, delay, data)
            counts[(job, rc)] += 1
            print(f"{i + 1:3d}/{args.n} {job:9s} close after {delay:4d} ms: exit {rc}"
                  + ("" if rc == 0 else f"  [{tail}]"), flush=True)
        bad = sum(n for (_, rc), n in counts.items() if rc != 0)
        print(f"\n{args.n} processes in {time.perf_counter() - t0:.0f} s, load average "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}: {bad} non-zero exit(s)")
        for job in jobs:
            by = {rc: n for (j, rc), n in counts.items() if j == job}
            print(f"  {job:9s} " + ", ".join(f"exit {rc}: {n}" for rc, n in sorted(by.items())))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
