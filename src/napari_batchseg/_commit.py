"""An output's files on disk: is it done, what the ``existing`` policy says, leftovers, the commit.

A task's output (mask, log, debug stacks) is written under temporary names and renamed into place
(:func:`commit`); :func:`output_state` tells a finished output from one a crash cut short;
:func:`sweep_leftovers` removes what crashed runs left behind (and puts back an output they left hidden).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
from pathlib import Path

from ._atomic_text import new_temp_file, partial_prefix, write_text_atomic
from ._cancel import CancelCheck, is_cancelled
from .errors import BatchSegError, OutputError
from .events import Task, TaskCancelled, TaskFailed, TaskSkipped
from .existing import made_how, output_state, output_status
from .io.atomic import Appeared, atomic_write_text, dangling_link, publish, publish_all, same_entry, staged
from .io.leftovers import asides_of, partials_of, settle
from .io.locks import LockInfo, claim, lock_path
from .io.masks import FrameStackWriter, MaskWriter, read_embedded_log
from .io.naming import LOG_EXT, MASK_EXT, OutputNames, first_free_kept
from .io.pairs import pair_state
from .params import SegmentationParams
from .provenance import has_module_records

__all__ = ["commit", "corrected_copy_names", "existing_decision", "for_api", "keep_output", "output_state",
           "sweep_leftovers"]

#: the options that the advice of :func:`existing_decision` names, as ``batchseg segment`` spells them
_ADVICE_OPTIONS = re.compile(r"--(existing|suffix|output-dir)(?: (\w+))?\b")


def sweep_leftovers(task: Task) -> list[str]:
    """Remove what crashed runs left for this task's output (a stale lock, temporary files).

    Only when no live run holds the output (the lock is claimed for the sweep, then released). The
    earlier files of the output that a killed run kept aside while replacing them
    (:func:`~.io.atomic.aside_path`, its pid not running) are dealt with as ``batchseg clean`` does
    (:func:`~.io.leftovers.asides_of`, :func:`~.io.leftovers.settle`): where a file of the output is missing,
    its earlier file is its only copy (a file system without hard links, killed between the two
    renames) and is put back, and so are the earlier files of the others that run replaced (the output
    is whole again, as before that run), which the returned lines say; an earlier file that is a
    second name of the file in place (a hard link) is removed. One that differs from the file in place
    of a replacement not seen cut (the new output whole) is left for ``batchseg clean``. Call it before
    the ``existing`` policy's decision: that decides on the output put back. Returns what was put back
    (or could not be), one line each (``[]``: nothing).
    """
    mask = task.names.mask
    if not partials_of(mask) and not asides_of(mask) and not lock_path(mask).exists():
        return []
    try:
        claimed = claim(mask)
    except BatchSegError:  # e.g. a full disk: the leftovers stay for `batchseg clean`
        return []
    if isinstance(claimed, LockInfo):
        return []
    said: list[str] = []
    try:
        for stale in partials_of(mask):
            with contextlib.suppress(OSError):
                stale.unlink()
        for aside in asides_of(mask):
            assert aside.target is not None
            back = aside.kind in ("put-back", "restore")
            if not back and not same_entry(aside.path, aside.target):
                continue  # the earlier file, the new one in place: `batchseg clean` removes it
            try:
                if not settle(aside):
                    continue
            except OSError as exc:
                if back:
                    said.append(f"the earlier {aside.target}, kept aside as {aside.path} by a killed run, "
                                f"could not be put back ({exc.strerror or exc}; `batchseg clean` does it)")
                continue
            if back:
                said.append(f"{aside.target} put back as it was before a run killed while it replaced it "
                            f"(from {aside.path.name})")
    finally:
        claimed.release()
    return said


def existing_decision(task: Task, params: SegmentationParams) -> TaskSkipped | TaskFailed | None:
    """What the ``existing`` policy says when the task's output exists (``None``: go on).

    The output's state is :func:`~.existing.output_status`'s. An output another live run is
    producing (its lock is held) is skipped whatever the policy. An incomplete or corrupt output
    counts as absent: it is produced again. An output made with other parameters is never taken for
    this run's: ``skip`` leaves it and says what differs (:attr:`TaskSkipped.other_parameters`),
    ``error`` refuses it, ``overwrite`` replaces it.
    """
    for path in (task.names.mask, task.names.log):
        target = dangling_link(path)
        if target is not None:
            return TaskFailed(task, f"{path}: a symbolic link to a missing file ({target}) has this output's "
                              "name; nothing was segmented: remove the link, or choose another output "
                              "folder or suffix")
    status = output_status(task, params)
    if status.state == "busy":
        mask = task.names.mask
        return TaskSkipped(task, f"{mask}: {status.detail}", output_exists=mask.exists())
    if status.state in ("missing", "corrupt"):
        return None
    mask = task.names.mask
    # a rerun (batchseg rerun: it expects the logged input) is for new outputs: skipping does nothing for it
    rerun = "use --suffix S or --output-dir DIR for new outputs, or --existing overwrite to replace it"
    if status.other_input is not None:  # another input's output: replacing it would lose that one's
        keep = "use --suffix S or --output-dir DIR to keep both"
        made = f"{mask} is the output of another input, {status.other_input} (still there)"
        if params.existing == "skip":
            return TaskSkipped(task, f"{made}; left as it is ({keep})", other_parameters=True)
        return TaskFailed(task, f"{made}; not replaced ({keep})")
    edited = f"; {status.edited}" if status.edited else ""
    if status.state == "other":
        made = f"output {made_how(status)} ({status.detail}): {mask}{edited}"
        hint = rerun if task.expect is not None else "use --existing overwrite, or another suffix"
        if params.existing == "skip":
            return TaskSkipped(task, f"{made}; left as it is, not redone for these parameters ({hint})",
                               other_parameters=True)
        if params.existing == "error":
            return TaskFailed(task, f"{made} ({hint})")
        return None
    if params.existing == "skip":
        hint = rerun if task.expect is not None else "use --existing overwrite to redo"
        kept = "; left as it is " if edited else " "  # (overwrite keeps an edited mask as .corrected)
        return TaskSkipped(task, f"output exists: {mask}{edited}{kept}({hint})")
    if params.existing == "error":
        hint = rerun if task.expect is not None else "use --existing overwrite or --existing skip"
        return TaskFailed(task, f"output exists: {mask}{edited} ({hint})")
    return None


def for_api(reason: str) -> str:
    """A reason of :func:`existing_decision` with its advice spelt as the Python API's fields.

    The reasons are the command line's (``batchseg segment`` prints them; the napari dock names its
    controls by :func:`~.view.phrasing.for_widget`); ``segment_files``' reports give them as
    :class:`~.params.SegmentationParams`' keywords: ``--existing overwrite`` -> ``existing='overwrite'``,
    ``--suffix S`` -> ``suffix='S'``, ``--output-dir DIR`` -> ``output_dir='DIR'``; without a value
    ("a shorter --suffix") the keyword alone.
    """
    return _ADVICE_OPTIONS.sub(lambda m: m[1].replace("-", "_") + (f"='{m[2]}'" if m[2] else ""), reason)


def corrected_copy_names(names: OutputNames) -> OutputNames | None:
    """Where a hand-corrected output about to be replaced is kept (``None``: it holds no corrections).

    Hand-corrected: its mask has ``correction`` records, or it was changed by hand otherwise
    (:func:`~.existing.pair_state`'s ``edited``: saved by another program, or its log gone).
    ``<stem>_vSM[-suffix].corrected.ome.tif`` and ``.log`` beside it (``.corrected-2`` and on when
    taken): still named as this tool's masks, so never taken for inputs, and open in napari as masks.
    """
    if not names.mask.exists():
        return None
    corrected = has_module_records(read_embedded_log(names.mask), "correction")
    if not corrected and pair_state(names)[0] != "edited":
        return None
    base = names.mask.name[: -len(MASK_EXT)]
    mask, log = first_free_kept(lambda tag: (names.mask.with_name(base + tag + MASK_EXT),
                                             names.mask.with_name(base + tag + LOG_EXT)))
    return OutputNames(mask, log)


def _keep(source: Path, target: Path) -> None:
    """Keep ``source`` under ``target`` too (a hard link: the next rename over ``source`` leaves it)."""
    if not source.exists():
        return
    try:
        os.link(source, target)
    except FileExistsError as exc:
        raise OutputError(f"{target} exists; {source} was not replaced") from exc
    except OSError:  # no hard links here: a copy, renamed into place
        fd, name = new_temp_file(target.parent, partial_prefix(target))  # (a long name: shortened)
        os.close(fd)
        tmp = Path(name)
        shutil.copy2(source, tmp)
        if not publish(tmp, target, replace=False):
            raise OutputError(f"{target} exists; {source} was not replaced") from None


def _place_new(tmp: Path, target: Path) -> None:
    """Put ``tmp`` in place as ``target`` only if no ``target`` exists (a kept copy is never replaced)."""
    if not publish(tmp, target, replace=False):
        raise FileExistsError(errno.EEXIST, "exists", str(target))


def keep_output(names: OutputNames, keep: OutputNames) -> None:
    """Keep an output's mask and log under ``keep``'s names too, before they are replaced.

    A mask without its log gets one all the same: the log it embeds, or (none, e.g. saved by another
    program) a line saying so; the run's warning names both files.
    """
    _keep(names.mask, keep.mask)
    if names.log.exists():
        _keep(names.log, keep.log)
        return
    text = read_embedded_log(names.mask) or (
        f"{names.mask.name} was kept as {keep.mask.name} before a run replaced it; it had no log "
        f"({names.log.name} was missing, and the mask embeds none)\n")

    def refused(exc: OSError, target: Path, _folder: bool) -> OutputError:
        why = "exists" if isinstance(exc, FileExistsError) else f"cannot write ({exc.strerror or exc})"
        return OutputError(f"{target}: {why}; {names.mask} was not replaced")

    # one atomic writer: the permissions of any new file, a shortened temporary name for a long one
    write_text_atomic(keep.log, text, place=_place_new, error=refused)


def commit(
    task: Task,
    params: SegmentationParams,
    debug_writers: dict[str, FrameStackWriter],
    mask_writer: MaskWriter,
    text: str,
    mask_existed: bool,
    cancel: CancelCheck,
    keep: OutputNames | None = None,
) -> TaskSkipped | TaskCancelled | None:
    """Write every file of the output under temporary names, then rename: debug, log, mask.

    The renames are :func:`~.io.atomic.publish_all`'s: all in place or none (a failure, or an
    interruption, puts the previous output's files back), signals held. Under ``skip`` the mask's
    rename never replaces a mask that appeared meanwhile (a run that ignored the lock): the files
    renamed before it are put back too. ``keep``: the previous (hand-corrected) mask and log are kept
    under these names first (:func:`corrected_copy_names`). Returns the event that replaces
    :class:`TaskDone`, or ``None`` when committed.
    """
    with staged() as stage:
        for w in debug_writers.values():
            w.commit()
        mask_writer.commit(text)
        atomic_write_text(task.names.log, text)
    try:
        if is_cancelled(cancel):  # e.g. the run was stopped, or a worker's parent died, meanwhile
            return TaskCancelled(task)
        keep_new_only = params.existing == "skip" and not mask_existed
        if keep_new_only and task.names.mask.exists():
            return TaskSkipped(task, f"output appeared meanwhile: {task.names.mask} (left as it is)")
        if keep is not None:
            keep_output(task.names, keep)
        outputs = [*(w.path for w in debug_writers.values()), task.names.log, task.names.mask]
        try:  # all in place, or none (a failure puts the earlier files back); signals wait
            publish_all(stage, outputs, keep={task.names.mask} if keep_new_only else ())
        except Appeared:
            return TaskSkipped(task, f"output appeared meanwhile: {task.names.mask} (left as it is)")
        return None
    finally:
        stage.discard()
