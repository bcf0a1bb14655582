"""Messages of the core, phrased for the widget: command-line options become the widget's fields."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from ..io.naming import MASK_EXT, MODULE_TAG
from ..runners import RunSession, TaskState
from .fields import Field
from .form_state import VOLUME_MODES

#: the Files count line's last line while a run runs (``file_list.count_text``): its files, filters and
#: per-file settings stay editable, and the run goes on with what it started with
RUNNING_NOTE = "A run is going: edits to this list apply to the next run only."

#: (pattern, replacement) applied in order; options of the ``batchseg`` command -> the widget's controls
_RULES: tuple[tuple[str, str], ...] = (
    (r"pass a local file: --checkpoint PATH --model ([\w.-]+?)\.",
     r"choose a local file in the Checkpoint field with Model \1 (Settings tab)."),
    (r"with --checkpoint PATH and its architecture with --model",
     "in the Checkpoint field with its architecture as Model"),
    (r"--checkpoint (\S+) needs its architecture as --model",
     r"Checkpoint \1 needs its architecture as Model"),
    (r"\(--checkpoint\)", "(Checkpoint field)"),
    (r"--checkpoint PATH", "a local file in the Checkpoint field"),
    (r"--sam-mode (\w+)", r"Segment Anything mode \1"),
    (r"--model ([\w./-]+)", r"Model \1"),
    (r"Say which with the axes option[,:].*$",
     "Choose them in the Files tab: select the file, then its axes (e.g. TYX for time points)."),
    (r"say which with the dataset option, e\.g\. dataset='[^']*' \(CLI: --dataset [^)]*\)",
     "choose one in its Dataset box (Files tab, the file selected)"),
    (r"--axes", "the file's axes (Files tab)"),
    (r"--channel", "Channel"),
    (r"--gpu", "Use GPU"),
    (r"(?:--)?existing[= ](\w+)", r"If output exists: \1"),
    (r"--suffix S or --output-dir DIR", "another Suffix or Output folder"),
    (r"--suffix\b", "Suffix"),  # (the engine's "a shorter --suffix" of a name too long)
    *((rf"--z-mode {mode}(?![\w/])", f"Z: {label}") for mode, label in VOLUME_MODES),
)


def for_widget(message: str) -> str:
    """``message`` with the command line's options named as the widget's fields."""
    for pattern, repl in _RULES:
        message = re.sub(pattern, repl, message)
    return message


#: advice of the core that no dock field answers, as the docks say it (applied before the fields' names)
_DOCK_WORDS: tuple[tuple[str, str], ...] = (
    ("segment with --keep-flows to re-threshold later",
     "run it again with 'keep flows for re-thresholding' (Batch segmentation, Settings)"),
    ("made with --keep-flows", "made with 'keep flows for re-thresholding'"),
    ("(--overwrite to replace it, or another --suffix)",
     "(tick Overwrite to replace it, or give another Suffix)"),
    ("give --suffix S for new outputs (<stem>_vSM-S), or --overwrite to replace this run's outputs",
     "give a Suffix for new outputs (<stem>_vSM-suffix), or tick Overwrite to replace this run's"),
    # a mask without its log (Measure dock: Measure the mask file, Export)
    ("give the input image (--image) and how it was prepared (--image-channel, --z-range, --z-projection)",
     "open its input image as a layer and Measure the mask's layer with it as the Intensity image, or "
     "give the image on the command line (batchseg measure/export --image, --image-channel, --z-range, "
     "--z-projection)"),
    ("(moved? give its new place with --image)",
     "(moved? open it as a layer and Measure the mask's layer with it as the Intensity image, or give "
     "its new place on the command line: --image)"),
    ("say which one was segmented (--image-channel)",
     "measure the mask's layer with that channel's layer as the Intensity image, or say which one was "
     "segmented on the command line (--image-channel)"),
    ("slices: give --z-range and --z-projection",
     "slices: measure the mask's layer with a projected image layer as the Intensity image, or give them "
     "on the command line (--z-range, --z-projection)"),
    ("give the input frame of the mask's first frame (--start-frame)",
     "give the input frame of the mask's first frame on the command line (--start-frame)"),
    ("give the input image of this volume mask (--image, with --image-channel and --z-range if needed)",
     "open its input image as a layer and Measure the mask's layer with it as the Intensity image, or "
     "give the image on the command line (--image, with --image-channel and --z-range if needed)"),
    # an outline pattern that only the position name matches (Measure dock, Export)
    ("give --pattern-on position (API: pattern_on='position') to read it",
     "choose 'Pattern in: position names first' to read it"),
    # a CTC export (Measure dock) of a mask never tracked: the Track cells dock writes those files
    ("run batchseg track first", "track it first (Track cells dock: Track cells, then Save tracks)"),
    # trackastra without a log (Track dock)
    ("give --image when it has no log", "without a log, track it on the command line with --image"),
)


def for_dock(message: str, fields: Mapping[str, Field]) -> str:
    """``message`` with the command line's options named as a dock's ``fields`` (key -> its spec).

    E.g. "pass --overwrite (API: overwrite=True) to replace it" -> "tick 'Replace existing exports' to
    replace it"; ``--learning-rate`` -> ``'Learning rate'``; ``min_masks=5`` -> ``'Min. objects/frame' = 5``.
    Advice that no field answers (a mask's input image when its log is missing) names what the docks offer
    and, failing that, the command line.
    """
    for cli, dock in _DOCK_WORDS:
        message = message.replace(cli, dock)
    if "overwrite" in fields:  # (a dock without the field keeps the flag: it is no advice of its own)
        message = re.sub(r"pass (--overwrite)(?: \(API: overwrite=True\))?", r"tick \1", message)
    for key, spec in sorted(fields.items(), key=lambda item: -len(item[0])):  # --pattern-on before --pattern
        name = spec.label or spec.text
        if name:
            message = message.replace(f"--{key.replace('_', '-')}", f"'{name}'")
            # the API's name with its value ("fewer than min_masks=5"), not an "(API: …)" aside
            message = re.sub(rf"(?<!API: )\b{key}=", f"'{name}' = ", message)
    return message


def finish_message(counts: dict[str, int], seconds: float, skip_reasons: list[str]) -> str:
    """The line shown when a run ends: how long, and what became of its outputs.

    A run whose outputs were all skipped says so and why (the first reason, phrased for the widget),
    instead of a bare "finished in 0 s" (QA: a parameter changed, Run pressed again, nothing happened).
    """
    parts = [f"{counts[k]} {k}" for k in ("done", "skipped", "failed", "cancelled") if counts.get(k)]
    text = f"finished in {seconds:.0f} s" + (f": {', '.join(parts)}" if parts else "")
    if counts.get("skipped") and skip_reasons:
        text += f". Skipped: {for_widget(skip_reasons[0])}"
        if len(skip_reasons) > 1:
            text += f" (and {len(skip_reasons) - 1} more; see Results)"
        if not counts.get("done") and "another suffix" not in text:  # (the reason may say it already)
            text += ". To segment them again: If output exists: overwrite it, or another suffix (Files tab)"
    return text


def run_message(session: RunSession) -> str:
    """The message line for the run's phase."""
    if session.error is not None:
        return for_widget(session.error)
    if session.phase == "loading":
        return f"loading {session.model_name}…"
    if session.model_state == "loaded":
        device = session.model_description.get("device", "")
        return f"model ready{f' on {device}' if device else ''}; segmenting…"
    if session.notes:
        return "; ".join(session.notes)
    return f"{len(session)} output(s) planned"


def mask_tail(mask: Path) -> str:
    """A mask's name from its module tag on, its extension dropped: ``…_vSM-cyto3`` (another name: whole).

    The status table's File column names the input; in the narrow Details column the whole name was
    elided in the middle (``cells_i…ome.tif``), so that a mask made with an output suffix looked the same
    as a plain one. The tail keeps the suffix in view (a position's ``_P<k>`` is in the File column).
    """
    name = mask.name
    base = name[: -len(MASK_EXT)] if name.endswith(MASK_EXT) else name
    at = base.rfind(MODULE_TAG)
    return "…" + base[at:] if at > 0 else name


def state_details(state: TaskState) -> tuple[str, str]:
    """Text and tooltip of an output's details in the status table (its mask, or why not)."""
    if state.status == "done" and state.mask_path is not None:
        mask = state.mask_path
        return mask_tail(mask), f"{mask}\n{state.n_frames} frame(s) in {state.seconds:.1f} s"
    cell = " · ".join(line.strip() for line in for_widget(state.reason).splitlines() if line.strip())
    if state.status == "failed":  # (the cell: one line, a reason of several lines joined; the tooltip: all)
        return cell, for_widget(state.details or state.reason)
    return cell, for_widget(state.reason)


def frames_cell(state: TaskState) -> str | None:
    """An output's Frames cell in the status table: done out of planned (``None``: left as it is)."""
    if state.status in ("running", "done") or state.frames_done:
        return f"{state.frames_done}/{state.n_frames}"
    return None


def detail_text(name: str, status: str, tooltip: str) -> str:
    """The selected row in full below the status table: its file and status, then its details."""
    return f"{name}: {status}" + (f"\n{tooltip}" if tooltip else "")


def frames_progress(session: RunSession) -> tuple[int, int, str]:
    """The progress bar of a run: ``(maximum, value, format)`` (format as :func:`progress_text` reads it).

    Frames settled (done, or never to be done: skipped, failed) out of the frames planned. The frames
    of skipped and failed files are said (a run that skipped its one file read "1 / 1 frames" as if it
    had segmented it).
    """
    hi = max(session.frames_planned, 1)
    left_out = session.frames_settled - session.frames_done  # of skipped and failed files
    fmt = f"%v / %m frames ({left_out} not segmented)" if left_out else "%v / %m frames"
    return hi, min(session.frames_settled, hi), fmt


def summary_text(counts: dict[str, int], n_tasks: int) -> str:
    """The status table's summary line: outputs ended out of all, then how many per status."""
    if not n_tasks:
        return ""
    ended = sum(counts[s] for s in ("done", "skipped", "failed", "cancelled"))
    # "finished" would be wrong for files that were cancelled or failed
    word = "finished" if ended == counts["done"] + counts["skipped"] else "ended"
    parts = [f"{ended}/{n_tasks} file(s) {word}"]
    parts += [f"{counts[s]} {s}" for s in ("running", "done", "skipped", "failed", "cancelled") if counts[s]]
    return "; ".join(parts)


def progress_text(fmt: str, lo: int, hi: int, value: int) -> str:
    """A progress bar's text as ``QProgressBar`` writes it: ``%v`` value, ``%m`` maximum, ``%p`` percent."""
    pct = int(100 * (value - lo) / max(hi - lo, 1))
    return fmt.replace("%v", str(value)).replace("%m", str(hi)).replace("%p", str(pct))
