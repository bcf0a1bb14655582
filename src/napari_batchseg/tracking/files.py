"""Track a mask file: ``<base>_tracks.csv``, ``<base>-tracked.ome.tif`` and ``<base>-tracked.log`` beside it.

The mask is read lazily, one frame at a time, twice (objects, then relabelling): memory holds the object
table and one frame, whatever the movie length (trackastra excepted: it reads the whole movie). The
three outputs are written under temporary names and renamed together at the end: a failure or an
interruption leaves none of them half-written, and an existing output is replaced only with
``overwrite``. The log uses the provenance format (``<time> | tracking | INFO | ...``): the method, the
parameters (one JSON line), the library versions and the input mask's sha256, followed by the mask's
own log as earlier processing. :func:`read_saved_tracks` reads the three back (checked against the
mask) as a :class:`~.run.TrackResult`, to go on correcting it; :func:`read_tracks` reads a tracks table
(for ``measure``, the summary, the napari reader and the Track dock alike).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath
from typing import Any

import numpy as np
import pandas as pd

from .._labels import PreparedImage, mask_base, open_mask_stack, resolve_source
from ..errors import InputError, OutputError, describe
from ..io.arrays import one_path
from ..io.atomic import (
    atomic_path,
    atomic_write_text,
    check_writable_dir,
    publish_all,
    sha256_file,
    staged,
)
from ..io.masks import MaskWriter
from ..io.naming import LOG_EXT, MASK_EXT, TRACKED_TAG, first_free_kept
from ..io.naming import TRACKED_SUFFIX as TRACKED_SUFFIX  # (its name here too: tracking's outputs)
from ..io.reader import open_source
from ..provenance import INPUT_MASK_PREFIX, PARAMS_PREFIX, RunLog, own_records, package_versions, parse_log
from .base import FrameReader, NotATimeLapse, TrackingError, TrackParams
from .registry import get_tracker
from .run import TrackResult, track_stack

__all__ = [
    "EDIT_COLUMNS", "LOG_MODULE", "TRACK_ID_COLUMNS", "LoggedTracking", "SavedTracks", "TrackFileResult",
    "check_tracks_of", "logged_tracking", "read_saved_tracks", "read_tracks", "save_track_edits",
    "track_file", "track_paths", "tracked_source", "tracks_siblings", "write_track_outputs",
]

#: the module field of the tracking log's records
LOG_MODULE = "tracking"
#: the log record naming the tracked mask's sha256 (tracks are checked against it before use)
SHA_PREFIX = "input mask sha256: "
#: the log record naming the tracked mask's path
MASK_PREFIX = INPUT_MASK_PREFIX
#: the log record of one correction made in the Track dock
CORRECTION_PREFIX = "track correction: "
#: the ending of a tracks table's name, and of its tracked mask and log
TRACKS_SUFFIX, TRACKED_LOG_SUFFIX = "_tracks.csv", TRACKED_TAG + LOG_EXT
#: the columns of a tracks table that a Tracks layer and the corrections need
EDIT_COLUMNS = ("track_id", "parent_track_id", "frame", "label", "centroid_y_px", "centroid_x_px")


def track_paths(mask: str | Path, output_dir: str | Path | None = None) -> tuple[Path, Path, Path]:
    """``(<base>_tracks.csv, <base>-tracked.ome.tif, <base>-tracked.log)`` of a mask."""
    mask = Path(mask)
    folder = Path(output_dir) if output_dir else mask.parent
    base = mask_base(mask)
    return (folder / f"{base}{TRACKS_SUFFIX}", folder / f"{base}{TRACKED_SUFFIX}",
            folder / f"{base}{TRACKED_LOG_SUFFIX}")


def tracks_siblings(tracks_csv: str | Path) -> tuple[Path, Path]:
    """``(<base>-tracked.ome.tif, <base>-tracked.log)`` beside a ``<base>_tracks.csv``."""
    csv = Path(tracks_csv)
    base = csv.name[: -len(TRACKS_SUFFIX)] if csv.name.endswith(TRACKS_SUFFIX) else csv.stem
    return csv.with_name(base + TRACKED_SUFFIX), csv.with_name(base + TRACKED_LOG_SUFFIX)


@dataclass
class TrackFileResult:
    """What :func:`track_file` wrote."""

    mask: Path
    tracks_csv: Path
    tracked_mask: Path
    log: Path
    result: TrackResult
    seconds: float
    #: copies kept of replaced tracks that held saved corrections (``<base>.corrected_tracks.csv``, ...)
    kept: list[Path] = field(default_factory=list)


def _start_frame(log_text: str) -> int:
    with contextlib.suppress(ValueError, KeyError, TypeError):
        return int(parse_log(log_text).params.start_frame or 0)
    return 0


def _refuse_3d(mask: Path, axes: str | None) -> None:
    source = open_source(mask, axes)
    try:
        sizes = source.info.sizes
        if sizes["C"] > 1 or sizes["P"] > 1:  # as measure refuses it, not "1 frame" (nothing to track)
            one_stack = sizes["T"] == sizes["Z"] == 1
            planes = "; if its planes are time points, give --axes TYX" if one_stack else ""
            raise InputError(f"{mask}: not a label mask: expected one frame stack (T, Y, X), got "
                             f"{source.info.describe()}{planes}")
        if sizes["Z"] > 1:
            raise NotATimeLapse(f"{mask}: a 3D mask (Z = {sizes['Z']}): tracking handles 2D time-lapses "
                                "(T, Y, X) only")
        if sizes["T"] < 2:
            raise NotATimeLapse(f"{mask}: {sizes['T']} frame: tracking needs a time-lapse of 2 frames "
                                "or more")
    finally:
        source.close()


def _tracking_log(mask: Path, result: TrackResult, outputs: tuple[Path, Path, Path],
                  corrections: Sequence[str] = ()) -> RunLog:
    log = RunLog(module=LOG_MODULE)
    log.info(f"{MASK_PREFIX}{mask.resolve()}")
    log.info(f"{SHA_PREFIX}{sha256_file(mask)}")
    log.info(f"method: {result.params.method}")
    log.info(PARAMS_PREFIX + json.dumps(result.params.to_dict(), sort_keys=True))
    log.info("versions: " + json.dumps({**package_versions(), **result.versions}, sort_keys=True))
    for record in corrections:
        log.info(f"{CORRECTION_PREFIX}{record}")
    daughters = result.tracks.loc[result.tracks["parent_track_id"] > 0, "track_id"].nunique()
    log.info(f"tracks: {result.n_tracks} in {result.n_frames} frames ({daughters} daughter tracks)")
    log.info(f"outputs: {outputs[0].name}, {outputs[1].name}")
    return log


def write_track_outputs(
    outputs: tuple[Path, Path, Path], result: TrackResult, frames: FrameReader, n_frames: int,
    shape_yx: tuple[int, int], pixel_size: Any, log_text: str,
) -> None:
    """Write the tracks CSV, the tracked mask (``frames(i)`` relabelled by ``result``) and the log, together.

    Everything is staged under temporary names and published at the end, the log last (it marks the
    outputs complete): an error or an interruption leaves none of the three half-written.
    """
    writer = MaskWriter(outputs[1], n_frames, shape_yx, pixel_size)
    try:
        with staged() as stage:
            with atomic_path(outputs[0]) as tmp:
                result.tracks.to_csv(tmp, index=False)
            for i in range(n_frames):
                writer.write_frame(i, result.relabel(i, frames(i)))
            writer.commit(log_text)
            atomic_write_text(outputs[2], log_text)
            publish_all(stage, outputs)  # the log last: it marks done (a stop before: the stage dropped)
    finally:
        writer.abort()


def track_file(
    mask: str | Path,
    params: TrackParams | None = None,
    output_dir: str | Path | None = None,
    overwrite: bool = False,
    axes: str | None = None,
    force_labels: bool = False,
    image: str | Path | None = None,
) -> TrackFileResult:
    """Track a ``_vSM.ome.tif`` mask and write the tracks CSV, the tracked mask and the log.

    Parameters
    ----------
    mask
        The label mask (``T, Y, X``; T >= 2).
    params
        Method and linking parameters (default :class:`TrackParams`).
    output_dir
        Where the outputs go (default: beside the mask).
    overwrite
        Replace existing outputs (otherwise they are an error and nothing is written).
    axes, force_labels
        As for ``batchseg measure``: axes override of a plain TIFF, use a log-less mask as labels.
    image
        trackastra only: the intensity image, when the mask's log does not name it.

    Raises
    ------
    TrackingError
        One frame, 3D, a label used for two objects in one frame.
    TrackingModelError
        trackastra weights missing.
    InputError, OutputError
        Unreadable mask; an output exists (without ``overwrite``) or cannot be written.
    """
    started = time.perf_counter()
    mask = Path(one_path(mask))  # (np.array("a.tif") is one path)
    if mask.is_dir():  # (was "no such file")
        raise InputError(f"{mask}: a folder, not a mask file; track each of its masks (batchseg track takes "
                         "folders)")
    params = params or TrackParams()
    outputs = track_paths(mask, output_dir)
    if not overwrite:
        existing = [str(p) for p in outputs if p.exists()]
        if existing:
            raise OutputError(f"{mask}: {', '.join(existing)} exist(s); pass --overwrite "
                              "(API: overwrite=True) to replace")
    if not mask.is_file():
        raise InputError(f"{mask}: no such file")
    _refuse_3d(mask, axes)
    tracker = get_tracker(params.method)
    tracker.check(params)  # weights missing: said before anything is read
    with open_mask_stack(mask, axes, force_labels) as stack, contextlib.ExitStack() as ctx:
        start = _start_frame(stack.log_text)
        images: FrameReader | None = None
        if tracker.needs_images:
            spec = resolve_source(stack, image, None, None, None, None)
            prepared = ctx.enter_context(PreparedImage(stack, spec, ()))
            start = spec.start_frame

            def images_of(i: int) -> Any:
                return prepared.frame(i)[0]

            images = images_of
        result = track_stack(stack.frame, stack.n_frames, params, stack.pixel_size, start, images,
                             where=str(mask))
        check_writable_dir(outputs[0].parent)
        text = _tracking_log(mask, result, outputs).text(history=stack.log_text)
        kept = keep_corrected_tracks(outputs)
        write_track_outputs(outputs, result, stack.frame, stack.n_frames, stack.shape_yx, stack.pixel_size,
                            text)
    return TrackFileResult(mask, outputs[0], outputs[1], outputs[2], result, time.perf_counter() - started,
                           kept)


def keep_corrected_tracks(outputs: tuple[Path, Path, Path], carried: Sequence[str] = ()) -> list[Path]:
    """Copy tracks about to be replaced that hold saved corrections; return the copies (none: none held).

    ``<base>.corrected_tracks.csv``, ``-tracked.ome.tif`` and ``-tracked.log`` (``.corrected-2`` and on
    when taken), as an overwritten mask's corrections are kept (a walk: ``--overwrite`` after a mask
    correction dropped 4 track corrections without a word). Each copy is written atomically.

    ``carried``: the corrections of the tracks about to be written. When the replaced tracks' corrections
    begin them (the same corrected tracks saved again, maybe corrected further), nothing is lost and
    nothing is copied; otherwise (tracked afresh, or a saved correction undone) the copy is made (a walk:
    the Track dock's Save after Track cells again replaced the saved corrections without a word).
    """
    csv = outputs[0]
    if not csv.is_file():
        return []
    saved = logged_tracking(csv).corrections
    if not saved or list(carried[: len(saved)]) == saved:
        return []
    base = csv.name[: -len(TRACKS_SUFFIX)]
    kept = first_free_kept(lambda tag: track_paths(csv.with_name(f"{base}{tag}{MASK_EXT}")))
    copies = []
    for source, target in zip(outputs, kept, strict=True):
        if source.is_file():
            with atomic_path(target) as tmp:
                shutil.copy2(source, tmp)
            copies.append(target)
    return copies


@dataclass
class LoggedTracking:
    """What a ``-tracked.log`` records of its tracking (:func:`logged_tracking`)."""

    mask: Path | None = None
    sha256: str | None = None
    params: TrackParams | None = None
    versions: dict[str, str] = field(default_factory=dict)
    corrections: list[str] = field(default_factory=list)


def logged_tracking(tracks_csv: str | Path) -> LoggedTracking:
    """The tracked mask, its sha256, the parameters and the corrections the log beside ``tracks_csv`` names.

    Only the log's own records count (not the mask's history it carries along); a missing log, or a
    record that cannot be read, leaves the field empty. Nothing in the log is executed (JSON only).
    """
    log = tracks_siblings(tracks_csv)[1]
    found = LoggedTracking()
    if not Path(tracks_csv).name.endswith(TRACKS_SUFFIX) or not log.is_file():
        return found
    for line in own_records(log.read_text(encoding="utf-8", errors="replace")).splitlines():
        message = line.split(" | ", 3)[-1]
        if message.startswith(SHA_PREFIX) and found.sha256 is None:
            found.sha256 = message[len(SHA_PREFIX):].strip()
        elif message.startswith(MASK_PREFIX) and found.mask is None:
            found.mask = Path(message[len(MASK_PREFIX):].strip())
        elif message.startswith(PARAMS_PREFIX) and found.params is None:
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                found.params = TrackParams(**json.loads(message[len(PARAMS_PREFIX):]))
        elif message.startswith("versions: ") and not found.versions:
            with contextlib.suppress(ValueError, TypeError):
                found.versions = {str(k): str(v) for k, v in json.loads(message[len("versions: "):]).items()}
        elif message.startswith(CORRECTION_PREFIX):
            found.corrections.append(message[len(CORRECTION_PREFIX):])
    return found


def tracked_source(tracks_csv: str | Path) -> Path | None:
    """The mask ``tracks_csv`` was made from: the file of that name beside it, else where its log names it.

    The file beside the tracks comes first, so that a copied experiment folder resolves to its own mask,
    not to the original folder's. The name is taken as Windows writes it when the logged path has a
    backslash. Without a log: ``<base>.ome.tif`` or ``<base>.tif`` beside ``<base>_tracks.csv``.
    ``None`` when none of these exists (the folder was moved without the mask).
    """
    csv = Path(tracks_csv)
    named = logged_tracking(csv).mask
    if named is None:
        base = csv.name[: -len(TRACKS_SUFFIX)] if csv.name.endswith(TRACKS_SUFFIX) else csv.stem
        candidates = [csv.with_name(base + ext) for ext in (".ome.tif", ".tif")]
    else:
        raw = str(named)
        name = PureWindowsPath(raw).name if "\\" in raw else named.name
        candidates = [csv.with_name(name)] if name else []
        if "\\" not in raw:
            candidates.append(named)
    return next((c for c in candidates if c.is_file()), None)


def check_tracks_of(mask: str | Path, tracks_csv: str | Path) -> None:
    """Raise :class:`TrackingError` when ``tracks_csv`` was not made from ``mask`` as it is now.

    The ``-tracked.log`` written with the tracks names the sha256 of the mask they were made from; a
    tracks table of another mask (or of this mask before it was corrected) is refused in one line.
    Without that log (a table from elsewhere) nothing is checked.
    """
    logged = logged_tracking(tracks_csv)
    if logged.sha256 and logged.sha256 != sha256_file(mask):
        same = logged.mask is not None and Path(logged.mask).name == Path(mask).name
        whose = ("made before the mask changed (its sha256 differs: segmented again or corrected since)"
                 if same else f"of {logged.mask or 'another mask'}, not of {mask} (its sha256 differs)")
        raise TrackingError(f"{tracks_csv}: tracks {whose}: track it again (batchseg track {mask} "
                            "--overwrite); batchseg measure --no-tracks leaves them out")


#: the columns :func:`read_tracks` requires by default (``measure``, ``export ctc``, the summary)
TRACK_ID_COLUMNS: tuple[str, ...] = ("track_id", "parent_track_id", "frame", "label")


def read_tracks(path: str | Path, columns: Sequence[str] = TRACK_ID_COLUMNS) -> pd.DataFrame:
    """Read a ``_tracks.csv`` written by ``batchseg track`` (or a correction save).

    Parameters
    ----------
    path
        The CSV (UTF-8; a byte-order mark, as Excel writes it, is skipped).
    columns
        The columns it must have (default :data:`TRACK_ID_COLUMNS`; the Tracks layer and the corrections
        also need the centroids: :data:`EDIT_COLUMNS`).

    Returns
    -------
    pandas.DataFrame
        One row per object per frame (``track_id``, ``parent_track_id``, ``frame``, ``label``, ...).

    Raises
    ------
    InputError
        When the file cannot be read, or lacks one of ``columns`` (names the file and the columns).
    """
    path = Path(path)
    try:
        table = pd.read_csv(path, encoding="utf-8-sig")
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read tracks: {describe(exc)}") from exc
    missing = set(columns) - set(table.columns)
    if missing:
        raise InputError(f"{path}: not a tracks table (no {', '.join(sorted(missing))} column)")
    return table


@dataclass
class SavedTracks:
    """Tracks read back from the files :func:`track_file` or :func:`save_track_edits` wrote.

    ``result`` holds the relabelled movie (``labels``); ``corrections`` are the log's ``track
    correction`` records, to keep when the tracks are corrected and saved again.
    """

    mask: Path
    tracks_csv: Path
    result: TrackResult
    corrections: list[str]


def read_saved_tracks(
    mask: str | Path, tracks_csv: str | Path | None = None, axes: str | None = None,
    force_labels: bool = False,
) -> SavedTracks:
    """Read the saved tracks of ``mask`` back as a :class:`TrackResult`, to go on correcting them.

    Parameters
    ----------
    mask
        The ``_vSM.ome.tif`` mask that was tracked.
    tracks_csv
        Its tracks table (default: ``<base>_tracks.csv`` beside it).
    axes, force_labels
        As for :func:`track_file`.

    Raises
    ------
    TrackingError
        The tracks were made from another mask, or from this one before it changed.
    InputError
        A missing or unreadable file, a table that is not a tracks table.
    """
    mask = Path(mask)
    csv = Path(tracks_csv) if tracks_csv is not None else track_paths(mask)[0]
    for path in (mask, csv):
        if not path.is_file():
            raise InputError(f"{path}: no such file")
    check_tracks_of(mask, csv)
    table = read_tracks(csv, EDIT_COLUMNS)
    logged = logged_tracking(csv)
    with open_mask_stack(mask, axes, force_labels) as stack:
        result = TrackResult(table, logged.params or TrackParams(), logged.versions, stack.n_frames,
                             _start_frame(stack.log_text))
        _check_same_objects(result, stack, str(csv))
        labels: np.ndarray[Any, Any] | None = None
        for i in range(stack.n_frames):  # filled in place: one movie in memory, not a list and its stack
            frame = result.relabel(i, stack.frame(i))
            if labels is None:
                labels = np.empty((stack.n_frames, *frame.shape), frame.dtype)
            labels[i] = frame
        result.labels = labels
    return SavedTracks(mask, csv, result, logged.corrections)


def _check_same_objects(result: TrackResult, stack: Any, where: str) -> None:
    if stack.n_frames != result.n_frames:
        raise TrackingError(f"{where}: {stack.n_frames} frames, the tracks have {result.n_frames}: tracks of "
                            "another mask")
    by_frame = {int(f): set(g.astype(int)) for f, g in result.tracks.groupby("frame")["label"]}
    for i in range(stack.n_frames):
        found = {int(v) for v in np.unique(stack.frame(i)) if v}
        if found != by_frame.get(i + result.start_frame, set()):
            raise TrackingError(f"{where}: frame {i} has labels the tracks do not have (or lacks some): "
                                "the mask changed since it was tracked (or these are another mask's "
                                "tracks); track it again")


def save_track_edits(
    mask: str | Path, result: TrackResult, corrections: Sequence[str], output_dir: str | Path | None = None,
    axes: str | None = None, force_labels: bool = False,
) -> TrackFileResult:
    """Write corrected tracks of ``mask``: the tracks CSV, tracked mask and log, replacing earlier ones.

    The tracked mask is ``mask`` relabelled by the corrected table (as ``batchseg track`` writes it);
    the log holds the tracking records and one ``track correction: ...`` record per operation
    (``corrections``, in order), then the mask's own log. Written atomically and together
    (:func:`write_track_outputs`). Replaced tracks whose saved corrections ``corrections`` does not begin
    with (tracked afresh since) are first copied to ``<base>.corrected_tracks.csv`` and its tracked mask
    and log (:func:`keep_corrected_tracks`; the copies are the result's ``kept``).

    Raises
    ------
    TrackingError
        The mask's objects are not those of the tracks (another mask, or changed since tracking).
    InputError, OutputError
        Unreadable mask; outputs that cannot be written.
    """
    started = time.perf_counter()
    mask = Path(mask)
    if not mask.is_file():
        raise InputError(f"{mask}: no such file")
    outputs = track_paths(mask, output_dir)
    with open_mask_stack(mask, axes, force_labels) as stack:
        _check_same_objects(result, stack, str(mask))
        check_writable_dir(outputs[0].parent)
        text = _tracking_log(mask, result, outputs, corrections).text(history=stack.log_text)
        kept = keep_corrected_tracks(outputs, corrections)
        write_track_outputs(outputs, result, stack.frame, stack.n_frames, stack.shape_yx, stack.pixel_size,
                            text)
    return TrackFileResult(mask, outputs[0], outputs[1], outputs[2], result, time.perf_counter() - started,
                           kept)
