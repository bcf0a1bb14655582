"""The one engine behind every front end: plan a batch, then run it frame by frame.

:func:`plan` expands files and folders, reads each file's metadata (no pixels) and fixes every output
name, refusing colliding outputs before any work. :func:`run` yields an event per finished frame
(:class:`FrameDone`, carrying the labels) and per output (:class:`TaskDone`, :class:`TaskSkipped`,
:class:`TaskFailed`). Reading and preparing the next frames overlaps with segmentation; outputs are written
atomically; a failing file never stops the batch; cancelling stops between frames and leaves no
half-written file. Events, :class:`Task` and :class:`Plan` live in :mod:`napari_batchseg.events` and
are re-exported here.

Front ends do not call :func:`run` themselves: :func:`napari_batchseg.runners.execute` plans (or takes
a plan), loads the model only when some task has work, and runs the plan here or over workers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from ._cancel import CancelCheck, is_cancelled
from ._checks import check_finite, check_size, verdict, verify_start
from ._commit import commit, corrected_copy_names, existing_decision, output_state, sweep_leftovers
from ._engine_log import frame_record, start_log
from ._prefetch import Prefetcher
from ._volume_run import plan_volume
from .discovery import FileFilter, collect_files
from .errors import BatchSegError, InputError, describe, whole_path
from .events import (
    FINAL_EVENTS,
    Event,
    FrameDone,
    ModelLoaded,
    ModelLoading,
    Plan,
    Planned,
    RunFailed,
    Task,
    TaskCancelled,
    TaskDone,
    TaskEvent,
    TaskFailed,
    TaskSkipped,
    TaskStarted,
)
from .input_check import HashingSource
from .io.arrays import ArrayInput, register_arrays
from .io.atomic import check_writable_dir
from .io.leftovers import partials_of
from .io.locks import LockInfo, claim
from .io.masks import FrameStackWriter, MaskWriter, count_objects, label_dtype, read_embedded_log
from .io.naming import OutputNames, check_collisions, name_too_long, output_names
from .io.reader import open_source
from .io.sources import ImageSource
from .params import SegmentationParams, with_absolute_paths
from .prepare import PreparedFrame, check_pixel_type, check_z_range, prepare_frame, resolve_channels
from .provenance import (
    INPUT_IDENTITY_PREFIX,
    LABELS_HASH_PREFIX,
    OUTPUT_ID_PREFIX,
)
from .runnable import check_info, one_position_note, read_info_for, select_positions
from .segmenters import Segmenter, SegmentOutput

__all__ = [
    "FINAL_EVENTS", "CancelCheck", "Event", "FrameDone", "FrameSegmenter", "ModelLoaded", "ModelLoading",
    "Plan", "Planned", "RunFailed", "Task", "TaskCancelled", "TaskDone", "TaskEvent", "TaskFailed",
    "TaskSkipped", "TaskStarted", "count_objects", "existing_decision", "file_key", "has_work",
    "is_cancelled", "output_state", "plan", "plan_arrays", "run", "run_task", "screen_tasks",
    "sequential_frames", "sweep_leftovers",
]

log = logging.getLogger(__name__)

#: (task, prepared frames) -> (frame, output, seconds spent segmenting) for each frame, in order
FrameSegmenter = Callable[
    ["Task", Iterable[PreparedFrame]], Iterator[tuple[PreparedFrame, SegmentOutput, float]]
]


# --------------------------------------------------------------------------- plan
def has_work(the_plan: Plan) -> bool:
    """Whether any task is readable and not skipped or refused by the ``existing`` policy."""
    return any(
        t.error is None and existing_decision(t, the_plan.params) is None for t in the_plan.tasks
    )


def plan(
    paths: Iterable[str | Path],
    params: SegmentationParams,
    file_filter: FileFilter | None = None,
    recursive: bool = False,
) -> Plan:
    """Expand ``paths`` and fix every output; raise :class:`OutputError` if outputs collide.

    A file that cannot be opened, or cannot run with ``params`` (:func:`~.runnable.check_info`: a
    channel, Z range or first frame it lacks; a position of ``params.positions`` it lacks), becomes a
    task carrying its error (reported as failed by :func:`run`, before any model is loaded); it does not
    stop planning. A multi-position file yields one task per position chosen (``params.positions``;
    ``None``: all); a file of one position runs whole. An ``end_frame`` past a file's last frame, and
    positions chosen where files of one position run whole, are notes of the plan (:attr:`Plan.notes`).
    """
    notes: list[str] = []
    files = collect_files(paths, file_filter, recursive=recursive, notes=notes)
    return _plan_files(files, params, notes)


def plan_arrays(inputs: Sequence[ArrayInput], params: SegmentationParams) -> Plan:
    """Plan in-memory images (e.g. napari layers) as :func:`plan` plans files.

    Each :class:`~.io.arrays.ArrayInput` is registered as a source (:func:`~.io.arrays.register_arrays`)
    under ``<output_dir or its folder>/<name>`` (``<name>_t<frame>`` when one frame of a time series
    is segmented: outputs of two frames never share a name); the rest is :func:`plan` (absolute model paths,
    writable output folder, colliding outputs refused, files that cannot run marked). Raises
    ``ValueError`` for an input without a folder when there is no output folder, or whose axes do
    not fit its array.
    """
    params = with_absolute_paths(params)  # (a log re-runs from anywhere)
    one = params.start_frame if params.end_frame == params.start_frame else None
    return _plan_files(register_arrays(inputs, params.output_dir, one), params, [])


def _plan_files(files: list[Path], params: SegmentationParams, notes: list[str]) -> Plan:
    """:func:`plan` once the inputs are known."""
    params = with_absolute_paths(params)  # (a log re-runs from anywhere)
    if params.output_dir:
        check_writable_dir(params.output_dir)
    tasks: list[Task] = []
    own_axes: list[Path] = []
    whole: list[Path] = []  # files of one position: ``positions`` has nothing to choose in them
    for f in files:
        use_axes = True
        try:
            info, use_axes = read_info_for(f, params.axes, params.dataset)
        except BatchSegError as exc:  # (a batch's errors name the whole path, as a file gone names it)
            tasks.append(Task(f, 0, 1, output_names(f, params.suffix, params.output_dir),
                              error=whole_path(f, exc)))
            continue
        except Exception as exc:  # noqa: BLE001 - a reader bug must not stop the batch
            msg = f"{f}: cannot read ({describe(exc)})"
            tasks.append(Task(f, 0, 1, output_names(f, params.suffix, params.output_dir), error=msg))
            continue
        if params.axes and not use_axes:
            own_axes.append(f)
        if info.extra.get("left_out"):  # (a TIFF's images of other shapes)
            notes.append(f"{f}: {info.extra['left_out']}")
        try:  # the positions chosen (``positions``); one the file lacks fails the file, not the batch
            chosen = select_positions(info, params.positions)
        except InputError as exc:
            tasks.append(Task(f, 0, 1, output_names(f, params.suffix, params.output_dir), info=info,
                              use_axes=use_axes, error=whole_path(f, exc)))
            continue
        problem = check_info(info, params)  # a channel, Z range or first frame the file lacks
        if problem is None and (clipped := _clipped_end(f, info.sizes["T"], params)):
            notes.append(clipped)
        n_pos = info.sizes["P"]
        if n_pos == 1 and params.positions is not None:
            whole.append(f)
        for p in chosen:
            names = output_names(f, params.suffix, params.output_dir, position=p, n_positions=n_pos)
            error = whole_path(f, problem.message) if problem else _too_long(f, names, params)
            tasks.append(Task(f, p, n_pos, names, info=info, use_axes=use_axes, error=error))
    check_collisions((t.input, t.names) for t in tasks)
    if own_axes:
        shown = ", ".join(f.name for f in own_axes[:5]) + (", ..." if len(own_axes) > 5 else "")
        notes.append(f"axes {params.axes} not applied to {len(own_axes)} file(s) whose own axes are "
                     f"unambiguous ({shown}): the override is for ambiguous files only")
    if note := one_position_note(params.positions, len(whole)):
        notes.append(note)
    return Plan(params, tasks, notes, whole_files=tuple(whole))


def _too_long(path: Path, names: OutputNames, params: SegmentationParams) -> str | None:
    """Why ``path``'s outputs cannot be made: a name over 255 bytes (``None``: they can).

    A long input name plus ``_vSM[-suffix].ome.tif`` (or ``_cellprob.tif`` of ``--debug`` and
    ``--keep-flows``) can pass the file system's limit: that file fails, not the whole batch (an
    ``OSError: File name too long`` from the first look at its output stopped the run).
    """
    extra = [names.debug("cellprob")] if params.debug or params.keep_flows else []  # (the longest)
    return name_too_long(path, (names.mask, names.log, *extra),
                         "give the input a shorter name (or use a shorter --suffix)")


def _clipped_end(path: Path, n_t: int, params: SegmentationParams) -> str:
    """The note that ``end_frame`` is past the last of the file's ``n_t`` frames (``""``: it is not).

    Not an error: files of different lengths in one batch are normal; each is segmented to its end.
    """
    if params.end_frame is None or params.end_frame < n_t:
        return ""
    return (f"{path}: end frame {params.end_frame} is past its last frame {n_t - 1}; frames "
            f"{params.start_frame}-{n_t - 1} are segmented")


# --------------------------------------------------------------------------- run
def screen_tasks(the_plan: Plan, cancel: CancelCheck = None) -> Iterator[TaskEvent | Task]:
    """Walk the plan: events for tasks that need no segmentation, and the tasks that do, in order.

    An unreadable task yields :class:`TaskFailed`; one the ``existing`` policy skips or refuses yields
    its :class:`TaskSkipped` / :class:`TaskFailed`; every other task is yielded itself. Once ``cancel``
    is set, every task left is reported as :class:`TaskCancelled`, so no file silently goes missing.
    Lazy: ``cancel`` is checked each time the next task is asked for.
    """
    for i, task in enumerate(the_plan.tasks):
        if is_cancelled(cancel):
            for left in the_plan.tasks[i:]:
                yield TaskCancelled(left)
            return
        if task.error is not None:
            yield TaskFailed(task, task.error)
            continue
        put_back = sweep_leftovers(task)  # first: an output a killed run left hidden is put back
        decision = existing_decision(task, the_plan.params)  # then decided on
        if put_back and isinstance(decision, TaskSkipped):
            decision = dataclasses.replace(decision, reason=f"{decision.reason} ({'; '.join(put_back)})")
        elif put_back:
            log.warning("; ".join(put_back))
        if decision is not None:
            yield decision
            continue
        yield task


def run(
    the_plan: Plan,
    segmenter: Segmenter | None = None,
    cancel: CancelCheck = None,
    keep_images: bool = False,
    prefetch: int = 2,
    frame_segmenter: FrameSegmenter | None = None,
) -> Iterator[TaskEvent]:
    """Run a plan in this process, yielding task events as work completes.

    Front ends call :func:`napari_batchseg.runners.execute`, which decides where the work runs and
    loads the model; this is the in-process core it uses.

    Parameters
    ----------
    the_plan
        From :func:`plan`.
    segmenter
        A loaded segmenter (``None`` only when ``frame_segmenter`` is given or no task has work).
    cancel
        A :class:`threading.Event` or a callable; checked between frames.
    keep_images
        Attach the prepared input plane to each :class:`FrameDone` (for display).
    prefetch
        Frames read and prepared ahead of the segmenter by a background thread.
    frame_segmenter
        Where frames are segmented (see :func:`run_task`); default: in this thread, one by one.
    """
    if segmenter is None and frame_segmenter is None and has_work(the_plan):
        raise ValueError("engine.run needs a loaded segmenter (runners.execute loads one when needed)")
    for item in screen_tasks(the_plan, cancel):
        if isinstance(item, Task):
            yield from run_task(item, the_plan.params, segmenter, cancel, keep_images, prefetch,
                                frame_segmenter)
        else:
            yield item


def sequential_frames(segmenter: Segmenter) -> FrameSegmenter:
    """The default :data:`FrameSegmenter`: ``segmenter.segment`` on each frame, in this thread."""

    def apply(
        task: Task, frames: Iterable[PreparedFrame]
    ) -> Iterator[tuple[PreparedFrame, SegmentOutput, float]]:
        key = file_key(task)
        for frame in frames:
            segmenter.set_context(key, f"T{frame.t}")
            t0 = time.perf_counter()
            out = segmenter.segment(frame.image)
            yield frame, out, time.perf_counter() - t0

    return apply


def _until_cancelled(frames: Iterable[PreparedFrame], cancel: CancelCheck) -> Iterator[PreparedFrame]:
    for frame in frames:
        if is_cancelled(cancel):
            return
        yield frame


def run_task(
    task: Task,
    params: SegmentationParams,
    segmenter: Segmenter | None,
    cancel: CancelCheck = None,
    keep_images: bool = False,
    prefetch: int = 2,
    frame_segmenter: FrameSegmenter | None = None,
) -> Iterator[TaskEvent]:
    """Produce one output; yields its events. Never raises for problems of the input itself.

    ``frame_segmenter`` maps the task's prepared frames to segmentation outputs (in order); the default
    calls ``segmenter.segment`` frame by frame in this thread. Runners pass their own (process pool, GPU
    batches) to change where the compute happens without changing anything else.

    The output is claimed first (a lock file beside it, see :mod:`~.io.locks`): an output another
    live run holds is skipped. Temporary files a crashed run left for this output are removed. The
    files are written under temporary names and renamed only when all are complete: debug images,
    then the log, then the mask (see :func:`output_state`). ``cancel`` is checked once more just
    before the renames.
    """
    decision = existing_decision(task, params)
    if decision is not None:
        yield decision
        return
    try:
        claimed = claim(task.names.mask)
    except BatchSegError as exc:
        yield TaskFailed(task, str(exc))
        return
    if isinstance(claimed, LockInfo):
        yield TaskSkipped(task, f"{task.names.mask}: being produced by {claimed.describe()}",
                          output_exists=task.names.mask.exists())
        return
    started = time.perf_counter()
    writers: list[FrameStackWriter] = []
    source: ImageSource | None = None
    try:
        decision = existing_decision(task, params)  # finished by another run since it was screened
        if decision is not None:
            yield decision
            return
        for stale in partials_of(task.names.mask):  # we hold the lock: nobody else is writing these
            with contextlib.suppress(OSError):
                stale.unlink()
        mask_existed = task.names.mask.exists()
        source = open_source(task.input, task.axes(params), dataset=params.dataset)
        st = _stat_or_none(task.input)  # None: an in-memory source (io.reader.register_source)
        hashing = HashingSource(source)
        info = source.info
        channel = resolve_channels(info, params.channel)
        check_z_range(info, params.zrange)
        check_pixel_type(info)
        volume = plan_volume(info, params, channel)  # None unless z_mode is 3d or stitch
        frames = task.frame_indices(params)
        check_writable_dir(task.names.mask.parent)
        described = segmenter.describe() if segmenter is not None else {}
        described = getattr(frame_segmenter, "describe", lambda: described)()
        shape_yx = (info.sizes["Y"], info.sizes["X"])
        check_size(task, shape_yx, described)
        log = start_log(task, info, params, described, channel, frames)
        warnings: list[str] = []
        verify_start(task, described, log, warnings)
        if volume is not None:
            log.info(volume.note)
        yield TaskStarted(task, len(frames))
        mask_writer = MaskWriter(task.names.mask, len(frames), volume.shape_zyx if volume else shape_yx,
                                 info.pixel_size)
        writers.append(mask_writer)
        debug_writers: dict[str, FrameStackWriter] = {}
        labels_digest = hashlib.sha256()
        src = hashing

        def produce() -> Iterator[PreparedFrame]:
            for t in frames:
                frame: PreparedFrame
                if volume is not None:  # one (Z, Y, X) volume: z_mode 3d / stitch
                    frame = volume.prepare(src, task.position, t)  # type: ignore[arg-type]
                else:
                    frame = prepare_frame(src, task.position, t, channel, params.zrange,  # type: ignore[arg-type]
                                          params.z_projection)
                check_finite(task, frame)
                yield frame

        if frame_segmenter is None and segmenter is None:
            raise ValueError("run_task needs a segmenter or a frame segmenter")
        apply = frame_segmenter or sequential_frames(segmenter)  # type: ignore[arg-type] # checked above
        if volume is not None:
            apply = volume.frame_segmenter(segmenter)
        # volumes: no read-ahead, one volume (and its working set) in memory at a time
        with volume.unbuffered(produce) if volume else Prefetcher(produce, depth=prefetch) as frames_ahead:
            index = -1  # not enumerate(): its reused result tuple would hold the last frame and labels
            for frame, out, t_seg in apply(task, _until_cancelled(frames_ahead, cancel)):
                index += 1
                labels = out.labels
                mask_writer.write_frame(index, labels)
                labels_digest.update(np.ascontiguousarray(labels, dtype="<u4").tobytes())
                for kind, arr in out.debug.items():
                    if kind not in debug_writers:
                        debug_writers[kind] = FrameStackWriter(
                            task.names.debug(kind), len(frames), arr.shape, arr.dtype
                        )
                        writers.append(debug_writers[kind])
                    debug_writers[kind].write_frame(index, arr)
                n_obj = count_objects(labels)
                timings = {**frame.timings, "segment": t_seg}
                log.info(frame_record(frame, n_obj, timings, out.info))
                yield FrameDone(
                    task, index, frame.t, len(frames), labels,
                    frame.image if keep_images else None, n_obj,
                    frame.z_used, frame.best_focus, timings,
                )
                del frame, out, labels  # not held while the next frame is read and segmented (volumes)
        if not mask_writer.complete:  # cancelled, or the frame segmenter stopped early
            yield TaskCancelled(task)
            return
        planes_sha256 = hashing.hexdigest()
        identity = {"size": st.st_size if st else None, "mtime_ns": st.st_mtime_ns if st else None,
                    "planes_sha256": planes_sha256}
        log.info(INPUT_IDENTITY_PREFIX + json.dumps(identity, sort_keys=True))
        exp = task.expect
        if exp is not None and exp.planes_sha256 and exp.planes_sha256 != planes_sha256:
            verdict(task, [f"input {task.input} changed: its pixels differ from the logged run's "
                            f"(sha256 of the planes read {planes_sha256[:12]}..., "
                            f"logged {exp.planes_sha256[:12]}...)"], log, warnings)
        elapsed = time.perf_counter() - started
        for kind, w in debug_writers.items():
            log.info(f"debug output ({kind}): {w.path}")
        log.info(f"output: {task.names.mask}")
        log.info(f"log: {task.names.log}")
        keep = corrected_copy_names(task.names) if mask_existed else None
        if keep is not None:  # hand corrections are never lost to a re-run
            warnings.append(f"the hand-corrected output it replaces is kept as {keep.mask.name} "
                            f"(and {keep.log.name})")
            log.info(warnings[-1])
        top = mask_writer.max_label
        log.info(f"label dtype: {label_dtype(top).name} (largest id {top})")
        log.info(LABELS_HASH_PREFIX + labels_digest.hexdigest() + " (uint32 little-endian, frame by frame)")
        log.info(OUTPUT_ID_PREFIX + uuid.uuid4().hex)
        log.info(
            f"finished: {len(frames)} frame(s) in {elapsed:.2f} s "
            f"({elapsed / max(len(frames), 1):.3f} s/frame)"
        )
        history = read_embedded_log(task.input) if info.format in ("ome-tiff", "tiff") else ""
        text = log.text(history)
        outcome = commit(task, params, debug_writers, mask_writer, text, mask_existed, cancel, keep)
        if outcome is not None:
            yield outcome
            return
        extra = [w.path for w in debug_writers.values()]
        yield TaskDone(task, task.names.mask, task.names.log, len(frames), elapsed, extra, tuple(warnings))
    except GeneratorExit:
        raise
    except BatchSegError as exc:
        yield TaskFailed(task, whole_path(task.input, exc))
    except MemoryError:
        yield TaskFailed(task, f"{task.input}: out of memory")
    except Exception as exc:  # noqa: BLE001 - one bad file never stops the batch
        yield TaskFailed(
            task, f"{task.input}: {describe(exc)}", traceback.format_exc()
        )
    finally:
        for w in writers:
            w.abort()
        if source is not None:
            source.close()
        claimed.release()


def _stat_or_none(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except OSError:
        return None


def file_key(task: Task) -> str:
    """Identity of a task's input for caches: path, size, modification time and position."""
    try:
        st = task.input.stat()
        stamp = f"{st.st_size}-{st.st_mtime_ns}"
    except OSError:
        stamp = "0"
    return f"{task.input}|{stamp}|P{task.position}"
