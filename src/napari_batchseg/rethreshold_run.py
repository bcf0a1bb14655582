"""Re-threshold finished runs from their kept flows: new masks without loading the network.

A Cellpose 3 run made with ``keep_flows`` leaves, beside its mask, ``<base>_dP.tif`` (per frame the
``(2, Y, X)`` flows as one ``(2Y, X)`` float32 plane) and ``<base>_cellprob.tif``, names them in its
log (``debug output (dP): ...``) and records per frame the dynamics iterations used (``niter N``).
:func:`rethreshold_log` recomputes every frame's labels with other thresholds
(:func:`~.segmenters.cellpose.rethreshold.rethreshold_frame`: Cellpose 3's mask computation, bit for bit;
on the CPU through its exact kernels), and
writes a new output beside the log: ``<stem>_vSM-<suffix>`` (``suffix``) or the run's own files
(``overwrite``),
atomically (log, then mask, renamed into place), with a log that names the source run and carries
the new thresholds in its parameters, so ``batchseg rerun`` of it repeats a full run with them.

Refused, with one line naming the file, before anything is written: a log without kept flows (the run
was made without ``keep_flows``, or the flow files are gone), a log whose input changed since the run
(its size or modification time differs from the log's input identity), flows that do not fit the
log, Cellpose 4 (its mask computation is not the one the flows were made with).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._cancel import CancelCheck, is_cancelled
from ._commit import corrected_copy_names, keep_output
from ._version import __version__
from .errors import BatchSegError, describe
from .io.atomic import atomic_write_text, publish_all, signals_held, staged
from .io.locks import LockInfo, claim
from .io.masks import MaskWriter, count_objects, label_dtype
from .io.naming import LOG_EXT, MASK_EXT, OutputNames, log_path_of, output_names
from .io.sources import PixelSize
from .params import SUFFIX_PATTERN, ParameterError, tracked_suffix
from .provenance import (
    INPUT_IDENTITY_PREFIX,
    INPUT_PREFIX,
    LABELS_HASH_PREFIX,
    OUTPUT_ID_PREFIX,
    POSITION_PREFIX,
    SEGMENTER_PREFIX,
    LoggedRun,
    NotARunLog,
    RunLog,
    log_parameters,
    own_records,
    parse_log,
)
from .segmenters.catalog import cellpose_major, cellpose_version
from .segmenters.cellpose.rethreshold import Thresholds, rethreshold_frame

__all__ = ["KeptFlows", "RethresholdError", "RethresholdResult", "output_paths", "read_kept_flows",
           "rethreshold_log", "suffix_problem"]

#: the log record naming a debug stack (written by the engine for every kept array)
_DEBUG_RECORD = re.compile(r"^debug output \((?P<kind>[A-Za-z0-9_]+)\): (?P<path>.+)$")
_FRAME_RECORD = re.compile(r"^frame t=(?P<t>\d+):.*; niter (?P<niter>\d+)(?:;|$)")
#: the Z slices part of a run's frame record (``frame t=3: z 0-4 (best 2); ...``): copied into the new log's
_Z_PART = re.compile(r"^frame t=\d+: (?P<z>z [^;]+);")
SOURCE_PREFIX = "source run: "


class RethresholdError(BatchSegError):
    """A run cannot be re-thresholded (no kept flows, input changed, unreadable log)."""


@dataclass
class KeptFlows:
    """A finished run's kept flows, checked against its log and its input."""

    log_path: Path
    text: str
    logged: LoggedRun
    segmenter: dict[str, Any]
    mask_path: Path
    dp_path: Path
    cellprob_path: Path
    #: per frame: the time index and the dynamics iterations used
    frames: list[tuple[int, int]]
    shape_yx: tuple[int, int]
    n_positions: int
    records: list[str] = field(default_factory=list)
    #: per frame: the run record's Z slices part (``z 0-4``; ``""`` where it has none)
    z_parts: list[str] = field(default_factory=list)

    def frame_flows(self) -> Iterator[tuple[int, int, NDArray[np.float32], NDArray[np.float32]]]:
        """``(t, niter, dP (2, Y, X), cellprob (Y, X))`` frame after frame (one frame in memory)."""
        import tifffile

        ny, nx = self.shape_yx
        with tifffile.TiffFile(self.dp_path) as dp_file, tifffile.TiffFile(self.cellprob_path) as cp_file:
            for index, (t, niter) in enumerate(self.frames):
                dp = np.asarray(dp_file.pages[index].asarray(), dtype=np.float32).reshape(2, ny, nx)
                cellprob = np.asarray(cp_file.pages[index].asarray(), dtype=np.float32)
                yield t, niter, dp, cellprob


@dataclass
class RethresholdResult:
    """One re-thresholded output."""

    source: Path
    mask: Path
    log: Path
    n_frames: int
    seconds: float
    n_objects: list[int]
    #: where the hand-corrected mask it replaced is kept (``<name>.corrected.ome.tif``), if any
    kept_corrected: Path | None = None


def _records(text: str) -> list[str]:
    out = []
    for line in own_records(text).splitlines():
        parts = line.split(" | ", 3)
        if len(parts) == 4:
            out.append(parts[3])
    return out


def _pages(path: Path) -> tuple[int, tuple[int, ...]]:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tf:
            return len(tf.pages), tuple(tf.pages[0].shape)
    except (OSError, ValueError, IndexError, tifffile.TiffFileError) as exc:
        raise RethresholdError(f"{path}: kept flows cannot be read ({describe(exc)})") from exc


def read_kept_flows(log_path: str | Path) -> KeptFlows:
    """Read a run's log and check that its kept flows are there and still fit its input.

    Raises
    ------
    RethresholdError
        One line naming the file and the problem (see the module notes).
    """
    src = Path(log_path)
    if cellpose_major() >= 4:  # kept flows come from Cellpose 3 runs; Cellpose 4's masks differ
        raise RethresholdError(
            f"{src}: re-thresholding needs Cellpose 3 (kept flows are made by Cellpose 3 runs and "
            f"recomputed with its mask computation); the installed Cellpose is {cellpose_version()}")
    if src.name.endswith(MASK_EXT):
        src = log_path_of(src)
    if src.is_dir():  # (IsADirectoryError; and an image: a UnicodeDecodeError, said as they were)
        raise RethresholdError(f"{src}: a folder, not a run log; give the logs of the runs in it, e.g. "
                               f"{src / ('*_vSM' + LOG_EXT)}")
    if src.is_file() and not src.name.lower().endswith(LOG_EXT):
        raise RethresholdError(f"{src}: not a run log; give a run's <stem>_vSM{LOG_EXT} (or its "
                               f"_vSM{MASK_EXT} mask)")
    try:
        text = src.read_text("utf-8")
        logged = parse_log(text, src)
    except NotARunLog as exc:  # a tracked mask's log: say which log to give instead
        raise RethresholdError(f"{src}: {exc}") from exc
    except (OSError, ValueError) as exc:
        raise RethresholdError(f"{src}: not a readable napari-batchseg run log ({describe(exc)})") from exc
    records = _records(text)
    segmenter: dict[str, Any] = {}
    debug: dict[str, Path] = {}
    frames: list[tuple[int, int]] = []
    z_parts: list[str] = []
    mask_path: Path | None = None
    n_positions = 1
    n_frame_records = 0
    for message in records:
        if message.startswith(SEGMENTER_PREFIX) and not segmenter:
            with contextlib.suppress(ValueError):
                segmenter = dict(json.loads(message[len(SEGMENTER_PREFIX):]))
        elif message.startswith("frame t="):
            n_frame_records += 1
            found = _FRAME_RECORD.match(message)
            if found:
                frames.append((int(found.group("t")), int(found.group("niter"))))
                z_part = _Z_PART.match(message)
                z_parts.append(z_part.group("z") if z_part else "")
        elif message.startswith("output: ") and mask_path is None:
            mask_path = Path(message[len("output: "):].strip())
        elif message.startswith(POSITION_PREFIX):
            with contextlib.suppress(ValueError, IndexError):
                n_positions = int(message[len(POSITION_PREFIX):].split()[2])
        else:
            match = _DEBUG_RECORD.match(message)
            if match:
                debug[match.group("kind")] = Path(match.group("path").strip())
    if logged.params.z_mode != "project":  # (the walk: the advice below is refused for volumes)
        raise RethresholdError(f"{src}: a volume run (z_mode {logged.params.z_mode}): re-thresholding "
                               "recomputes 2D masks of Cellpose 3 runs made with --keep-flows only")
    if segmenter.get("method") != "cellpose" or not segmenter.get("keep_flows") \
            or "dP" not in debug or "cellprob" not in debug:
        raise RethresholdError(f"{src}: the run kept no flows (segment with --keep-flows to "
                               "re-threshold later)")
    if int(segmenter.get("cellpose_major", 3)) != cellpose_major():
        raise RethresholdError(
            f"{src}: the flows were made with Cellpose {segmenter.get('cellpose_version')}; the installed "
            f"Cellpose is {cellpose_version()}: re-threshold them under Cellpose 3")
    if mask_path is None or logged.input_path is None or logged.output_id is None:
        raise RethresholdError(f"{src}: the log is incomplete (no output, input or output id record)")
    if src.name.endswith(LOG_EXT):  # the run's mask is the one beside its log (logs and masks move together)
        mask_path = src.with_name(src.name[: -len(LOG_EXT)] + MASK_EXT)
    if len(frames) != n_frame_records or not frames:
        raise RethresholdError(f"{src}: the log records no dynamics iterations per frame: not a "
                               "run made with --keep-flows")
    for kind in ("dP", "cellprob"):
        if not debug[kind].is_file():
            raise RethresholdError(f"{src}: kept flows missing: {debug[kind]} ({kind}) does not exist")
    _check_input(src, logged)
    n_dp, dp_shape = _pages(debug["dP"])
    n_cp, cp_shape = _pages(debug["cellprob"])
    if n_dp != len(frames) or n_cp != len(frames) or len(cp_shape) != 2 \
            or dp_shape != (2 * cp_shape[0], cp_shape[1]):
        raise RethresholdError(
            f"{src}: kept flows do not fit the log: {debug['dP'].name} {n_dp} x {dp_shape}, "
            f"{debug['cellprob'].name} {n_cp} x {cp_shape}, {len(frames)} frame(s) logged")
    return KeptFlows(src, text, logged, segmenter, mask_path, debug["dP"], debug["cellprob"], frames,
                     (int(cp_shape[0]), int(cp_shape[1])), n_positions, records, z_parts)


def _check_input(src: Path, logged: LoggedRun) -> None:
    """Refuse when the input's size or modification time differs from the log's input identity."""
    identity = logged.input_identity
    path = logged.input_path
    assert path is not None
    if not identity or identity.get("size") is None:
        raise RethresholdError(f"{src}: the log records no input identity: the input cannot be checked")
    try:
        st = path.stat()
    except OSError as exc:
        raise RethresholdError(f"{src}: input {path} cannot be read ({exc.strerror or exc})") from exc
    if st.st_size != int(identity["size"]) or (
            identity.get("mtime_ns") is not None and st.st_mtime_ns != int(identity["mtime_ns"])):
        raise RethresholdError(
            f"{src}: input {path} changed since the run (size {st.st_size}, logged {identity['size']}; "
            "or its modification time): its kept flows no longer describe it; segment it again")


def suffix_problem(suffix: str) -> str:
    """Why ``suffix`` cannot name a re-thresholded output (``""``: it can)."""
    if not suffix or not SUFFIX_PATTERN.match(suffix):
        return f"suffix {suffix!r}: use A-Z, a-z, 0-9 and '-' only (not empty)"
    return tracked_suffix(suffix)


def output_paths(kept: KeptFlows, suffix: str | None, overwrite: bool) -> tuple[Path, Path]:
    """``(mask, log)`` a re-threshold of ``kept`` writes: the run's own (no ``suffix``), else ``_vSM-S`` ones.

    Raises :class:`RethresholdError` for no ``suffix`` without ``overwrite``, a bad ``suffix``, and (without
    ``overwrite``) an output that exists.
    """
    if suffix is None:
        if not overwrite:
            raise RethresholdError(f"{kept.log_path}: give --suffix S for new outputs "
                                   "(<stem>_vSM-S), or --overwrite to replace this run's outputs")
        return kept.mask_path, kept.log_path
    if refused := suffix_problem(suffix):
        raise RethresholdError(refused)
    assert kept.logged.input_path is not None
    names = output_names(kept.logged.input_path, suffix, kept.mask_path.parent,
                         position=kept.logged.position, n_positions=kept.n_positions)
    if not overwrite:
        for path in (names.mask, names.log):
            if path.exists():
                raise RethresholdError(f"{path} exists (--overwrite to replace it, or another --suffix)")
    return names.mask, names.log


def _pixel_size(mask: Path) -> PixelSize:
    """The run's mask's pixel size (from its OME header; no pixels read)."""
    import xml.etree.ElementTree as ET

    import tifffile

    from .io.ome import local_name, ome_pixel_size

    try:
        with tifffile.TiffFile(mask) as tf:
            xml = tf.ome_metadata or ""
        pixels = next((el for el in ET.fromstring(xml).iter() if local_name(el.tag) == "Pixels"), None)
    except (OSError, ValueError, ET.ParseError, tifffile.TiffFileError):
        return PixelSize()
    return ome_pixel_size(pixels) if pixels is not None else PixelSize()


def rethreshold_log(
    log_path: str | Path,
    thresholds: Thresholds,
    *,
    suffix: str | None = None,
    overwrite: bool = False,
    cancel: CancelCheck = None,
) -> RethresholdResult:
    """Recompute a run's masks from its kept flows with ``thresholds``; write the new output.

    Parameters
    ----------
    log_path
        The run's ``_vSM.log`` (or its ``_vSM.ome.tif``).
    thresholds
        The new cell probability and flow thresholds and minimum object size.
    suffix
        Write ``<stem>_vSM-<suffix>`` beside the run's mask (an existing one only with ``overwrite``).
    overwrite
        Without ``suffix``: replace the run's own mask and log (its kept flows stay).
    cancel
        Checked between frames; a cancelled call writes nothing.

    Raises
    ------
    RethresholdError
        Nothing was written (see the module notes); also when cancelled.
    """
    kept = read_kept_flows(log_path)
    mask_target, log_target = output_paths(kept, suffix, overwrite)
    try:
        params = kept.logged.params.replace(
            cellprob_threshold=thresholds.cellprob_threshold, flow_threshold=thresholds.flow_threshold,
            min_size=thresholds.min_size,
            suffix=suffix if suffix is not None else kept.logged.params.suffix)
    except ParameterError as exc:
        raise RethresholdError(f"{kept.log_path}: {exc}") from exc
    claimed = claim(mask_target)
    if isinstance(claimed, LockInfo):
        raise RethresholdError(f"{mask_target}: being produced by {claimed.describe()}")
    started = time.perf_counter()
    writer: MaskWriter | None = None
    keep: OutputNames | None = None
    try:
        pixel_size = _pixel_size(kept.mask_path)
        writer = MaskWriter(mask_target, len(kept.frames), kept.shape_yx, pixel_size)
        log = _start_log(kept, params, thresholds)
        digest = hashlib.sha256()
        counts: list[int] = []
        for index, (t, niter, dp, cellprob) in enumerate(kept.frame_flows()):
            if is_cancelled(cancel):
                raise RethresholdError(f"{kept.log_path}: cancelled; nothing was written")
            t0 = time.perf_counter()
            labels = rethreshold_frame(dp, cellprob, thresholds, niter=niter)
            seconds = time.perf_counter() - t0
            writer.write_frame(index, labels)
            digest.update(np.ascontiguousarray(labels, dtype="<u4").tobytes())
            n_obj = count_objects(labels)
            counts.append(n_obj)
            # the run's Z slices as its record gives them (batchseg train reads them: without, a
            # re-thresholded mask "records 0 frame(s)")
            z_part = f"{kept.z_parts[index]}; " if index < len(kept.z_parts) and kept.z_parts[index] else ""
            log.info(f"frame t={t}: {z_part}{n_obj} objects; rethreshold {seconds:.3f} s; niter {niter}")
        targets = OutputNames(mask_target, log_target)
        keep = corrected_copy_names(targets)
        if keep is not None:  # hand corrections are never lost to an overwrite (as segment's)
            log.info(f"the hand-corrected output it replaces is kept as {keep.mask.name} "
                     f"(and {keep.log.name})")
        _finish_log(log, kept, mask_target, log_target, writer.max_label, digest.hexdigest(), started)
        text = log.text()
        with staged() as stage:  # (an exception or a stop before the renames: the stage's files removed)
            writer.commit(text)
            atomic_write_text(log_target, text)
            with signals_held():  # the kept copy and the new pair: all in place, or the stage dropped
                if keep is not None:
                    keep_output(targets, keep)
                publish_all(stage, (log_target, mask_target))
    finally:
        if writer is not None:
            writer.abort()
        claimed.release()
    return RethresholdResult(kept.log_path, mask_target, log_target, len(kept.frames),
                             time.perf_counter() - started, counts, keep.mask if keep is not None else None)


def _start_log(kept: KeptFlows, params: Any, thresholds: Thresholds) -> RunLog:
    """The new output's opening records: what it came from, the input, the parameters, the segmenter."""
    log = RunLog()
    log.info(f"napari-batchseg {__version__} segmentation (rethreshold: masks recomputed from kept "
             "flows, no network)")
    log.info(f"{SOURCE_PREFIX}{kept.log_path.absolute()} (output id {kept.logged.output_id})")
    for message in kept.records:
        if message.startswith(("platform: ", "versions: ", INPUT_PREFIX, "input format: ",
                               POSITION_PREFIX, "channel used: ", "channels used: ", "z: ", "frames: ")):
            log.info(message)
    log_parameters(log, params)
    described = dict(kept.segmenter)
    described.update(cellprob_threshold=thresholds.cellprob_threshold,
                     flow_threshold=thresholds.flow_threshold, min_size=thresholds.min_size)
    log.info(SEGMENTER_PREFIX + json.dumps(described, sort_keys=True, default=str))
    return log


def _finish_log(log: RunLog, kept: KeptFlows, mask: Path, log_path: Path, top: int, labels_sha: str,
                started: float) -> None:
    for message in kept.records:
        if message.startswith(INPUT_IDENTITY_PREFIX):
            log.info(message)
    log.info(f"debug output (dP): {kept.dp_path}")
    log.info(f"debug output (cellprob): {kept.cellprob_path}")
    log.info(f"output: {mask}")
    log.info(f"log: {log_path}")
    log.info(f"label dtype: {label_dtype(top).name} (largest id {top})")
    log.info(LABELS_HASH_PREFIX + labels_sha + " (uint32 little-endian, frame by frame)")
    log.info(OUTPUT_ID_PREFIX + uuid.uuid4().hex)
    elapsed = time.perf_counter() - started
    log.info(f"finished: {len(kept.frames)} frame(s) in {elapsed:.2f} s "
             f"({elapsed / max(len(kept.frames), 1):.3f} s/frame)")
