"""The Python API: segment a batch of files in one call."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import engine
from .discovery import FileFilter
from .params import DEFAULT_EXTENSIONS, SegmentationParams
from .segmenters import Segmenter


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


@dataclass
class RunSummary:
    """Outcome of a batch."""

    reports: list[FileReport] = field(default_factory=list)

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


def report_from_event(event: engine.Event) -> FileReport | None:
    """The final :class:`FileReport` an event stands for (``None`` for progress events)."""
    t = event.task
    if isinstance(event, engine.TaskDone):
        return FileReport(t.input, t.position, "done", event.mask_path, event.log_path,
                          event.n_frames, event.seconds)
    if isinstance(event, engine.TaskSkipped):
        return FileReport(t.input, t.position, "skipped", t.names.mask, reason=event.reason)
    if isinstance(event, engine.TaskFailed):
        return FileReport(t.input, t.position, "failed", reason=event.reason)
    if isinstance(event, engine.TaskCancelled):
        return FileReport(t.input, t.position, "cancelled", reason="cancelled")
    return None


def segment_files(
    paths: str | Path | Iterable[str | Path],
    params: SegmentationParams | None = None,
    *,
    contains: Sequence[str] = (),
    not_contains: Sequence[str] = (),
    extensions: Sequence[str] = DEFAULT_EXTENSIONS,
    recursive: bool = False,
    segmenter: Segmenter | None = None,
    cancel: Any = None,
    on_event: Callable[[engine.Event], None] | None = None,
    options: Any = None,
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
        Filters for files found in folders.
    segmenter
        A segmenter loaded beforehand (reuse a model across calls).
    cancel
        A :class:`threading.Event` or callable; the run stops between frames when it is set.
    on_event
        Called with every engine event (progress, frames, per-file outcome).
    options
        A :class:`napari_batchseg.runners.RunOptions`: worker processes (``parallel="files"`` or
        ``"frames"``), a Dask cluster; default: this process.
    **overrides
        Single parameter fields to change, e.g. ``model="nuclei", diameter=17``.

    Returns
    -------
    RunSummary
        One :class:`FileReport` per output; failures carry their reason.

    Examples
    --------
    >>> from napari_batchseg import segment_files
    >>> summary = segment_files(["data/"], model="cyto3", diameter=30, contains=["_BF"])  # doctest: +SKIP
    >>> summary.ok  # doctest: +SKIP
    True
    """
    p = params or SegmentationParams()
    if overrides:
        p = p.replace(**overrides)
    if isinstance(paths, (str, Path)):
        paths = [paths]
    flt = FileFilter(contains=contains, not_contains=not_contains, extensions=extensions)
    the_plan = engine.plan(paths, p, flt, recursive=recursive)
    summary = RunSummary()
    from .runners import execute

    for event in execute(the_plan, options, cancel=cancel, segmenter=segmenter):
        if on_event is not None:
            on_event(event)
        report = report_from_event(event)
        if report is not None:
            summary.reports.append(report)
    return summary
