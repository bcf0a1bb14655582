"""Track a mask file: ``<base>_tracks.csv``, ``<base>-tracked.ome.tif`` and ``<base>-tracked.log`` beside it.

The mask is read lazily, one frame at a time, twice (objects, then relabelling): memory holds the object
table and one frame, whatever the movie length (trackastra excepted: it reads the whole movie). The
three outputs are written under temporary names and renamed together at the end: a failure or an
interruption leaves none of them half-written, and an existing output is replaced only with
``overwrite``. The log uses the provenance format (``<time> | tracking | INFO | ...``): the method, the
parameters (one JSON line), the library versions and the input mask's sha256, followed by the mask's
own log as earlier processing.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._labels import PreparedImage, mask_base, open_mask_stack, resolve_source
from ..errors import InputError, OutputError
from ..io.atomic import (
    atomic_path,
    atomic_write_text,
    check_writable_dir,
    publish,
    sha256_file,
    staged,
    sync_folder,
)
from ..io.masks import MaskWriter
from ..io.reader import open_source
from ..provenance import PARAMS_PREFIX, RunLog, package_versions, parse_log
from .base import FrameReader, TrackingError, TrackParams
from .registry import get_tracker
from .run import TrackResult, track_stack

__all__ = [
    "LOG_MODULE", "TrackFileResult", "check_tracks_of", "save_track_edits", "track_file", "track_paths",
    "write_track_outputs",
]

#: the module field of the tracking log's records
LOG_MODULE = "tracking"
#: the log record naming the tracked mask's sha256 (tracks are checked against it before use)
SHA_PREFIX = "input mask sha256: "


def track_paths(mask: str | Path, output_dir: str | Path | None = None) -> tuple[Path, Path, Path]:
    """``(<base>_tracks.csv, <base>-tracked.ome.tif, <base>-tracked.log)`` of a mask."""
    mask = Path(mask)
    folder = Path(output_dir) if output_dir else mask.parent
    base = mask_base(mask)
    return folder / f"{base}_tracks.csv", folder / f"{base}-tracked.ome.tif", folder / f"{base}-tracked.log"


@dataclass
class TrackFileResult:
    """What :func:`track_file` wrote."""

    mask: Path
    tracks_csv: Path
    tracked_mask: Path
    log: Path
    result: TrackResult
    seconds: float


def _start_frame(log_text: str) -> int:
    with contextlib.suppress(ValueError, KeyError, TypeError):
        return int(parse_log(log_text).params.start_frame or 0)
    return 0


def _refuse_3d(mask: Path, axes: str | None) -> None:
    source = open_source(mask, axes)
    try:
        sizes = source.info.sizes
        if sizes["Z"] > 1:
            raise TrackingError(f"{mask}: a 3D mask (Z = {sizes['Z']}): tracking handles 2D time-lapses "
                                "(T, Y, X) only")
        if sizes["T"] < 2:
            raise TrackingError(f"{mask}: {sizes['T']} frame: tracking needs a time-lapse of 2 frames "
                                "or more")
    finally:
        source.close()


def _tracking_log(mask: Path, result: TrackResult, outputs: tuple[Path, Path, Path],
                  corrections: Sequence[str] = ()) -> RunLog:
    log = RunLog(module=LOG_MODULE)
    log.info(f"input mask: {mask.resolve()}")
    log.info(f"{SHA_PREFIX}{sha256_file(mask)}")
    log.info(f"method: {result.params.method}")
    log.info(PARAMS_PREFIX + json.dumps(result.params.to_dict(), sort_keys=True))
    log.info("versions: " + json.dumps({**package_versions(), **result.versions}, sort_keys=True))
    for record in corrections:
        log.info(f"track correction: {record}")
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
        try:
            for target in (outputs[0], outputs[1], outputs[2]):  # the log last: it marks done
                publish(stage.files.pop(target), target)
            sync_folder(outputs[0].parent)
        finally:
            stage.discard()
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
    mask = Path(mask)
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
        write_track_outputs(outputs, result, stack.frame, stack.n_frames, stack.shape_yx, stack.pixel_size,
                            text)
    return TrackFileResult(mask, outputs[0], outputs[1], outputs[2], result, time.perf_counter() - started)


def check_tracks_of(mask: str | Path, tracks_csv: str | Path) -> None:
    """Raise :class:`TrackingError` when ``tracks_csv`` was not made from ``mask`` as it is now.

    The ``-tracked.log`` written with the tracks names the sha256 of the mask they were made from; a
    tracks table of another mask (or of this mask before it was corrected) is refused in one line.
    Without that log (a table from elsewhere) nothing is checked.
    """
    mask, tracks_csv = Path(mask), Path(tracks_csv)
    name = tracks_csv.name
    if not name.endswith("_tracks.csv"):
        return
    log = tracks_csv.with_name(name[: -len("_tracks.csv")] + "-tracked.log")
    if not log.is_file():
        return
    source = recorded = None
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if SHA_PREFIX in line and recorded is None:
            recorded = line.split(SHA_PREFIX, 1)[1].strip()
        elif "input mask: " in line and source is None:
            source = line.split("input mask: ", 1)[1].strip()
    if recorded and recorded != sha256_file(mask):
        raise TrackingError(f"{tracks_csv}: tracks of {source or 'another mask'}, not of {mask} as it is "
                            "now (its sha256 differs: another file, or corrected since): run batchseg track "
                            "on it")


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
    (:func:`write_track_outputs`).

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
        write_track_outputs(outputs, result, stack.frame, stack.n_frames, stack.shape_yx, stack.pixel_size,
                            text)
    return TrackFileResult(mask, outputs[0], outputs[1], outputs[2], result, time.perf_counter() - started)
