"""What is already on disk for a planned output, compared with the parameters of the run to come.

:func:`output_status` is the one answer the command line, the API and the napari widget use before a
run (the ``existing`` policy, ``--dry-run``, the widget's "what will happen" line):

* ``missing``: no mask; it will be made.
* ``same``: a finished output made with the same segmentation parameters (``skip`` keeps it).
* ``other``: a finished output made with other parameters; :attr:`OutputStatus.differences` says
  which. It is never "done" for the new parameters: ``skip`` leaves it and says so, ``overwrite``
  replaces it, ``error`` refuses it.
* ``corrupt``: a pair from two runs (a commit cut short), or a mask that cannot be read (checked when
  its log carries no output id, as in logs of older versions, and when the mask is taken as edited);
  it is made again under every policy.
* A mask changed by hand outside this tool (:func:`~.io.pairs.pair_state`'s ``edited``: saved by another
  program such as Fiji, without the output id this tool embeds, or left without its log) is ``same``
  or ``other`` as its log (or the log it embeds) says, ``corrected``, with :attr:`OutputStatus.edited`
  saying why: ``skip`` keeps it and says so, ``overwrite`` keeps a copy first, ``error`` refuses it.
* ``busy``: another live run is producing it (its lock is held).

Files of the output that a killed ``--existing overwrite`` left hidden (``.<name>.partial-old-<pid>-*``,
its process gone) are put back by the run before it decides (:func:`~._commit.sweep_leftovers`); asked
with ``put_back_first``, :func:`output_status` judges the output as the run will find it then (nothing is
moved; :attr:`OutputStatus.put_back` lists them), as ``--dry-run`` does.

Parameters that do not change the mask are not compared: where outputs go (``output_dir``,
``suffix``), the ``existing`` policy, ``gpu``, ``batch_size``, ``debug`` and the embedding cache, and
those the run does not use: the volume settings of a projected run (``anisotropy``,
``stitch_threshold``), the projection of a volume run, micro-sam's tiling and mode in a Cellpose run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath
from typing import Any, Literal

from .errors import BatchSegError
from .events import Task
from .io.atomic import check_writable_dir, no_writes
from .io.locks import live_holder
from .io.masks import read_embedded_log
from .io.naming import name_too_long, zarr_container
from .io.pairs import mask_unreadable, pair_state
from .params import SegmentationParams
from .provenance import has_module_records, output_id, parse_log

__all__ = [
    "IGNORED_PARAMETERS", "OutputStatus", "State", "describe_differences", "differences", "dry_run_line",
    "output_state", "output_status", "what_happens",
]

State = Literal["missing", "same", "other", "corrupt", "busy"]

#: parameters that decide where and how a run works, not the mask it makes (``positions`` chooses which
#: outputs are made, not what one position's mask is)
IGNORED_PARAMETERS = frozenset(
    {"output_dir", "suffix", "existing", "gpu", "batch_size", "debug", "keep_flows", "positions"}
)
_IGNORED_EXTRA = frozenset({"embedding_cache"})


@dataclass(frozen=True)
class OutputStatus:
    """The state of one planned output (see the module notes)."""

    state: State
    #: why (``corrupt``, ``busy``), or what differs (``other``), in words; empty otherwise
    detail: str = ""
    #: ``other``: parameter name -> (value in the output's log, value now)
    differences: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    #: the mask holds hand corrections (``same``, ``other``): a run that replaces it keeps it as
    #: ``<name>.corrected.ome.tif`` first
    corrected: bool = False
    #: ``(output file, hidden earlier file)`` a killed run left, which the run puts back before it decides
    put_back: tuple[tuple[Path, Path], ...] = ()
    #: the input the output was made from, when it is another file of the same output name that is still
    #: there (``a.tif``'s output, found when ``a.tiff`` is planned): no policy replaces it
    other_input: Path | None = None
    #: why the mask counts as changed by hand though it holds no ``correction`` record (another program
    #: saved it, or its log is gone: :func:`pair_state`'s ``edited``); empty otherwise. Such a mask is
    #: ``corrected`` too
    edited: str = ""


#: parameters a run does not use, by ``z_mode`` (``project``: no volume; ``3d``/``stitch``: no projection)
_UNUSED_BY_Z_MODE = {"project": ("anisotropy", "stitch_threshold"),
                     "3d": ("stitch_threshold", "z_projection"), "stitch": ("anisotropy", "z_projection")}
#: micro-sam's settings, which a Cellpose run does not use
_SAM_ONLY = ("sam_mode", "tile_shape", "halo")


def _comparable(params: SegmentationParams) -> dict[str, Any]:
    data = params.to_dict()
    unused = _UNUSED_BY_Z_MODE.get(params.z_mode, ()) + (_SAM_ONLY if params.method == "cellpose" else ())
    for name in (*IGNORED_PARAMETERS, *unused):  # (a walk: --anisotropy 2 on a 2D run made its outputs
        data.pop(name, None)                      # "made with other parameters", skipped as not done)
    extra = {k: v for k, v in dict(data.pop("extra", {}) or {}).items() if k not in _IGNORED_EXTRA}
    for key, value in extra.items():
        data[f"extra.{key}"] = value
    for name in ("model", "checkpoint"):  # a model file named two ways is one file
        value = data.get(name)
        if value and Path(str(value)).expanduser().is_file():
            data[name] = os.path.realpath(Path(str(value)).expanduser())
    return data


def differences(logged: SegmentationParams, now: SegmentationParams) -> dict[str, tuple[Any, Any]]:
    """The mask-shaping parameters that differ: name -> (logged value, value now)."""
    a, b = _comparable(logged), _comparable(now)
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def describe_differences(diffs: dict[str, tuple[Any, Any]], limit: int = 4) -> str:
    """``diameter auto -> 30.0, model 'cyto3' -> 'nuclei'`` (at most ``limit``, then ``...``).

    A diameter of 0 reads "auto" (estimated, or the model's own), no end frame "last" (to the end), as the
    widget shows them.
    """
    def shown(name: str, value: Any) -> str:
        if name == "end_frame" and value is None:
            return "last"
        if name == "input":  # (its size: the file was replaced since, :func:`_input_resized`)
            return str(value)
        return "auto" if name == "diameter" and value in (0, 0.0) else repr(value)

    parts = [f"{k} {shown(k, old)} -> {shown(k, new)}" for k, (old, new) in list(diffs.items())[:limit]]
    return ", ".join(parts) + (", ..." if len(diffs) > limit else "")


def _put_back_first(mask: Path) -> dict[Path, Path]:
    """Output file -> its earlier file, kept aside by a killed run, that the next run puts back first.

    As the run's sweep (:func:`~._commit.sweep_leftovers`) does: only those of processes gone
    (:func:`~.io.leftovers.asides_of`), where the file is missing or its replacement was cut.
    """
    from .io.leftovers import asides_of

    return {a.target: a.path for a in asides_of(mask)
            if a.kind in ("put-back", "restore") and a.target is not None}


def output_state(task: Task, instead: Mapping[Path, Path] | None = None) -> tuple[str, str]:
    """:func:`pair_state` of a task's output."""
    return pair_state(task.names, instead)


def output_status(task: Task, params: SegmentationParams, put_back_first: bool = False) -> OutputStatus:
    """Where ``task``'s output stands for a run with ``params`` (see the module notes).

    ``put_back_first``: as the run finds it once it has put back the files a killed run left hidden
    (nothing is moved here); else as it is now (the run's own decision, made after that).
    """
    if name_too_long(task.input, (task.names.mask, task.names.log), ""):
        return OutputStatus("missing")  # (no such file can exist: planning fails the task, saying why)
    holder = live_holder(task.names.mask)
    if holder is not None:
        return OutputStatus("busy", f"being produced by {holder.describe()}")
    instead = _put_back_first(task.names.mask) if put_back_first else {}
    back = tuple(instead.items())
    state, why = output_state(task, instead)
    if state == "absent":
        return OutputStatus("missing", put_back=back)
    if state == "incomplete":
        return OutputStatus("corrupt", why, put_back=back)
    edited = why if state == "edited" else ""
    log_file = instead.get(task.names.log, task.names.log)
    try:  # (a mask without its log: the log it embeds, if any)
        text = log_file.read_text(encoding="utf-8", errors="replace") if log_file.exists() else (
            read_embedded_log(instead.get(task.names.mask, task.names.mask)))
    except OSError as exc:
        return OutputStatus("corrupt", f"{log_file}: cannot read ({exc.strerror or exc})", put_back=back)
    if output_id(text) is None:  # an older pair: nothing ties the mask to its log, check the mask
        broken = mask_unreadable(instead.get(task.names.mask, task.names.mask))
        if broken is not None:
            return OutputStatus("corrupt", f"{task.names.mask} is {broken}", put_back=back)
    try:
        run = parse_log(text)
        logged = run.params
    except (ValueError, TypeError) as exc:
        if edited:  # nothing to compare: kept as it is, as an output of these parameters would be
            return OutputStatus("same", corrected=True, put_back=back, edited=edited)
        return OutputStatus("other", f"its log {task.names.log.name} records no parameters ({exc})",
                            put_back=back)
    diffs = _same_frames_dropped(task, logged, params, differences(logged, params))
    other_file = _other_input(task.input, run.input_path)
    if not diffs and (changed := other_file or _input_resized(task.input, run.input_identity)):
        diffs = {"input": changed}
    if task.info is not None and not task.use_axes:  # the file's own axes: an axes override never applies
        diffs.pop("axes", None)
    corrected = has_module_records(text, "correction") or bool(edited)
    other = _still_there(task.input, run.input_path) if other_file else None
    if other_file and other is not None and not diffs:
        diffs = {"input": other_file}
    if diffs:
        return OutputStatus("other", describe_differences(diffs), diffs, corrected, back, other, edited)
    return OutputStatus("same", corrected=corrected, put_back=back, edited=edited)


def _other_input(path: Path, logged: Path | None) -> tuple[str, str] | None:
    """``(input then, input now)`` when the log records another input file than ``path`` (by name).

    Two inputs can share an output name (``a.tif`` and ``a.tiff`` in one folder, two images of one Zarr
    container whose names join alike): the output of one is not the other's, even for the same
    parameters (it was skipped as done). Only the name, and an image's path inside its Zarr container,
    count: a folder moved or mounted elsewhere holds the same inputs. A name that is ``path`` itself is
    not another input: ``IMG.tif`` for ``img.tif`` on a file system that ignores case (macOS, Windows,
    SMB shares), a hard link (before, its output was refused as another input's, still there).
    """
    if logged is None:
        return None
    said, logged = str(logged), _as_here(logged)  # (said as logged: C:\data\a.tif, not C:\/data/a.tif)

    def key(p: Path) -> tuple[str, ...]:
        root = zarr_container(p)
        return (p.name,) if root is None else (root.name, *p.relative_to(root).parts)

    if key(logged) == key(path) or _one_file(_beside(path, logged), path):
        return None
    return (said, str(path))


def _as_here(logged: Path) -> Path:
    r"""A logged input path as a path of this system (one written on Windows, split at its backslashes).

    Read elsewhere, ``C:\data\a.tif`` was one name, the whole text: another input than ``a.tif``.
    """
    if os.sep == "\\" or "\\" not in str(logged):
        return logged
    return Path(*PureWindowsPath(str(logged)).parts)


def _beside(path: Path, logged: Path) -> Path:
    """Where the input ``logged`` names is now: beside ``path`` (or in its Zarr container)."""
    logged = _as_here(logged)
    root, logged_root = zarr_container(path), zarr_container(logged)
    if root is None or logged_root is None:
        return path.parent / logged.name
    return root.parent / logged_root.name / logged.relative_to(logged_root)


def _one_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` both exist and are one file (``False`` where either cannot be read)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _still_there(path: Path, logged: Path | None) -> Path | None:
    """The other input ``logged`` names, beside ``path`` (or in its Zarr container), when it exists."""
    if logged is None:
        return None
    candidate = _beside(path, logged)
    return candidate if candidate != path and candidate.exists() else None


def _input_resized(path: Path, identity: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(size then, size now)`` when ``path`` is not the size its log records (another image since).

    Only the size: cheap for the widget's outputs list. (An input of the same size rewritten is found by
    ``measure``, ``rerun`` and training, which compare its planes' sha256.)
    """
    try:  # (a log edited by hand: a size that is no number says nothing)
        size = int(identity["size"])
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
    try:
        now = None if path.is_dir() else path.stat().st_size
    except OSError:
        return None
    if now is None or now == size:
        return None
    return f"{size} bytes", f"{now} bytes"


def _same_frames_dropped(task: Task, logged: SegmentationParams, now: SegmentationParams,
                         diffs: dict[str, tuple[Any, Any]]) -> dict[str, tuple[Any, Any]]:
    """``diffs`` without the frame range when both ranges give this file the same frames.

    (A single image run with frames 0-9 and then 0-end made one output: it is not "other parameters".)
    """
    if task.info is None or not {"start_frame", "end_frame"} & diffs.keys():
        return diffs
    try:
        same = task.frame_indices(logged) == task.frame_indices(now)
    except BatchSegError:
        return diffs
    return {k: v for k, v in diffs.items() if k not in ("start_frame", "end_frame")} if same else diffs


def what_happens(status: OutputStatus, existing: str) -> str:
    """What a run under the ``existing`` policy does with an output in ``status``, in words.

    Where a killed run left files of the output hidden (:attr:`OutputStatus.put_back`), it says they are
    put back first.
    """
    said = _what_happens(status, existing)
    if status.put_back:
        files = ", ".join(f"{target.name} from {aside.name}" for target, aside in status.put_back)
        said += f" (first put back as before a killed run: {files})"
    return said


def _what_happens(status: OutputStatus, existing: str) -> str:
    if status.state == "missing":
        return "new"
    if status.state == "corrupt":
        return f"incomplete: will be redone ({status.detail})"
    if status.state == "busy":
        return f"skipped: {status.detail}"
    verb = {"skip": "skipped", "overwrite": "overwritten", "error": "refused"}[existing]
    if status.other_input is not None and existing == "overwrite":
        verb = f"refused: the output of {status.other_input.name}, which is still there"
    if status.corrected and existing == "overwrite":
        verb += " (hand-corrected: kept as .corrected.ome.tif)"
    edited = f"; {status.edited}" if status.edited else ""
    if status.state == "other":
        return f"{made_how(status)} ({status.detail}{edited}): {verb}"
    return f"exists{f' ({status.edited})' if edited else ''}: {verb}"


def made_how(status: OutputStatus) -> str:
    """How an ``other`` output differs, in words: "made with other parameters" (or "from another input").

    "made from another input": the file was replaced since, or another file of the same output name made
    it (:func:`_input_resized`, :func:`_other_input`), its parameters the same.
    """
    if set(status.differences) == {"input"}:
        return "made from another input"
    return "made with other parameters"


def dry_run_line(task: Task, params: SegmentationParams) -> tuple[str, bool]:
    """``(<input> -> <mask> [what happens], fails)``: one planned output as ``--dry-run`` lists it.

    ``fails``: the run would fail it (unreadable, an output that exists under ``existing: error``, or
    one it would write into a folder that is not writable, e.g. beside an input on a read-only share);
    such a file's line names no mask (``(no output)``): none would be written.
    """
    if task.error:  # a file read fine that lacks the channel, frames or Z slices asked for "cannot run"
        state = f"{'unreadable' if task.info is None else 'cannot run'}: {task.error}"
        return f"{task.label}\t->\t(no output)\t[{state}]", True
    status = output_status(task, params, put_back_first=True)  # (what the run's sweep does first)
    state = what_happens(status, params.existing)
    fails = params.existing == "error" and status.state in ("same", "other") or (
        params.existing == "overwrite" and status.other_input is not None)
    writes = status.state in ("missing", "corrupt") or (
        params.existing == "overwrite" and status.state in ("same", "other") and not fails)
    if writes:  # the run checks the folder before it writes (nothing is created here)
        try:
            with no_writes():
                check_writable_dir(task.names.mask.parent)
        except BatchSegError as exc:
            return f"{task.label}\t->\t(no output)\t[cannot write: {exc}]", True
    return f"{task.label}\t->\t{task.names.mask}\t[{state}]", fails
