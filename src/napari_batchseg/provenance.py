"""Run logs: build the provenance text of an output, and read parameters back from it.

A log is a list of records, one per line: ``<time> | <module> | <level> | <message>``. The parameters are
logged as one JSON line (``parameters: {...}``), so a log can be parsed and the run repeated.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import platform
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from .params import SegmentationParams

MODULE = "segmentation"
PARAMS_PREFIX = "parameters: "
INPUT_PREFIX = "input: "
POSITION_PREFIX = "position: "
HISTORY_MARK = "earlier processing of the input"
#: one record per output: the same random id in the ``.log`` and in the log embedded in the mask, so
#: a mask and a log that belong to different runs (a commit cut short) are told apart
OUTPUT_ID_PREFIX = "output id: "
#: the input's identity as read: size, modification time, sha256 of the planes read (JSON)
INPUT_IDENTITY_PREFIX = "input identity: "
#: sha256 of the labels written (uint32 little-endian, frame after frame)
LABELS_HASH_PREFIX = "labels sha256: "
SEGMENTER_PREFIX = "segmenter: "
#: ``batchseg rerun``: the log of the run it repeats (an absolute path)
RERUN_PREFIX = "rerun of: "
#: a later step's record of the mask it read (``batchseg track``'s ``-tracked.log``)
INPUT_MASK_PREFIX = "input mask: "
#: the module field of the records of a later step's log, and the command that writes such a log
LATER_STEPS = {"tracking": "batchseg track"}

_PACKAGES = (
    "napari-batchseg", "cellpose", "torch", "numpy", "tifffile", "nd2", "scikit-image", "micro_sam",
    "segment-anything", "napari",
)


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape a result (only installed ones)."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def platform_summary() -> str:
    """``OS release, machine, Python implementation``."""
    impl = f"{sys.implementation.name} {platform.python_version()}"
    return f"{platform.platform()} ({platform.machine()}), {impl}"


@dataclass
class RunLog:
    """Accumulates log records for one output."""

    module: str = MODULE
    records: list[str] = field(default_factory=list)

    def add(self, message: str, level: str = "INFO") -> None:
        """Append a record stamped with the current local time."""
        stamp = _dt.datetime.now().isoformat(sep=" ", timespec="milliseconds")
        for line in str(message).splitlines() or [""]:
            self.records.append(f"{stamp} | {self.module} | {level} | {line}")

    def info(self, message: str) -> None:
        """Append an INFO record."""
        self.add(message, "INFO")

    def warning(self, message: str) -> None:
        """Append a WARNING record."""
        self.add(message, "WARNING")

    def text(self, history: str = "") -> str:
        """The log text, with the input's own earlier log (``history``) carried along after it."""
        body = "\n".join(self.records)
        if history.strip():
            body += f"\n--- {HISTORY_MARK} ---\n" + history.strip()
        return body + "\n"


def log_parameters(log: RunLog, params: SegmentationParams) -> None:
    """Record all parameters as one parseable JSON line."""
    log.info(PARAMS_PREFIX + json.dumps(params.to_dict(), sort_keys=True))


@dataclass
class LoggedRun:
    """What a log says about the run that made it."""

    params: SegmentationParams
    input_path: Path | None
    position: int | None
    #: the recorded input identity (``size``, ``mtime_ns``, ``planes_sha256``), empty for older logs
    input_identity: dict[str, Any] = field(default_factory=dict)
    #: sha256 of the model weights the segmenter reported (``None`` when not recorded)
    weights_sha256: str | None = None
    output_id: str | None = None
    #: the name of the position (a well, a scene: ``B02``) the log records, ``None`` when it records none
    position_name: str | None = None
    #: the log of the run this one repeats (``batchseg rerun``), ``None`` for a run of its own
    rerun_of: str | None = None


def position_name(record: str) -> str | None:
    """The name in parentheses of a ``position: <i> of <n> (<name>)`` record's text (``None``: none)."""
    _, paren, rest = record.partition(" (")
    name = rest[:-1] if paren and rest.endswith(")") else ""
    return name or None


class NotARunLog(ValueError):
    """A later step's log (``batchseg track``'s ``-tracked.log``) where a segmentation run's log is needed.

    ``run_log`` is the segmentation run's own log (that of the mask the step read), ``None`` when the log
    names no mask.
    """

    def __init__(self, message: str, run_log: Path | None) -> None:
        super().__init__(message)
        self.run_log = run_log


def _later_step(own: str, source: str | Path | None) -> NotARunLog | None:
    """A :class:`NotARunLog` when the log's own records are a later step's (``None`` otherwise)."""
    from .io.naming import log_path_of

    step: str | None = None
    mask: Path | None = None
    for line in own.splitlines():
        parts = line.split(" | ", 3)
        if len(parts) < 4:
            continue
        if step is None:
            step = parts[1]
            if step not in LATER_STEPS:
                return None
        if parts[3].startswith(INPUT_MASK_PREFIX):
            mask = Path(parts[3][len(INPUT_MASK_PREFIX):].strip())
            break
    if step is None:  # (a step not in LATER_STEPS returned above)
        return None
    run_log: Path | None = None
    if mask is not None:
        run_log = log_path_of(mask)
        beside = Path(source).absolute().parent / run_log.name if source is not None else None
        if beside is not None and beside.is_file():  # the one beside it (a folder copied or moved whole)
            run_log = beside
    where = f": {run_log}" if run_log is not None else " (the _vSM.log of the mask it read)"
    return NotARunLog(f"a `{LATER_STEPS[step]}` log ({step}), not a segmentation run log; give the "
                      f"segmentation run's own log instead{where}", run_log)


def parse_log(text: str, source: str | Path | None = None) -> LoggedRun:
    """Read the parameters, input path and position (index and name) back from a log's own records.

    Only the records before the carried-along history are considered. A later step's log (``batchseg
    track``'s) raises :class:`NotARunLog`, which names the run's own log: the one beside ``source`` (the
    log's path) when there is one, else the one beside the mask the step read.
    """
    own = text.split(f"--- {HISTORY_MARK} ---", 1)[0]
    later = _later_step(own, source)
    if later is not None:
        raise later
    params: SegmentationParams | None = None
    input_path: Path | None = None
    position: int | None = None
    name: str | None = None
    identity: dict[str, Any] = {}
    weights: str | None = None
    rerun_of: str | None = None
    for line in own.splitlines():
        parts = line.split(" | ", 3)
        if len(parts) < 4:
            continue
        message = parts[3]
        if message.startswith(PARAMS_PREFIX) and params is None:
            params = SegmentationParams.from_dict(json.loads(message[len(PARAMS_PREFIX):]))
        elif message.startswith(INPUT_PREFIX) and input_path is None:
            input_path = Path(message[len(INPUT_PREFIX):].strip())
        elif message.startswith(POSITION_PREFIX) and position is None:
            position = int(message[len(POSITION_PREFIX):].split()[0])
            name = position_name(message[len(POSITION_PREFIX):].strip())
        elif message.startswith(INPUT_IDENTITY_PREFIX) and not identity:
            with contextlib.suppress(ValueError):
                identity = dict(json.loads(message[len(INPUT_IDENTITY_PREFIX):]))
        elif message.startswith(SEGMENTER_PREFIX) and weights is None:
            with contextlib.suppress(ValueError, AttributeError):
                weights = json.loads(message[len(SEGMENTER_PREFIX):]).get("weights_sha256")
        elif message.startswith(RERUN_PREFIX) and rerun_of is None:
            rerun_of = message[len(RERUN_PREFIX):].strip()
    if params is None:
        raise ValueError("no 'parameters:' record found: not a napari-batchseg segmentation log")
    return LoggedRun(params, input_path, position, identity, weights, output_id(text), name, rerun_of)


def segmentation_run(text: str) -> LoggedRun:
    """The segmentation run behind a log: its own records, else the log carried in its history.

    A later step's log (``batchseg track``'s ``-tracked.log``, embedded in the tracked mask) records its
    own parameters and carries the segmentation log along; the mask's input and its preparation are that
    run's. Raises ``ValueError`` as :func:`parse_log` when neither records a segmentation.
    """
    try:
        return parse_log(text)
    except (ValueError, KeyError, TypeError):
        _, mark, history = text.partition(f"--- {HISTORY_MARK} ---")
        if not mark:
            raise
        return parse_log(history)


def own_records(text: str) -> str:
    """The records of a log before the carried-along history of its input."""
    return text.split(f"--- {HISTORY_MARK} ---", 1)[0]


def output_id(text: str) -> str | None:
    """The output id recorded in a log's own records (``None`` for logs without one)."""
    found = None
    for line in own_records(text).splitlines():
        parts = line.split(" | ", 3)
        if len(parts) == 4 and parts[3].startswith(OUTPUT_ID_PREFIX):
            found = parts[3][len(OUTPUT_ID_PREFIX):].strip()
    return found


def has_module_records(text: str, module: str) -> bool:
    """Whether a log's own records include one of ``module`` (e.g. ``"correction"``)."""
    return any(line.split(" | ", 3)[1:2] == [module] for line in own_records(text).splitlines())
