"""The Python API: segment a batch of files in one call; track, correct and save the tracks of masks.

:func:`open_mask` reads a mask back (a file without a log that looks like an intensity image is refused,
as ``measure``, ``export`` and ``evaluate`` refuse it; ``force_labels=True`` reads it anyway).

Tracking (arrays or files): :func:`track_masks` (a ``(T, Y, X)`` label array -> :class:`TrackResult`
with the tracks table and the relabelled movie), :func:`track_file` (a ``_vSM.ome.tif``: the tracks CSV,
tracked mask and log beside it). Corrections of a :class:`TrackResult` (each returns an :class:`Edited`:
the new result and one line for the log; the input is never changed): :func:`join_tracks`,
:func:`split_track`, :func:`mark_division`, :func:`unmark_division`; :class:`EditHistory` keeps them
and undoes the last; :func:`save_track_edits` writes the corrected tracks of a mask file with one log
record per operation. Bad corrections raise :class:`TrackEditError`. :func:`track_summary` (one row per
track: span, division frame, mean area, growth rate; ``batchseg measure``'s), :func:`read_tracks` (a
``_tracks.csv``) and :func:`evaluate_tracks` (TRA, DET, LNK, division F1 against CTC ground truth by
traccuracy; ``batchseg evaluate --tracks``). The CTC layout: ``export_masks("ctc", masks, folder)``
(:mod:`napari_batchseg.export`).

Examples
--------
>>> from napari_batchseg.api import EditHistory, split_track, track_masks
>>> result = track_masks(masks, max_distance=10)  # doctest: +SKIP
>>> history = EditHistory(result)  # doctest: +SKIP
>>> history.apply(split_track(history.current, 3, frame=20))  # doctest: +SKIP
>>> history.undo().record  # doctest: +SKIP
'undid: split track 3 at frame 20: frames 20-52 are track 41'
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._commit import for_api
from ._labels import LabelStack
from .discovery import FileFilter
from .errors import BatchSegError
from .evaluate_tracks import evaluate_tracks as evaluate_tracks
from .events import Event, RunFailed
from .existing import OutputStatus as OutputStatus
from .existing import output_status as output_status
from .io.arrays import ArraySource, is_pixel_array, one_path
from .io.made_dirs import missing_folders, remove_empty
from .io.masks import MaskFile, read_mask
from .params import SegmentationParams
from .rethreshold_run import RethresholdResult as RethresholdResult
from .rethreshold_run import rethreshold_log as rethreshold_log
from .runners import RunOptions, RunSession, TaskState, execute
from .segmenters import Segmenter
from .segmenters.cellpose.rethreshold import Thresholds as Thresholds
from .segmenters.cellpose.rethreshold import rethreshold_frame as rethreshold_frame
from .tracking import TrackParams as TrackParams
from .tracking import TrackResult as TrackResult
from .tracking import track_masks as track_masks
from .tracking.edit import Edited as Edited
from .tracking.edit import EditHistory as EditHistory
from .tracking.edit import TrackEditError as TrackEditError
from .tracking.edit import join_tracks as join_tracks
from .tracking.edit import mark_division as mark_division
from .tracking.edit import split_track as split_track
from .tracking.edit import unmark_division as unmark_division
from .tracking.files import TrackFileResult as TrackFileResult
from .tracking.files import save_track_edits as save_track_edits
from .tracking.files import track_file as track_file
from .tracking.summary import read_tracks as read_tracks
from .tracking.summary import track_summary as track_summary


@dataclass
class FileReport:
    """Outcome of one output (one input file, or one position of it)."""

    input: Path
    position: int
    status: str  # "done" | "skipped" | "failed" | "cancelled"
    mask: Path | None = None
    log: Path | None = None
    n_frames: int = 0
    seconds: float = 0.0
    reason: str = ""
    #: skipped because the output there was made with other parameters (not this run's result)
    other_parameters: bool = False
    #: what a person should know about a done output (e.g. the hand-corrected mask it replaced is kept
    #: as ``<name>.corrected.ome.tif``); the CLI prints them
    warnings: tuple[str, ...] = ()


@dataclass
class RunSummary:
    """Outcome of a batch."""

    reports: list[FileReport] = field(default_factory=list)
    #: what planning found (e.g. a folder named explicitly whose files the filters all left out, a file
    #: whose last frame is before ``end_frame``) and how the run options were changed; the CLI prints them
    #: as warnings
    notes: tuple[str, ...] = ()

    @property
    def failed(self) -> list[FileReport]:
        """Reports of outputs that failed."""
        return [r for r in self.reports if r.status == "failed"]

    @property
    def ok(self) -> bool:
        """True when nothing failed or was cancelled."""
        return all(r.status in ("done", "skipped") for r in self.reports)

    def to_frame(self) -> Any:
        """A :class:`pandas.DataFrame`, one row per output."""
        import pandas as pd

        return pd.DataFrame([r.__dict__ for r in self.reports])


def report_from_state(state: TaskState) -> FileReport:
    """The :class:`FileReport` of one task of a :class:`~.runners.RunSession`.

    A reason's advice names the API's keywords (``existing='overwrite'``), not the command line's options.
    """
    t = state.task
    if state.status == "done":
        return FileReport(t.input, t.position, "done", state.mask_path, state.log_path,
                          state.n_frames, state.seconds, warnings=state.warnings)
    if state.status == "skipped":
        return FileReport(t.input, t.position, "skipped", state.mask_path, reason=for_api(state.reason),
                          other_parameters=state.other_parameters)
    reason = "cancelled" if state.status == "cancelled" else for_api(state.reason)
    return FileReport(t.input, t.position, state.status, reason=reason)


def segment_files(
    paths: str | Path | Iterable[str | Path],
    params: SegmentationParams | None = None,
    *,
    contains: Sequence[str] = (),
    not_contains: Sequence[str] = (),
    extensions: Sequence[str] | None = None,
    recursive: bool = False,
    segmenter: Segmenter | None = None,
    cancel: Any = None,
    on_event: Callable[[Event], None] | None = None,
    options: RunOptions | None = None,
    **overrides: Any,
) -> RunSummary:
    """Segment files and folders; write ``<stem>_vSM[-suffix].ome.tif`` and ``.log`` for each.

    Parameters
    ----------
    paths
        Files and/or folders. Files named explicitly are always taken; files found in folders must pass
        the filename filters.
    params
        Run parameters (defaults when ``None``).
    contains, not_contains, extensions, recursive
        Filters for files found in folders; ``extensions=None``: the endings of the installed formats
        (:func:`napari_batchseg.io.formats.supported_extensions`).
    segmenter
        A segmenter loaded beforehand (reuse a model across calls).
    cancel
        A :class:`threading.Event` or callable; the run stops between frames when it is set.
    on_event
        Called with every event of the run (:data:`napari_batchseg.events.Event`: planned, model
        loading/loaded, then per output started, frames, outcome).
    options
        A :class:`napari_batchseg.runners.RunOptions`: worker processes (``parallel="files"`` or
        ``"frames"``), a Dask cluster; default: this process.
    **overrides
        Single parameter fields to change, e.g. ``model="nuclei", diameter=17``; ``positions="0,2,5-7"``
        (or ``[0, "B4"]``: indices and position names) segments only those positions of multi-position
        files (:attr:`SegmentationParams.positions`; a file of several lacking one fails, naming those it
        has; a file of one position runs whole).

    Returns
    -------
    RunSummary
        One :class:`FileReport` per output, in plan order; failures carry their reason, done outputs their
        warnings; :attr:`RunSummary.notes` holds what planning found (e.g. a folder whose files the
        filters all left out, a file whose last frame is before ``end_frame``: segmented to its end).
        An output folder the run created and left empty is removed again.

    Raises
    ------
    BatchSegError
        When the run cannot start at all: colliding outputs, an unwritable output folder
        (:class:`~.errors.OutputError`), a model that cannot be loaded (:class:`~.errors.ModelError`).
    ParameterError
        For a setting the model refuses (e.g. ``diameter=0`` for a model without a size model).
    TypeError
        A keyword that is no :class:`SegmentationParams` field (naming the closest one: ``diamter`` ->
        ``diameter``); ``params`` that is not a :class:`SegmentationParams` (e.g. a dict: pass its fields as
        keywords),
        or an array (or a list holding one) given as ``paths``: in-memory images run through
        :func:`napari_batchseg.engine.plan_arrays` and :func:`napari_batchseg.runners.execute`.

    Examples
    --------
    >>> from napari_batchseg import segment_files
    >>> summary = segment_files(["data/"], model="cyto3", diameter=30, contains=["_BF"])  # doctest: +SKIP
    >>> summary.ok  # doctest: +SKIP
    True
    """
    paths = _paths_not_arrays(paths)
    if params is not None and not isinstance(params, SegmentationParams):  # (a dict: AttributeError)
        raise TypeError(
            f"params must be a SegmentationParams, not {type(params).__name__}: build one "
            "(SegmentationParams(**fields)), or pass the fields as keywords: segment_files(paths, **fields)"
        )
    p = params or SegmentationParams()
    if overrides:
        _known_fields(overrides)
        p = p.replace(**overrides)
    flt = (FileFilter(contains=contains, not_contains=not_contains) if extensions is None
           else FileFilter(contains=contains, not_contains=not_contains, extensions=extensions))
    created = missing_folders(p.output_dir)
    try:
        return _run(paths, p, flt, recursive, segmenter, cancel, on_event, options)
    finally:
        remove_empty(created)


#: the keywords of :func:`segment_files` that are not parameter fields
_OWN_KEYWORDS = ("params", "contains", "not_contains", "extensions", "recursive", "segmenter", "cancel",
                 "on_event", "options")


#: the advice for a keyword that names a model file (``model_path``, ``pretrained_model`` as Cellpose calls
#: it, ``checkpoint_file``, ``weights``): "did you mean 'model'?" read as a built-in name only
_MODEL_FILE_HINT = (
    "a model file is given as model='path/to/model' (a Cellpose model, e.g. one trained with batchseg "
    "train; model takes a built-in name such as 'nuclei' too); for micro-sam (method='sam') as "
    "checkpoint='path/to/checkpoint.pt', with model= its architecture (e.g. 'vit_b_lm')"
)
_MODEL_WORDS = ("model", "weights", "ckpt", "checkpoint", "pretrained")
_FILE_WORDS = ("path", "file", "dir", "folder", "weights", "ckpt", "pretrained")


def _names_model_file(key: str) -> bool:
    """Whether keyword ``key`` (no parameter field) names a model file: ``model_path``, ``weights``, ..."""
    # whole words (weight_decay names no file), of snake_case or camelCase
    words = set(re.findall(r"[a-z]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", key).lower()))
    return bool(words & set(_MODEL_WORDS)) and bool(words & set(_FILE_WORDS))


def _known_fields(overrides: dict[str, Any]) -> None:
    """A :class:`TypeError` for a keyword that is no :class:`SegmentationParams` field, with the likely one.

    (A misspelt ``diamter=25`` got dataclasses' "__init__() got an unexpected keyword argument 'diamter'",
    naming neither segment_files nor what was meant.)
    """
    fields = [f.name for f in dataclasses.fields(SegmentationParams)]
    for key in overrides:
        if key in fields:
            continue
        close = difflib.get_close_matches(key, [*fields, *_OWN_KEYWORDS], n=1)
        if _names_model_file(key):
            hint = _MODEL_FILE_HINT
        elif close:
            hint = f"did you mean {close[0]!r}?"
        else:
            hint = "see help(SegmentationParams) for the fields"
        raise TypeError(f"segment_files() got an unexpected keyword argument {key!r}: {hint} (keywords other "
                        "than its own are SegmentationParams fields)")


def _paths_not_arrays(paths: str | Path | Iterable[str | Path]) -> str | Path | Iterable[str | Path]:
    """``paths`` as given; a 0-d NumPy text array, alone or in a list or tuple, is one path.

    An array of pixels, or one in a list or tuple, is a :class:`TypeError` (it was read as a path:
    "expected str, bytes or os.PathLike object, not ndarray").
    """
    paths = one_path(paths)
    if is_pixel_array(paths):
        items: Sequence[Any] = [paths]
    elif isinstance(paths, (list, tuple)):
        items = [one_path(p) for p in paths]
    else:  # one path, file names in an array; an iterator or a plan is passed on unread
        return paths
    for item in items:
        if is_pixel_array(item):  # (numpy text, e.g. an item of DataFrame["path"].values, is a path)
            raise TypeError(
                f"segment_files takes file and folder paths, not an array (got {type(item).__name__} of "
                f"shape {getattr(item, 'shape', '?')}): save the image to a file and pass its path, or "
                "plan in-memory images with napari_batchseg.engine.plan_arrays([ArrayInput(data, 'YX', "
                "name)], params) (napari_batchseg.io.arrays.ArrayInput) and run the plan with "
                "napari_batchseg.runners.execute"
            )
    return items


def _run(
    paths: str | Path | Iterable[str | Path], params: SegmentationParams, flt: FileFilter, recursive: bool,
    segmenter: Segmenter | None, cancel: Any, on_event: Callable[[Event], None] | None,
    options: RunOptions | None,
) -> RunSummary:
    """:func:`segment_files`' run: its events folded into a :class:`RunSession`, then the summary."""
    session = RunSession()
    events = execute(paths, options, params=params, file_filter=flt, recursive=recursive, cancel=cancel,
                     segmenter=segmenter)
    # closed at once when anything is raised here (on_event's error, a Ctrl-C): the run stops and removes
    # its partial output before the caller sees it (a traceback kept the run alive, and its lock and
    # partial file in the output folder, until the caller's except block was over)
    with contextlib.closing(events):
        for event in events:
            if isinstance(event, RunFailed):
                raise event.error if event.error is not None else BatchSegError(event.message)
            session.apply(event)
            if on_event is not None:
                on_event(event)
            del event  # a frame's labels are not held while the next frame is segmented
    session.finish()
    return RunSummary([report_from_state(s) for s in session.tasks], session.notes)


def open_mask(path: str | Path, *, force_labels: bool = False) -> MaskFile:
    """Read a mask back: labels ``(T, Y, X)`` (``(T, Z, Y, X)`` for a volume mask), pixel size, log.

    A file without a napari-batchseg log is checked as ``measure``, ``export`` and ``evaluate`` check
    their masks (:mod:`~napari_batchseg.io.labelcheck`): one that looks like an intensity image (the
    microscope image passed by mistake) is refused.

    Parameters
    ----------
    path
        The mask: a ``_vSM.ome.tif``, or any TIFF of integer labels (an annotation).
    force_labels
        Read a file without a log as it is, even where it looks like an intensity image.

    Raises
    ------
    InputError
        The file cannot be read, holds values that are not labels (fractions, negative), or (without a
        log and without ``force_labels``) looks like an intensity image; the message names the file.
    """
    mask = read_mask(one_path(path))  # (a 0-d NumPy text array: "expected str, ..., not ndarray")
    if mask.labels.dtype.kind == "f":  # whole-number floats (some annotation tools): uint32, as measure reads
        import numpy as np

        from .io.labelcheck import label_values

        mask.labels = np.stack([label_values(f, mask.path, i) for i, f in enumerate(mask.labels)])
    if force_labels or mask.log_text.strip():
        return mask
    if mask.is_volume:  # evaluate's check of volumes
        from .evaluate import open_volume_labels

        open_volume_labels(mask.path).close()
    else:  # measure's and export's check of (T, Y, X) masks, on the frames just read
        frames = ArraySource(mask.labels, "TYX", mask.path, mask.path.name)
        LabelStack(mask.path, frames, "").check_looks_like_labels()
    return mask
