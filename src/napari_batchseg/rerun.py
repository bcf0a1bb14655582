"""Repeating a run from its log without trusting the log: what it loads and where it writes, said first.

A log travels with data and may have been edited. :func:`prepare_rerun` reads it and decides, before
anything is loaded or written:

* **where the outputs go**: beside the log, or where the command line says (``output_dir``); the
  folder the log names is used only when asked (``use_logged_output_dir``). A log cannot make a
  rerun write into a folder of its choosing.
* **what is loaded**: the model and checkpoint files the log names are listed, each marked when it
  lies outside the log's folder. Model files are read without running code (see
  :mod:`.segmenters.safe_load`); a file that needs pickled code is refused unless the user passes
  ``--trust-checkpoint``, which no log or YAML file can set.
* **what is dropped**: the log's embedding cache folder (a cache read from and written to a folder
  a log names) is not used; the default cache is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import BatchSegError
from .events import Expectation
from .params import ParameterError, SegmentationParams
from .provenance import RERUN_PREFIX, LoggedRun, NotARunLog, parse_log

__all__ = ["RerunError", "RerunSetup", "prepare_rerun", "read_logged_run"]


class RerunError(BatchSegError):
    """The log cannot be re-run (unreadable, names no input, bad parameters)."""


@dataclass
class RerunSetup:
    """A rerun decided: its parameters, what it must find, and the lines to show before it starts."""

    logged: LoggedRun
    params: SegmentationParams
    expect: Expectation
    #: what the rerun will load and where it will write (shown before anything is loaded)
    notes: list[str] = field(default_factory=list)
    #: warnings (the log asked for something that is not done)
    warnings: list[str] = field(default_factory=list)


def read_logged_run(source: str | Path) -> LoggedRun:
    """The run a ``.log`` (or a ``_vSM.ome.tif`` with its embedded log) records.

    Raises
    ------
    RerunError
        The file cannot be read or holds no run.
    """
    from .io.masks import read_embedded_log

    src = Path(source)
    try:
        if src.suffix.lower() in (".tif", ".tiff"):
            text = read_embedded_log(src)
        else:
            text = src.read_text("utf-8")
        return parse_log(text, src)
    except NotARunLog as exc:  # a tracked mask's log: say which log to give instead
        what = f"{src} (the log it carries)" if src.suffix.lower() in (".tif", ".tiff") else str(src)
        raise RerunError(f"{what}: {exc}") from exc
    except (OSError, ValueError) as exc:
        raise RerunError(f"cannot read a run from {src}: {exc}") from exc


def _inside(path: Path, folder: Path) -> bool:
    try:
        return os.path.commonpath([os.path.realpath(path), os.path.realpath(folder)]) == os.path.realpath(
            folder
        )
    except ValueError:  # different drives
        return False


def _model_files(params: SegmentationParams) -> list[tuple[str, Path]]:
    """The model files a run with ``params`` loads that the log names by path (built-ins excluded)."""
    out: list[tuple[str, Path]] = []
    for label, value in (("model", params.model), ("checkpoint", params.checkpoint),
                         ("restore", params.restore)):
        if not value:
            continue
        path = Path(str(value)).expanduser()
        if path.is_file() or os.sep in str(value) or (os.altsep and os.altsep in str(value)):
            out.append((label, path))
    return out


def _log_lines(src: Path, logged: LoggedRun, existing: str) -> tuple[str, ...]:
    """The records a rerun's log adds: the log it repeats, and the existing policy used when it differs."""
    lines = [RERUN_PREFIX + str(src.resolve())]
    if existing != logged.params.existing:  # (the parameters record the one used)
        lines.append(f"rerun existing: {existing} (batchseg rerun's --existing, default error: a rerun "
                     f"writes a new output or stops; the repeated run's was {logged.params.existing})")
    return tuple(lines)


def prepare_rerun(
    source: str | Path,
    *,
    output_dir: str | None = None,
    suffix: str | None = None,
    existing: str = "error",
    force: bool = False,
    use_logged_output_dir: bool = False,
) -> RerunSetup:
    """Read a log and decide the rerun (see the module notes); nothing is loaded or written here.

    Raises
    ------
    RerunError
        The log cannot be read, names no input, or its parameters are not valid.
    """
    src = Path(source)
    logged = read_logged_run(src)
    if logged.input_path is None:
        raise RerunError(f"{src} names no input file")
    log_folder = src.absolute().parent
    notes: list[str] = []
    warnings: list[str] = []
    logged_dir = logged.params.output_dir
    if output_dir is not None:
        target = Path(output_dir).expanduser().absolute()
        notes.append(f"will write to {target} (--output-dir)")
    elif use_logged_output_dir and logged_dir:
        target = Path(logged_dir).expanduser().absolute()
        notes.append(f"will write to {target} (the log's output folder, --logged-output-dir)")
    else:
        target = log_folder
        notes.append(f"will write to {target} (beside the log)")
        if logged_dir and Path(logged_dir).expanduser().absolute() != target:
            warnings.append(f"the log names output folder {logged_dir}; writing beside the log instead "
                            "(--output-dir DIR to choose, --logged-output-dir to use the log's)")
    changes: dict[str, Any] = {"existing": existing, "output_dir": str(target)}
    if suffix is not None:
        changes["suffix"] = suffix
    extra = dict(logged.params.extra)
    if extra.get("embedding_cache") not in (None, False, True):
        warnings.append(f"the log's embedding cache folder {extra['embedding_cache']} is not used "
                        "(a rerun uses the default cache)")
        extra.pop("embedding_cache")
        changes["extra"] = extra
    try:
        params = logged.params.replace(**changes)
    except ParameterError as exc:
        raise RerunError(str(exc)) from exc
    for label, path in _model_files(params):
        where = "inside the log's folder" if _inside(path, log_folder) else "outside the log's folder"
        notes.append(f"will load {label} {path} ({where}; read without running code from it)")
    if not _model_files(params):
        notes.append(f"will load {params.method} model {params.model!r} (installed with the package "
                     "or its method)")
    identity = logged.input_identity
    size = identity.get("size")
    expect = Expectation(
        input_size=int(size) if size is not None else None,
        planes_sha256=identity.get("planes_sha256"),
        weights_sha256=logged.weights_sha256,
        force=force,
        log_lines=_log_lines(src, logged, existing),
    )
    return RerunSetup(logged, params, expect, notes, warnings)
