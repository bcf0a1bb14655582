"""What the "Re-threshold" dock computes and says, without Qt (``_napari._rethreshold_widget`` is its view).

The sliders' positions and the :class:`~napari_batchseg.segmenters.cellpose.rethreshold.Thresholds` they
stand for (:func:`thresholds_at`, :func:`positions_of`, :func:`value_texts`); the preview of one frame of
a ``--keep-flows`` run (:class:`FlowCache`, :func:`compute_preview`, run in a worker; which one and when:
:class:`PreviewPlan`); the cell
probability values computed ahead while the sliders rest (:func:`ahead_job`, :func:`compute_ahead`);
*Apply to the batch* (:func:`apply_all` in a worker, its status lines kept by :class:`ApplyLines`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..io.masks import read_mask_pixel_size
from ..io.sources import PixelSize
from ..params import SUFFIX_PATTERN, tracked_suffix
from ..rethreshold_run import read_kept_flows, rethreshold_log
from ..segmenters.cellpose.frame_masks import FrameMasks
from ..segmenters.cellpose.rethreshold import Thresholds
from .dock_jobs import TrainJob as ReportingJob
from .fields import Field
from .layer_files import axis_scale, axis_units, mark_rewritten
from .phrasing import for_dock

__all__ = ["AHEAD", "CP_SLIDER", "CP_STEP", "FIELDS", "FLOW_SLIDER", "FLOW_STEP", "LAYER_NAME", "NO_LOG",
           "NO_RUN_LAYER", "ApplyLines", "FlowCache", "Preview", "PreviewPlan", "ahead_job", "ahead_values",
           "applied_note", "apply_all", "apply_check", "apply_refusal", "compute_ahead", "compute_preview",
           "first_line", "frame_at", "log_of", "positions_of", "preview_text", "rewritten_note",
           "thresholds_at", "value_texts"]

#: slider steps: cell probability in 0.1, flow threshold in 0.05
CP_STEP = 0.1
FLOW_STEP = 0.05
#: the sliders' ``(minimum, maximum, first)`` positions: cell probability -6 to 6 from 0, flow 0 (off) to 3
#: from 0.4 (Cellpose's defaults)
CP_SLIDER = (-60, 60, 0)
FLOW_SLIDER = (0, 60, 8)
#: cell probability slider positions computed ahead around the resting one (nearest first)
AHEAD = (1, -1, 2, -2)
#: the name of the Labels layer showing the preview
LAYER_NAME = "Re-threshold preview"
#: the dock's controls besides its two sliders
FIELDS = (
    Field("min_size", "int", "Min size (px)", -1, 100_000, 15, special="none"),
    Field("frame", "int", "Frame", 0, 0),
    Field("suffix", "text", value="rt", tip="Write <stem>_vSM-SUFFIX beside each run; "
          "empty + Overwrite: replace the run's own mask"),
    Field("overwrite", "check", text="Overwrite"),
)
#: the preview status when no run log is chosen
NO_LOG = "Add a run log to preview."
#: *From selected layer* with a layer that is no batchseg output
NO_RUN_LAYER = "The selected layer names no batchseg output (open a _vSM mask)."


def thresholds_at(cellprob_pos: int, flow_pos: int, min_size: int) -> Thresholds:
    """The thresholds of the sliders' positions (cell probability and flow in slider steps)."""
    return Thresholds(round(cellprob_pos * CP_STEP, 6), round(flow_pos * FLOW_STEP, 6), min_size)


def positions_of(thresholds: Thresholds) -> tuple[int, int, int]:
    """``(cell probability, flow, min size)`` slider positions of ``thresholds`` (rounded to the steps)."""
    return (round(thresholds.cellprob_threshold / CP_STEP), round(thresholds.flow_threshold / FLOW_STEP),
            int(thresholds.min_size))


def value_texts(thresholds: Thresholds) -> tuple[str, str]:
    """The labels beside the cell probability and flow sliders (``off`` for no flow check)."""
    flow = thresholds.flow_threshold
    return f"{thresholds.cellprob_threshold:+.1f}", "off" if flow == 0 else f"{flow:.2f}"


def log_of(path: str | Path) -> str:
    """The run log a chosen path stands for (a ``_vSM.ome.tif`` mask stands for its ``_vSM.log``)."""
    text = str(path)
    return text[: -len(".ome.tif")] + ".log" if text.endswith("_vSM.ome.tif") else text


def frame_at(step: Sequence[int], frame_ts: Sequence[int]) -> int | None:
    """The index of the run's frame at the viewer's ``step`` (T its first axis in a 3-D view).

    ``None`` when the view is not 3-D, no frame is known yet, or the run has no frame at that T.
    """
    if len(step) < 3 or int(step[0]) not in frame_ts:
        return None
    return list(frame_ts).index(int(step[0]))


def first_line(exc: BaseException) -> str:
    """An error's first line (its type's name when it has no message), in the dock's words."""
    line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return for_dock(line, {})


@dataclass(frozen=True)
class Preview:
    """One recomputed frame: what it was computed for, its labels and how long it took."""

    key: tuple[str, int, Thresholds]
    frame_t: int
    n_frames: int
    frame_ts: tuple[int, ...]
    labels: NDArray[Any]
    seconds: float
    n_objects: int = 0
    #: the run's mask's pixel size: the preview layer's scale and units (a walk: drawn 3x too large at
    #: scale 1 over a mask in µm)
    pixel_size: PixelSize = field(default_factory=PixelSize)

    @property
    def scale(self) -> tuple[float, ...]:
        """The preview layer's ``(y, x)`` scale (µm when known)."""
        return axis_scale("YX", self.pixel_size)

    @property
    def units(self) -> tuple[str, ...]:
        """The preview layer's ``(y, x)`` units."""
        return axis_units("YX", self.pixel_size)


class PreviewPlan:
    """Which preview to compute next: one job at a time, the latest settings only; where to compute ahead.

    The dock says what its controls ask for (:attr:`wanted`), how the cell probability slider moved
    (:meth:`moved`) and what a preview job computed (:meth:`shown`); the plan says what to compute next
    (:meth:`next`) and around which shown preview to compute ahead while the controls rest (:meth:`rest`).
    """

    def __init__(self, cellprob_pos: int = 0) -> None:
        #: ``(log, frame index, thresholds)`` the controls ask for (``None``: nothing, or it failed)
        self.wanted: tuple[str, int, Thresholds] | None = None
        #: the preview on screen
        self.last: Preview | None = None
        #: the direction of the last cell probability move (+1 or -1): computed ahead first
        self.direction = 1
        self._cellprob = cellprob_pos

    def moved(self, cellprob_pos: int) -> None:
        """The cell probability slider is at ``cellprob_pos``."""
        if cellprob_pos != self._cellprob:
            self.direction = 1 if cellprob_pos > self._cellprob else -1
        self._cellprob = cellprob_pos

    def next(self, running: bool) -> tuple[str, int, Thresholds] | None:
        """The settings to compute now: none while a preview job runs (``running``) or when shown already."""
        if running or self.wanted is None or (self.last is not None and self.last.key == self.wanted):
            return None
        return self.wanted

    def shown(self, preview: Preview) -> bool:
        """Keep ``preview`` as the one on screen if it is for the wanted settings; ``False``: stale."""
        if preview.key != self.wanted:
            return False
        self.last = preview
        return True

    def rest(self, ahead_running: bool) -> tuple[str, int, Thresholds] | None:
        """The shown preview's settings to compute ahead around: when current, and none is computed ahead."""
        last = self.last
        return None if last is None or ahead_running or last.key != self.wanted else last.key


def preview_text(preview: Preview) -> str:
    """The status line of a shown preview: run, frame, objects and the time it took."""
    objects = f"{preview.n_objects} object{'' if preview.n_objects == 1 else 's'}"  # (a walk: "1 objects")
    return (f"{Path(preview.key[0]).name} frame t={preview.frame_t}: {objects}, "
            f"computed in {preview.seconds * 1000:.0f} ms")


class FlowCache:
    """The last frame read, as its :class:`FrameMasks`.

    Read by the preview job (one at a time); the frame's stage caches are thread-safe, shared with the
    job computing ahead.
    """

    def __init__(self) -> None:
        #: ``(log, frame index, the log's (mtime, size))``: a log rewritten by a new run is read again
        self.key: tuple[str, int, tuple[int, int]] | None = None
        self.value: tuple[int, FrameMasks, tuple[int, ...], PixelSize] | None = None

    def get(self, log: str, index: int) -> tuple[int, FrameMasks, tuple[int, ...], PixelSize]:
        """Frame ``index`` of ``log``'s kept flows (read when not held).

        ``(t, frame, every frame's t, the mask's pixel size)``.
        """
        st = os.stat(log)
        key = (log, index, (st.st_mtime_ns, st.st_size))
        if self.key != key or self.value is None:
            kept = read_kept_flows(log)
            ts = tuple(t for t, _n in kept.frames)
            index = min(max(index, 0), len(ts) - 1)
            pixel_size = read_mask_pixel_size(kept.mask_path)  # the preview sits on the mask and input
            for i, (t, niter, dp, cellprob) in enumerate(kept.frame_flows()):
                if i == index:
                    self.key, self.value = key, (t, FrameMasks(dp, cellprob, niter), ts, pixel_size)
                    break
        assert self.value is not None
        return self.value

    def frame(self, log: str, index: int) -> FrameMasks | None:
        """The frame's stages if it is the one held (no reading)."""
        value, key = self.value, self.key
        return value[1] if value is not None and key is not None and key[:2] == (log, index) else None


def compute_preview(cache: FlowCache, log: str, index: int, thresholds: Thresholds) -> Preview:
    """Labels of frame ``index`` of ``log``'s kept flows with ``thresholds`` (run off the GUI thread)."""
    t, frame, ts, pixel_size = cache.get(log, index)
    started = time.perf_counter()
    labels = frame.labels(thresholds.cellprob_threshold, thresholds.flow_threshold, thresholds.min_size)
    seconds = time.perf_counter() - started
    n_objects = len(np.unique(labels)) - 1  # here, not on the GUI thread
    return Preview((log, index, thresholds), t, len(ts), ts, labels, seconds, n_objects, pixel_size)


def ahead_values(here: int, lo: int, hi: int, direction: int, frame: FrameMasks) -> list[float]:
    """Cell probability thresholds to compute ahead around slider position ``here`` (within ``lo..hi``).

    Nearest first, in the ``direction`` of the last move first (+1 or -1); values ``frame`` has cached
    are left out.
    """
    values = [round((here + direction * k) * CP_STEP, 6) for k in AHEAD if lo <= here + direction * k <= hi]
    return [v for v in values if not frame.cached(v)]


def ahead_job(cache: FlowCache, plan: PreviewPlan, ahead_running: bool, here: int, lo: int,
              hi: int) -> tuple[FrameMasks, list[float], float] | None:
    """The arguments of :func:`compute_ahead` around the shown preview (``None``: nothing to compute).

    ``here``: the cell probability slider's position, within ``lo..hi``; ``ahead_running``: a job computes
    ahead already (:meth:`PreviewPlan.rest`). Only the frame ``cache`` holds is computed ahead.
    """
    around = plan.rest(ahead_running)
    frame = None if around is None else cache.frame(around[0], around[1])
    if around is None or frame is None:
        return None
    values = ahead_values(here, lo, hi, plan.direction, frame)
    return (frame, values, around[2].flow_threshold) if values else None


def compute_ahead(frame: FrameMasks, cellprob_thresholds: Iterable[float], flow_threshold: float,
                  job: ReportingJob) -> None:
    """Stages 1-2 of ``frame`` for each threshold in turn, until ``job`` is cancelled (off the GUI thread)."""
    for threshold in cellprob_thresholds:
        if job.cancel.is_set():
            return
        frame.prepare(threshold, flow_threshold)


def apply_all(logs: Sequence[str], thresholds: Thresholds, suffix: str | None, overwrite: bool,
              job: ReportingJob) -> None:
    """Re-threshold each run log in turn (worker); ``job.report`` gets ``(kind, index, log, text)``.

    ``kind`` is ``start``, ``ok`` (``text``: what was written) or ``error`` (``text``: why); a failing
    log never stops the others.
    """
    for i, log in enumerate(logs):
        if job.cancel.is_set():
            return
        job.report(("start", i, log, ""))
        try:
            result = rethreshold_log(log, thresholds, suffix=suffix, overwrite=overwrite, cancel=job.cancel)
        except Exception as exc:  # noqa: BLE001 - one line per failing file, the batch goes on
            job.report(("error", i, log, first_line(exc)))
        else:
            done = f"{result.mask.name} ({result.n_frames} frame(s), {result.seconds:.1f} s)"
            job.report(("ok", i, log, done, str(result.mask), str(result.mask.resolve())))  # (its layers:
            # stale; resolved here in the worker, where disk access belongs)


def apply_refusal(suffix: str, overwrite: bool) -> str | None:
    """Why *Apply to the batch* cannot run with this suffix field and Overwrite box (``None``: it can)."""
    suffix = suffix.strip()
    if not suffix and not overwrite:
        return "Give a suffix, or tick Overwrite to replace the runs' masks."
    if suffix and not SUFFIX_PATTERN.match(suffix):
        return f"Suffix {suffix!r}: use A-Z, a-z, 0-9 and '-' only."
    return tracked_suffix(suffix) or None


def apply_check(suffix: str, overwrite: bool, applying: bool, refusal_shown: bool) -> tuple[bool, str | None]:
    """*Apply to the batch* as the suffix is typed: ``(enabled, the Apply status to show)``.

    The status says why Apply is off (:func:`apply_refusal`), and is cleared once a refusal it said no
    longer holds (``refusal_shown``); otherwise it is left as it is (``None``: an Apply's lines stay).
    ``applying``: an Apply runs (the button stays off).
    """
    refused = apply_refusal(suffix, overwrite)
    return refused is None and not applying, refused or ("" if refusal_shown else None)


def rewritten_note(layer_names: Sequence[str]) -> str:
    """What the status adds when open mask layers show a mask Apply just rewrote (``""``: none)."""
    if not layer_names:
        return ""
    shown = ", ".join(f"'{n}'" for n in layer_names)
    return (f" (layer {shown} shows the mask before and no longer saves into it: open the file again "
            "to see the new one)")


def applied_note(layers: Iterable[Any], item: tuple[str, ...]) -> str:
    """What one log's Apply report adds; open layers showing a mask it rewrote no longer save into it."""
    if item[0] != "ok":
        return ""
    return rewritten_note(mark_rewritten(layers, item[4:6], f"Re-threshold rewrote {Path(item[4]).name}"))


class ApplyLines:
    """The status of *Apply to the batch*: one line per run log, and how many are finished."""

    WORKING = "working…"

    def __init__(self, n_logs: int) -> None:
        self.lines = [""] * n_logs

    def update(self, item: tuple[str, ...], note: str = "") -> str:
        """Take one :func:`apply_all` report; return the whole status text (``done/total`` then lines).

        ``note`` is added to the log's line (:func:`rewritten_note`).
        """
        kind, i, log, text = item[0], int(item[1]), item[2], item[3] + note
        name = Path(log).name
        self.lines[i] = (f"{name}: {self.WORKING}" if kind == "start" else
                         f"{name}: failed: {text}" if kind == "error" else f"{name}: {text}")
        done = sum(1 for line in self.lines if line and not line.endswith(self.WORKING))
        shown = "\n".join(x for x in self.lines if x)
        return f"{done}/{len(self.lines)}\n{shown}"
