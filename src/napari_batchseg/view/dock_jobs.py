"""The background work of the docks, without Qt: a run's events, measuring, evaluating, training.

Each runs in a worker thread. The docks (``_napari._jobs``, ``_napari._measure_widget``,
``_napari._train_widget``) hand these to their :class:`~napari_batchseg._napari._jobs.Background`;
nothing here touches a layer or a widget.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..evaluate import evaluate_frame, overall_row
from ..events import Event
from ..io.sources import PixelSize
from ..measure import measure_frames
from ..measure_3d import measure_volume
from ..params import ParameterError, SegmentationParams
from ..runners import RunGroup, RunOptions, execute
from ..torch_cancel import CancelOnceTorch, torch_cancellation
from ..training.run import TrainingParams, TrainingResult

SOURCE_LAYERS = "layers"
SOURCE_FILES = "files"


def run_source(paths: list[Path], params: SegmentationParams, plan: Any = None,
               groups: list[tuple[list[Path], SegmentationParams]] | None = None,
               ) -> tuple[Any, SegmentationParams | None]:
    """What a run executes, and with which parameters: ``(source, params)`` for :func:`run_events`.

    ``groups`` (files each with their own parameters) when given: one plan, one model load for the
    groups that share it (:class:`~napari_batchseg.runners.RunGroup`); else a prepared ``plan``; else
    ``paths`` with ``params``. Groups and a plan carry their own parameters (``params`` is ``None``).
    """
    if groups:
        return [RunGroup(fs, p) for fs, p in groups], None
    if plan is not None:
        return plan, None
    return list(paths), params


def run_events(source: Any, params: SegmentationParams | None, options: RunOptions,
               cancel: threading.Event, after: threading.Thread | None = None) -> Iterator[Event]:
    """The run's events (:func:`~napari_batchseg.runners.execute`), with the prepared images attached.

    ``source``: paths, a plan or groups (:func:`run_source`). Once the model is loaded (torch imported),
    the rest of the run happens under :func:`~napari_batchseg.torch_cancel.torch_cancellation`.
    ``after``: the thread of a cancelled run that may still be ending its frame (and holds the lock of
    the output it drops): this run starts once it has ended (or is cancelled while it waits), so that
    it does not take that output for another process's work and skip it.
    """
    while after is not None and after.is_alive() and not cancel.is_set():
        after.join(0.05)
    stream = execute(source, options, params=params, cancel=cancel, keep_images=True)
    guard = CancelOnceTorch(cancel)
    try:
        for ev in stream:
            yield ev
            guard.check()
    finally:
        stream.close()
        guard.close()


def pixel_size_yx(meta: Mapping[str, Any]) -> tuple[float | None, float | None] | None:
    """``(y, x)`` pixel size from a layer's ``batchseg`` metadata (``None`` when not both known)."""
    ps = meta.get("pixel_size") or {}
    if ps.get("y") and ps.get("x"):
        return float(ps["y"]), float(ps["x"])
    return None


def measure_job(labels: NDArray[Any], image: Any, pixel_size: Any, name: str) -> pd.DataFrame:
    """The object table of ``labels`` (intensities from ``image`` when given)."""
    img = None
    if image is not None:
        img = np.asarray(image, dtype=np.float32)
    return measure_frames(labels, img, pixel_size, file=name)


def measure_volumes_job(labels: NDArray[Any], image: Any,
                        pixel_size: tuple[float | None, float | None] | None, z_step: float | None,
                        name: str, first_z: int = 0) -> pd.DataFrame:
    """The object table of ``(T, Z, Y, X)`` label volumes (a volume run's layer), a volume per time point.

    As ``batchseg measure`` measures a volume mask: voxels, µm³ (``pixel_size`` ``(y, x)`` and ``z_step``),
    3D centroids and intensities of ``image`` (shaped as ``labels``) when given; ``frame`` from 0; Z from
    ``first_z`` (the input slice of the volumes' slice 0).
    """
    y, x = pixel_size or (None, None)
    size = PixelSize(x=x, y=y, z=z_step)
    tables = [measure_volume(np.asarray(labels[t]),
                             None if image is None else np.asarray(image[t], np.float32), size, file=name,
                             frame=t, first_z=first_z) for t in range(labels.shape[0])]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def z_step_of(meta: Mapping[str, Any]) -> float | None:
    """The Z step (µm) from a layer's ``batchseg`` metadata (``None``: not known)."""
    z = (meta.get("pixel_size") or {}).get("z")
    return float(z) if z else None


def evaluate_job(pred: NDArray[Any], gt: NDArray[Any]) -> pd.DataFrame:
    """Scores of ``pred`` against ``gt``, one row per frame (a 2D pair is one frame)."""
    p = pred[None] if pred.ndim == 2 else pred
    g = gt[None] if gt.ndim == 2 else gt
    rows: list[dict[str, Any]] = []
    tps: dict[float, int] = {}
    for t in range(p.shape[0]):
        m = evaluate_frame(p[t], g[t])
        for th, tp in m.pop("tp_t").items():
            tps[th] = tps.get(th, 0) + tp
        rows.append({"frame": t, **m})
    if len(rows) > 1:  # a time-lapse: the overall row, as batchseg evaluate writes it (a walk: missing)
        overall = overall_row(rows, tps)
        rows.append({k: v for k, v in overall.items() if k not in ("pred", "gt")})
    return pd.DataFrame(rows)


class TrainJob(Protocol):
    """What :func:`train_job` needs of its job: a progress channel and the dock's own cancel flag."""

    cancel: threading.Event

    def report(self, item: Any) -> None:
        """Hand ``item`` (a progress event) to the GUI thread."""


def train_job(
    source: str,
    arrays: tuple[Any, Any, str] | None,
    paths: list[str],
    output: str,
    params: TrainingParams,
    overwrite: bool,
    cancel: threading.Event,
    *,
    job: TrainJob,
) -> TrainingResult:
    """Collect the frames (reading layers/files), then train.

    Progress goes to the GUI thread through ``job.report``; ``cancel`` (the Cancel button) stops after
    an epoch; ``job.cancel`` (the dock closing) stops within one torch operation.
    """
    from ..training import collect_training_data, frames_from_arrays, train_model

    def stop() -> bool:
        return cancel.is_set() or job.cancel.is_set()

    if source == SOURCE_LAYERS:
        assert arrays is not None
        image, labels, name = arrays
        data = frames_from_arrays(
            np.asarray(image), np.asarray(labels), name, params.frames, params.min_masks
        )
    else:
        data = collect_training_data(paths, params.frames, params.min_masks)
    with torch_cancellation(job.cancel):
        return train_model(data, output, params, progress=job.report, cancel=stop, overwrite=overwrite)


def params_file_text(action: str, path: str | Path, note: str | BaseException | None = None) -> str:
    """The message line once a parameter file job ends: ``action`` ``"saved"`` or ``"loaded"``.

    ``note``: what a load adds (e.g. the positions it chose), or the job's error: "not saved: ..." /
    the load's reason, each naming the file (its error names it; if not, it is put first).
    """
    if isinstance(note, BaseException):
        text = str(note) if str(path) in str(note) else f"{path}: {note}"
        return f"not saved: {text}" if action == "saved" else text
    where = "to" if action == "saved" else "from"
    return f"parameters {action} {where} {path}" + (f"; {note}" if note else "")


def params_job(submit: Callable[..., Any], say: Callable[..., None], action: str, path: str | Path,
               work: Callable[[], Callable[[str | Path], Any]],
               show: Callable[[Any], str | None] | None = None) -> None:
    """Write or read the parameter file ``path`` in a dock's worker, then ``say`` how it went.

    ``work()`` (on the GUI thread: e.g. the form's parameters; a bad field raises ``ParameterError``, said
    at once) gives what writes or reads the file, run by ``submit`` (the dock's ``Background.submit``: the
    GUI thread does no disk I/O). ``show``: what is done with a read file's contents on the GUI thread (it
    returns the message's note). A dock closed meanwhile delivers nothing: ``show`` never runs then.
    """
    try:
        fn = work()
    except ParameterError as exc:
        say(params_file_text(action, path, exc), True)
        return
    # (in a tuple: a job's ``None`` result, a save's, is no item)
    submit(lambda p: (fn(p),), path, name="batchseg-params", on_item=lambda got: say(
        params_file_text(action, path, show(got[0]) if show is not None else None)),
        on_error=lambda exc: say(params_file_text(action, path, exc), True))
