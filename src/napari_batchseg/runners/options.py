"""How a run is spread: :class:`RunOptions`, and the rule that resolves them for the hardware.

:func:`resolve_options` decides what really runs (a GPU run stays in one process; frames per network
call and prefetch depth are filled in); :func:`frames_per_call` is the identity rule (one frame per
call unless a fast mode is asked for by name); :func:`gpu_in_use` is the device rule of
:func:`~..devices.pick_device`. The runner modules import from here, never from the package
``__init__`` (which imports them), so the package has no import cycle.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..params import ParameterError, SegmentationParams

if TYPE_CHECKING:
    from ..segmenters import Segmenter

__all__ = [
    "AUTO_MASK_WORKERS", "MASKS_ON", "PARALLEL_MODES", "RunOptions", "SegmenterFactory", "fast_mode_note",
    "frames_per_call", "gpu_in_use", "resolve_options", "usable_cores",
]

PARALLEL_MODES: tuple[str, ...] = ("none", "files", "frames")
#: where a GPU model's mask stage runs with mask workers (:mod:`.pipeline`)
MASKS_ON: tuple[str, ...] = ("device", "cpu")
#: most mask worker processes started when ``mask_workers`` is left to the hardware (GPU runs)
AUTO_MASK_WORKERS = 8

#: Builds the segmenter in a worker process: ``factory(params) -> Segmenter``. It must be importable
#: by name (a module-level function) so that it can be sent to spawned processes and Dask workers.
SegmenterFactory = Callable[["SegmentationParams"], "Segmenter"]


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


#: Memory assumed per worker process (a Cellpose worker holds about 0.45 GB; images and torch add more)
WORKER_MEMORY_BYTES = 1 << 30


def available_memory() -> int | None:
    """Bytes of memory available to new processes (Linux ``MemAvailable``), ``None`` when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):
        return None


def process_limit() -> tuple[int, str]:
    """The most worker processes worth starting here, and why.

    The usable cores, and the memory available for :data:`WORKER_MEMORY_BYTES` each: more processes
    only compete for them, or end in an out-of-memory kill (8 processes on 2 cores used 4.8 GB).
    """
    cores = usable_cores()
    limit, why = cores, f"{cores} usable CPU core(s)"
    memory = available_memory()
    if memory is not None and memory // WORKER_MEMORY_BYTES < limit:
        limit = max(1, memory // WORKER_MEMORY_BYTES)
        why = f"{memory / 2**30:.1f} GiB of memory available, {WORKER_MEMORY_BYTES / 2**30:g} GiB per worker"
    return limit, why


@dataclass
class RunOptions:
    """How to spread a batch over processes, GPUs or a cluster.

    Parameters
    ----------
    parallel
        ``"none"`` (one process), ``"files"`` (one file per worker process) or ``"frames"`` (frames of
        a file spread over worker processes).
    processes
        Worker processes for ``files``/``frames`` (``1`` runs in this process, like ``"none"``).
    threads_per_process
        Compute threads of each worker (torch, BLAS); ``None``: usable cores // processes, at least 1.
    batch_frames
        Frames segmented together in one :meth:`Segmenter.segment_batch` call (frames of equal shape
        only). ``None`` (the default on every device): one frame per call, masks identical to
        frame-by-frame ``eval``. More is the **fast mode** (``--batch-frames N``): on a GPU the
        network's outputs, and so a few mask pixels, may change with the batch shape
        (:func:`frames_per_call`).
    prefetch
        Frames read and prepared ahead of the segmenter (``None``: enough to keep every worker or
        batch fed).
    dask_scheduler
        Address of a running Dask scheduler (``tcp://host:8786``) or a ``distributed.Client``.
    dask_local
        Start a local Dask cluster of this many worker processes (one thread each).
    segmenter_factory
        Builds the segmenter in each worker process (default: :func:`~..segmenters.load_segmenter`);
        must be a module-level function. Used by tests and benchmarks.
    mask_workers
        One-process runs of a Cellpose 3 model: CPU processes that build the masks from the network's
        flows while the model runs the network of the next frames (:mod:`.pipeline`); ``0``: off.
        ``None``: on with the usable cores less one (at most :data:`AUTO_MASK_WORKERS`) when the model
        runs on a GPU, off on a CPU (where the network already uses every core).
    masks_on
        With a GPU and mask workers: ``"device"`` (default: masks identical to frame-by-frame
        ``eval``, flow following on the GPU) or ``"cpu"`` (the fast mode: the whole mask stage on the
        CPU workers; masks equal CPU dynamics on the GPU's flows, not GPU ``eval``'s).
    """

    parallel: str = "none"
    processes: int = 1
    threads_per_process: int | None = None
    batch_frames: int | None = None
    prefetch: int | None = None
    dask_scheduler: Any = None
    dask_local: int | None = None
    segmenter_factory: SegmenterFactory | None = None
    mask_workers: int | None = None
    masks_on: str = "device"
    notes: list[str] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`~..params.ParameterError` naming the first bad option."""
        if self.parallel not in PARALLEL_MODES:
            raise ParameterError(
                f"parallel {self.parallel!r} unknown; choose one of {', '.join(PARALLEL_MODES)}"
            )
        if self.masks_on not in MASKS_ON:
            raise ParameterError(f"masks_on {self.masks_on!r} unknown; choose one of {', '.join(MASKS_ON)}")
        for name in ("processes", "threads_per_process", "batch_frames", "prefetch", "dask_local",
                     "mask_workers"):
            value = getattr(self, name)
            if value is None:
                continue
            low = 0 if name in ("prefetch", "mask_workers") else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                kind = "an integer >= 0" if low == 0 else "a positive integer"
                raise ParameterError(f"{name} must be {kind}, got {value!r}")
        if self.dask_scheduler is not None and self.dask_local is not None:
            raise ParameterError("give either dask_scheduler or dask_local, not both")

    @property
    def uses_dask(self) -> bool:
        """Whether the batch goes to a Dask cluster."""
        return self.dask_scheduler is not None or self.dask_local is not None

    @property
    def mode(self) -> str:
        """``"dask"``, ``"files"``, ``"frames"`` or ``"none"`` (what will actually run)."""
        if self.uses_dask:
            return "dask"
        if self.parallel != "none" and self.processes > 1:
            return self.parallel
        return "none"

    def threads(self, workers: int | None = None) -> int:
        """Compute threads for each of ``workers`` processes (default ``processes``)."""
        if self.threads_per_process is not None:
            return self.threads_per_process
        n = workers if workers is not None else self.processes
        return max(1, usable_cores() // max(1, n))


def gpu_in_use(params: SegmentationParams) -> bool:
    """Whether the run's model will sit on a GPU: the rule of :func:`~..devices.pick_device`.

    ``params.gpu`` and a usable CUDA or Apple MPS device (the same check the segmenters make).
    """
    if not params.gpu:
        return False
    from ..devices import pick_device

    return pick_device(True).is_gpu


def frames_per_call(batch_frames: int | None) -> int:
    """Frames per network call for a run that asked for ``batch_frames``: the identity rule.

    ``None`` (not asked) is one frame per call on every device, CPU or GPU: masks then equal
    frame-by-frame ``eval`` on the same device. Batching several frames per call is a fast mode
    that must be named (``--batch-frames N``): on a GPU a frame's mask may then depend on the frames
    it was batched with (cuDNN picks kernels by batch shape; measured on an H200,
    docs/performance.md "GPU").
    """
    return 1 if batch_frames is None else max(1, int(batch_frames))


def fast_mode_note(batch_frames: int | None) -> str | None:
    """The note that names the batched fast mode when ``batch_frames`` asks for it, else ``None``."""
    n = frames_per_call(batch_frames)
    if n == 1:
        return None
    return (f"fast mode --batch-frames {n}: {n} frames per network call; masks may differ from "
            "frame-by-frame eval on a GPU (the default is one frame per call)")


def resolve_options(options: RunOptions, params: SegmentationParams) -> RunOptions:
    """The options that will really run: GPU runs stay in one process, frames per call filled in.

    Frames per network call follow :func:`frames_per_call` (one, unless ``batch_frames`` names the
    fast mode) on every device. The returned copy's ``notes`` explain every change and name any fast
    mode (front ends print them; the runners log them). Raises :class:`~..params.ParameterError` for
    ``--parallel frames`` with a volume ``z_mode`` (a volume is segmented in the process that reads it).
    """
    opts = replace(options, notes=list(options.notes))
    note = fast_mode_note(opts.batch_frames)
    if note is not None:
        opts.notes.append(note)
    if opts.uses_dask:  # the workers' hardware decides the rest (frames per call: frames_per_call)
        return opts
    on_gpu = gpu_in_use(params)
    if opts.mode in ("files", "frames") and not on_gpu:
        limit, why = process_limit()
        if opts.processes > limit:
            opts.notes.append(
                f"--processes {opts.processes} reduced to {limit}, the limit here ({why})"
            )
            opts = replace(opts, processes=limit)
    if on_gpu and opts.mode in ("files", "frames"):
        opts.notes.append(
            f"GPU in use: --parallel {opts.parallel} with {opts.processes} processes replaced by one "
            "process that owns the GPU (processes would contend for it)"
        )
        opts = replace(opts, parallel="none", processes=1)
    opts = replace(opts, batch_frames=frames_per_call(opts.batch_frames))
    if opts.mode != "none":
        opts = replace(opts, mask_workers=0)  # pipelining is for the one process that owns the model
    elif opts.mask_workers is None:
        auto = min(AUTO_MASK_WORKERS, usable_cores() - 1) if on_gpu else 0
        opts = replace(opts, mask_workers=max(0, auto))
    if opts.mask_workers and on_gpu and opts.masks_on == "cpu":
        opts.notes.append("fast mode --masks-on cpu: masks built on the CPU from the GPU's flows; they may "
                          "differ from frame-by-frame GPU eval (the default is --masks-on device)")
    if opts.mask_workers and opts.mode == "none" and not on_gpu:
        limit, why = process_limit()
        if opts.mask_workers > limit:
            opts.notes.append(
                f"--mask-workers {opts.mask_workers} reduced to {limit}, the limit here ({why})"
            )
            opts = replace(opts, mask_workers=limit)
    if opts.prefetch is None:
        workers = opts.processes if opts.mode == "frames" else 1
        opts = replace(opts, prefetch=max(2, 2 * workers, (opts.batch_frames or 1) + 1))
    if opts.mode == "frames" and params.z_mode != "project":  # refused before any work, dry runs too
        raise ParameterError(
            f"z_mode {params.z_mode!r} with --parallel frames: volumes are segmented one at a time in the "
            "process that reads them; use --parallel none or files"
        )
    return opts
