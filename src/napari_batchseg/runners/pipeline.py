"""The pipelined Cellpose engine: the network of the next frames overlaps with mask building.

Cellpose 3's ``CellposeModel.eval`` runs the network, then builds the masks from its flows ``dP`` and
cell probability (``dynamics.resize_and_compute_masks``: flow following, mask assembly, the flow-error
check, hole filling and small-object removal). On a GPU most of a small frame's time is that second
stage (docs/performance.md "GPU"), much of it on the CPU. :class:`PipelinedFrames` splits the two:

* this process (the one that owns the model and its device) runs the network for a group of frames
  (``compute_masks=False``: flows and cell probability only);
* ``mask_workers`` CPU worker processes build the masks of earlier groups meanwhile
  (:func:`build_mask`), so the device never waits for the CPU work of the frames before.

Masks are **identical** to frame-by-frame ``eval`` on the model's device:

* model on the CPU: a worker runs the very call ``eval`` makes (``resize_and_compute_masks`` with the
  same arguments on the CPU; :func:`~..segmenters.cellpose.rethreshold.cellpose_labels`), on the
  flows of the same network call;
* model on a GPU (``masks_on="device"``, the default): this process runs the device part of that call
  (``dynamics.compute_masks``: flow following, mask assembly and flow-error check on the GPU, exactly
  as ``eval`` runs it) and the workers only fill holes and drop small objects (pure CPU code, the
  same whatever the device); ``masks_on="cpu"`` (the fast mode, named) runs the whole mask stage in
  the workers on the CPU: the masks then equal CPU ``eval`` dynamics on the GPU's flows, which are not
  bit-identical to GPU ``eval`` masks.

With ``batch_frames`` > 1 the network of a group runs in one call (as :mod:`.batching` does); on a
CPU its flows are bit-identical to one frame per call (tested), on a GPU they may differ in the last
bits (cuDNN picks kernels by batch shape): ``batch_frames=1``, the default, is the identical setting
and more is the batched fast mode, named in the run log (``fast_mode``).

Bounded: at most ``window`` frames are between the network and their mask (each held once: its
prepared frame here, its flows only in the job sent to a worker, dropped here once sent). Results come
back in order. Cancel is checked while waiting; a cancelled run, an error or :meth:`close` stops the
workers at once (busy ones are killed). Workers die with this process (``PR_SET_PDEATHSIG`` and a
parent watch, :func:`~._worker.die_with_parent`), so a killed run leaves no orphan; the engine writes
outputs atomically, so it leaves no half-written file under a final name either.

Only Cellpose 3 models segmenting 2D planes with a given or trained diameter take this path; anything
else (size-model estimate, restoration, debug images, kept flows, Cellpose 4, micro-sam) goes through
:class:`~.batching.BatchedFrames` unchanged (:func:`pipeline_refusal` says why).
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from .. import engine
from ..errors import BatchSegError
from ._procs import result_unless_cancelled, stop_pool
from ._worker import die_with_parent, ignore_interrupts, limit_threads, signals_blocked
from .batching import BatchedFrames, frames_described
from .options import MASKS_ON, frames_per_call

if TYPE_CHECKING:
    from ..engine import CancelCheck, Task
    from ..prepare import PreparedFrame
    from ..segmenters import Segmenter, SegmentOutput
    from .options import RunOptions

__all__ = ["MaskJob", "PipelinedFrames", "build_mask", "frame_segmenter_for_run", "pipeline_refusal"]

_CLOSE_GRACE_S = 2.0
_MAX_SIZE_FRACTION = 0.4  # eval's default, which the segmenter keeps
_MASKS_ON_CPU = "masks on cpu: CPU dynamics on the GPU's flows; masks may differ from GPU eval"


@dataclass(frozen=True)
class MaskJob:
    """What a mask worker needs for one frame (nothing else travels).

    Attributes
    ----------
    stage
        ``"all"``: build the masks from ``dp`` and ``cellprob`` (CPU dynamics); ``"fill"``: ``mask``
        came from the device's dynamics, only fill holes and remove small objects.
    dp, cellprob
        ``(2, Y, X)`` flows and ``(Y, X)`` cell probability (``"all"``).
    mask
        Labels before hole filling (``"fill"``).
    niter, cellprob_threshold, flow_threshold, min_size
        As ``eval`` uses them.
    """

    stage: str
    dp: NDArray[Any] | None
    cellprob: NDArray[Any] | None
    mask: NDArray[Any] | None
    niter: int
    cellprob_threshold: float
    flow_threshold: float
    min_size: int


def build_mask(job: MaskJob) -> tuple[NDArray[Any], float]:
    """The labels of one frame (runs in a worker) and the seconds it took.

    ``"all"`` is :func:`~..segmenters.cellpose.rethreshold.cellpose_labels`: the very call ``eval``
    makes on the CPU (Cellpose's ``dynamics.resize_and_compute_masks``, ``resize=None``). ``"fill"``
    is its last step, ``utils.fill_holes_and_remove_small_masks``, after ``dynamics.compute_masks``
    ran on the device.
    """
    t0 = time.perf_counter()
    if job.stage == "all":
        from ..segmenters.cellpose.rethreshold import Thresholds, cellpose_labels

        assert job.dp is not None and job.cellprob is not None
        labels = cellpose_labels(
            job.dp, job.cellprob,
            Thresholds(job.cellprob_threshold, job.flow_threshold, job.min_size), job.niter,
        )
    else:
        from cellpose import utils

        assert job.mask is not None
        labels = np.asarray(utils.fill_holes_and_remove_small_masks(job.mask, min_size=job.min_size))
    return labels, time.perf_counter() - t0


def _init_mask_worker(threads: int) -> None:
    ignore_interrupts()
    die_with_parent()
    limit_threads(threads)


def _warm_up() -> int:
    """Import the mask code once in a fresh worker (torch, cellpose) before the first frame needs it."""
    import os

    from cellpose import dynamics, utils  # noqa: F401

    limit_threads(1)
    return os.getpid()


def pipeline_refusal(segmenter: Segmenter) -> str | None:
    """Why ``segmenter`` cannot run pipelined (``None``: it can)."""
    from ..segmenters.cellpose.segmenter import CellposeSegmenter  # Cellpose 3 (no cellpose import)

    if not isinstance(segmenter, CellposeSegmenter):
        name = getattr(segmenter, "name", "?")
        what = "Cellpose 4" if name == "cellpose" else f"method {name!r}"
        return f"{what}: only Cellpose 3 models are pipelined"
    seg: Any = segmenter
    for what, on in (("diameter estimated per frame", seg.diameter is None and seg.size_model is not None),
                     ("restoration", seg.restorer is not None), ("debug images", seg.debug),
                     ("kept flows", seg.keep_flows)):
        if on:
            return f"{what}: not pipelined"
    return None


class PipelinedFrames:
    """An engine frame segmenter: network here, masks in ``mask_workers`` CPU processes, in order.

    Parameters
    ----------
    segmenter
        A loaded Cellpose 3 segmenter (:func:`pipeline_refusal` is ``None`` for it).
    mask_workers
        CPU processes building masks (at least 1).
    batch_frames
        Frames per network call (equal shapes only; 1: one frame per call).
    masks_on
        For a GPU model: ``"device"`` (identical to ``eval``) or ``"cpu"`` (all mask work on the CPU
        workers). Ignored on a CPU model (everything is on the CPU).
    cancel
        The run's cancel check, polled while waiting on workers.
    window
        Most frames between the network and their mask (default ``2 * mask_workers + batch_frames``).
    """

    def __init__(self, segmenter: Segmenter, mask_workers: int, batch_frames: int = 1,
                 masks_on: str = "device", cancel: CancelCheck = None, window: int | None = None) -> None:
        why = pipeline_refusal(segmenter)
        if why is not None:
            raise ValueError(f"cannot pipeline this segmenter: {why}")
        if masks_on not in MASKS_ON:
            raise ValueError(f"masks_on {masks_on!r}: choose one of {', '.join(MASKS_ON)}")
        seg: Any = segmenter  # a CellposeSegmenter (checked above)
        self.segmenter = seg
        self.mask_workers = max(1, int(mask_workers))
        self.batch_frames = max(1, int(batch_frames))
        device = getattr(seg.model, "device", None)
        self.on_gpu = getattr(device, "type", "cpu") != "cpu"
        self.masks_on = masks_on if self.on_gpu else "cpu"
        self.window = window or 2 * self.mask_workers + self.batch_frames
        self.cancel = cancel
        self._pool: ProcessPoolExecutor | None = None
        self._procs: list[Any] = []

    # ------------------------------------------------------------------ workers
    def start(self) -> PipelinedFrames:
        """Start the mask workers (each imports the mask code once); idempotent."""
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.mask_workers, mp_context=mp.get_context("spawn"),
                initializer=_init_mask_worker, initargs=(1,),
            )
            with signals_blocked():  # a signal to the process group cannot kill a half-started worker
                warm = [self._pool.submit(_warm_up) for _ in range(self.mask_workers)]
            self._procs = list((getattr(self._pool, "_processes", None) or {}).values())
            self._warm = warm
        return self

    def worker_pids(self) -> list[int]:
        """The process ids of the mask workers (started or starting)."""
        return [p.pid for p in self._procs if p.pid is not None]

    def close(self) -> None:
        """Stop the workers: idle ones leave at once, busy ones are killed; never blocks for long."""
        pool, self._pool = self._pool, None
        if pool is not None:
            stop_pool(pool, self._procs, _CLOSE_GRACE_S)

    def __enter__(self) -> PipelinedFrames:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self) -> dict[str, Any]:
        """The segmenter's description plus how the run is pipelined (for the run log)."""
        out = {**self.segmenter.describe(), **frames_described(self.batch_frames),
               "pipelined": {"mask_workers": self.mask_workers, "masks_on": self.masks_on}}
        if self.on_gpu and self.masks_on == "cpu":
            out["fast_mode"] = "; ".join(filter(None, (out.get("fast_mode"), _MASKS_ON_CPU)))
        return out

    # ------------------------------------------------------------------ network
    def _diameter(self) -> tuple[float | None, float]:
        seg = self.segmenter
        if seg.diameter is not None:
            return float(seg.diameter), float(seg.diameter)
        return None, float(seg.training_diameter)

    def network_flows(self, images: list[NDArray[Any]]) -> list[tuple[NDArray[Any], NDArray[Any]]]:
        """``(dP, cellprob)`` of each image: ``eval(..., compute_masks=False)``, one call for the group."""
        seg = self.segmenter
        diameter, _ = self._diameter()
        kwargs = {"batch_size": seg.batch_size, "channels": [0, 0], "diameter": diameter,
                  "compute_masks": False}
        if len(images) == 1:
            _m, flows, _s = seg.model.eval(images[0], **kwargs)
            return [(np.asarray(flows[1]), np.asarray(flows[2]))]
        from ..segmenters.cellpose.batch import _quiet_stack_warning

        stack = np.stack([np.asarray(im, dtype=np.float32) for im in images])
        with _quiet_stack_warning():  # planes normalised one by one, no stitching: per plane is the point
            _m, flows, _s = seg.model.eval(stack, z_axis=0, do_3D=False, stitch_threshold=0.0,
                                           normalize={"normalize": True, "norm3D": False, "invert": False},
                                           **kwargs)
        n = len(images)
        dp = np.asarray(flows[1]).reshape(2, n, *images[0].shape)
        cellprob = np.asarray(flows[2]).reshape(n, *images[0].shape)
        return [(np.ascontiguousarray(dp[:, i]), np.ascontiguousarray(cellprob[i])) for i in range(n)]

    def _job(self, dp: NDArray[Any], cellprob: NDArray[Any]) -> MaskJob:
        seg = self.segmenter
        diameter, _ = self._diameter()
        niter = int(seg._niter_used(diameter))
        settings = (niter, float(seg.cellprob_threshold), float(seg.flow_threshold), int(seg.min_size))
        if self.masks_on == "cpu":
            return MaskJob("all", dp.astype(np.float32, copy=False), cellprob.astype(np.float32, copy=False),
                           None, *settings)
        from cellpose import dynamics  # the device part of eval's mask stage, as eval runs it

        raw = dynamics.compute_masks(dp, cellprob, niter=niter, cellprob_threshold=settings[1],
                                     flow_threshold=settings[2], interp=True, do_3D=False,
                                     max_size_fraction=_MAX_SIZE_FRACTION, device=seg.model.device)
        return MaskJob("fill", None, None, np.asarray(raw), *settings)

    # ------------------------------------------------------------------ the frame segmenter
    def _submit(self, task: Task, frame: PreparedFrame, job: MaskJob) -> Future[Any]:
        if self._pool is None:
            self.start()
        assert self._pool is not None
        try:
            with signals_blocked():  # submit() may start a worker process
                return self._pool.submit(build_mask, job)
        except BrokenProcessPool:
            raise self._died(task, frame) from None

    def _died(self, task: Task, frame: PreparedFrame) -> BatchSegError:
        self.close()  # the next output starts fresh workers
        return BatchSegError(
            f"{task.input}: a mask worker process died while building frame t={frame.t} "
            "(out of memory?); the next output starts fresh workers"
        )

    def _wait(self, fut: Future[Any]) -> Any:
        return result_unless_cancelled(fut, self.cancel, _Stop)

    def _result(self, task: Task, item: tuple[PreparedFrame, Future[Any], float, float]
                ) -> tuple[PreparedFrame, SegmentOutput, float]:
        from ..segmenters import SegmentOutput

        frame, fut, t_net, reported = item
        try:
            labels, t_mask = self._wait(fut)
        except BrokenProcessPool:
            raise self._died(task, frame) from None
        labels = np.asarray(labels).reshape(frame.image.shape)
        info = {"diameter": round(reported, 3), "n_objects": int(labels.max()) if labels.size else 0,
                "seconds": round(t_net + t_mask, 4)}
        return frame, SegmentOutput(labels=labels, info=info), t_net + t_mask

    def _groups(self, frames: Iterable[PreparedFrame]) -> Iterator[list[PreparedFrame]]:
        group: list[PreparedFrame] = []
        for frame in frames:
            if group and (len(group) >= self.batch_frames or frame.image.shape != group[0].image.shape):
                yield group
                group = []
            group.append(frame)
        if group:
            yield group

    def __call__(self, task: Task, frames: Iterable[PreparedFrame]
                 ) -> Iterator[tuple[PreparedFrame, SegmentOutput, float]]:
        """Segment ``frames`` of ``task``; yield ``(frame, output, seconds)`` in order."""
        key = engine.file_key(task)
        pending: deque[tuple[PreparedFrame, Future[Any], float, float]] = deque()
        _, reported = self._diameter()
        try:
            for group in self._groups(frames):
                if any(f.image.ndim != 2 for f in group):
                    raise ValueError("the pipelined engine segments 2D (Y, X) planes")
                self.segmenter.set_context(key, f"T{group[0].t}" if len(group) == 1
                                           else f"T{group[0].t}-T{group[-1].t}")
                t0 = time.perf_counter()
                flows = self.network_flows([f.image for f in group])
                t_net = (time.perf_counter() - t0) / len(group)
                for frame, (dp, cellprob) in zip(group, flows, strict=True):
                    t1 = time.perf_counter()
                    job = self._job(dp, cellprob)
                    fut = self._submit(task, frame, job)
                    pending.append((frame, fut, t_net + time.perf_counter() - t1, reported))
                del flows, dp, cellprob, job  # each frame's flows are held once: in its job
                while pending and (len(pending) >= self.window or pending[0][1].done()):
                    yield self._result(task, pending.popleft())
            while pending:
                yield self._result(task, pending.popleft())
        except _Stop:
            return
        finally:
            for item in pending:
                item[1].cancel()
            if pending and engine.is_cancelled(self.cancel):
                self.close()  # masks still being built: stop them now


def frame_segmenter_for_run(
    segmenter: Segmenter, options: RunOptions, cancel: CancelCheck = None
) -> PipelinedFrames | BatchedFrames:
    """The engine frame segmenter a one-process run uses (resolved ``options``).

    :class:`PipelinedFrames` when ``options.mask_workers`` > 0 and the segmenter can be pipelined (it
    is started here; close it when the run ends), else :class:`~.batching.BatchedFrames` with
    ``options.batch_frames`` frames per call (one, identical to ``eval`` per frame, unless the fast
    mode was named; the run log records ``frames_per_call`` either way). Why a pipeline was not used
    is added to ``options.notes``.
    """
    n = frames_per_call(options.batch_frames)
    if options.mask_workers:
        why = pipeline_refusal(segmenter)
        if why is None:
            return PipelinedFrames(segmenter, options.mask_workers, n, options.masks_on, cancel).start()
        options.notes.append(f"--mask-workers {options.mask_workers} not used: {why}")
    return BatchedFrames(segmenter, n)


class _Stop(Exception):
    """The run was cancelled while waiting on the workers."""
