"""The Files tab's output preview without Qt: names, collisions, what Run does with existing outputs."""

from __future__ import annotations

import functools
from pathlib import Path

from ..errors import OutputError
from ..events import Task
from ..existing import OutputStatus, output_status
from ..io.atomic import check_writable_dir, no_writes
from ..io.formats import kind_of_suffix
from ..io.naming import OutputNames, name_too_long, output_names
from ..io.sources import SourceInfo
from ..params import SegmentationParams
from .fields import Field
from .file_info import is_ambiguous

#: output names shown in the preview (then "... and N more")
PREVIEW_LINES = 6
SUFFIX_HINT = "only A-Z, a-z, 0-9 and '-' are allowed"
#: the Output section's controls that edit one parameter each (the folder has its own row)
OUTPUT_FIELDS = (
    Field("suffix", "text", label="Suffix", text="optional, e.g. cyto3-d30",
          tip=f"Outputs are named <input>_vSM-<suffix>.ome.tif; {SUFFIX_HINT}"),
    Field("existing", "choice", label="If output exists",
          tip="What to do when a file's output exists already",
          choices=(("skip", "skip the file"), ("overwrite", "overwrite it"), ("error", "report an error"))),
)

#: a run into a folder of its own, with none given
NO_FOLDER = "choose an output folder (or use the input folder)"


def suffix_note(suffix: str) -> str:
    """The line under the suffix field: how outputs will be named (``""`` without a suffix)."""
    return f"outputs: <input>_vSM-{suffix}.ome.tif" if suffix else ""


def planned_outputs(files: list[Path], infos: dict[Path, SourceInfo | str | None], suffix: str,
                    output_dir: str | None,
                    positions: dict[Path, list[int]] | None = None) -> list[tuple[Path, int, OutputNames]]:
    """``[(input, position, OutputNames)]`` for ``files`` (positions known from metadata).

    ``positions``: the positions chosen of a file (``FileSetup.chosen_positions``); a file not in it: all.
    """
    out: list[tuple[Path, int, OutputNames]] = []
    for f in files:
        n_pos = positions_of(infos.get(f))
        for p in (positions or {}).get(f, range(n_pos)):
            out.append((f, p, _names(f, suffix, output_dir, p, n_pos)))
    return out


@functools.lru_cache(maxsize=1 << 16)
def _names(path: Path, suffix: str, output_dir: str | None, position: int, n_positions: int) -> OutputNames:
    """:func:`output_names`, remembered: the preview names every listed file again on each change."""
    return output_names(path, suffix, output_dir, position=position, n_positions=n_positions)


def planned_tasks(
    outs: list[tuple[Path, int, OutputNames]], infos: dict[Path, SourceInfo | str | None],
    params: dict[Path, SegmentationParams] | None,
) -> list[tuple[Task, SegmentationParams | None]]:
    """The tasks of ``outs`` (see :func:`planned_outputs`), each with the parameters its file would run with.

    ``infos``: each file's metadata (a string: why it cannot be read; ``None``: not known yet), given to
    its tasks when readable. ``params``: per file (``None``, or a file missing: not known, the form holds
    an invalid value; see :func:`output_statuses`).
    """
    def readable(info: SourceInfo | str | None) -> SourceInfo | None:
        return info if isinstance(info, SourceInfo) else None

    return [(Task(f, p, positions_of(infos.get(f)), names, info=readable(infos.get(f))),
             (params or {}).get(f)) for f, p, names in outs]


def output_statuses(planned: list[tuple[Task, SegmentationParams | None]]) -> list[OutputStatus]:
    """Where each planned output stands for the parameters it would run with (reads logs: a worker).

    Without parameters (the form holds an invalid value) an existing output counts as the same.
    """
    out = []
    for task, params in planned:
        if params is None:  # (a name too long for a file: none can exist)
            there = not name_too_long(task.input, (task.names.mask,), "") and task.names.mask.exists()
            out.append(OutputStatus("same" if there else "missing"))
        else:
            out.append(output_status(task, params, put_back_first=True))  # (as the run will judge it)
    return out


def output_check(planned: list[tuple[Task, SegmentationParams | None]]
                 ) -> tuple[list[OutputStatus], list[str]]:
    """In a worker: :func:`output_statuses`, and why output folders cannot take the files.

    Checked without writing: the folder, or its nearest existing parent when it is still to be made.
    """
    unwritable = []
    with no_writes():
        for folder in sorted({task.names.mask.parent for task, _ in planned}):
            try:
                check_writable_dir(folder)
            except OutputError as exc:
                unwritable.append(str(exc))
    return output_statuses(planned), unwritable


def existing_lines(statuses: list[OutputStatus], existing: str) -> list[str]:
    """What the next Run does with the outputs that exist, a line per kind (Qt-free; see ``existing``)."""
    return [line for _, line in _lines_by_kind(statuses, existing)]


def next_run_note(statuses: list[OutputStatus], existing: str) -> str:
    """What a user tuning settings must know before Run, in one line (``""``: nothing).

    That is, outputs made with other parameters, and outputs corrected by hand.
    """
    lines = _lines_by_kind(statuses, existing)
    return "; ".join(line for kind, line in lines if kind in ("other", "corrected"))


def _lines_by_kind(statuses: list[OutputStatus], existing: str) -> list[tuple[str, str]]:
    verbs = {"skip": "will be skipped", "overwrite": "will be overwritten", "error": "will fail"}
    by_state: dict[str, list[OutputStatus]] = {}
    for st in statuses:
        by_state.setdefault(st.state, []).append(st)
    lines: list[tuple[str, str]] = []
    if by_state.get("same"):
        lines.append(("same", f"{len(by_state['same'])} output(s) exist already and {verbs[existing]}"))
    if by_state.get("other"):
        other = by_state["other"]
        line = (f"{len(other)} output(s) were made with other parameters ({other[0].detail}) and "
                f"{verbs[existing]}")
        if existing == "skip":
            line += ": to segment them with these, choose 'overwrite it' or another suffix"
        lines.append(("other", line))
    corrected = sum(st.corrected for st in statuses if st.state in ("same", "other"))
    if corrected and existing == "overwrite":
        lines.append(("corrected", f"{corrected} of them hold hand corrections: each is kept as "
                                   "<name>.corrected.ome.tif before it is replaced"))
    elif corrected:
        lines.append(("corrected", f"{corrected} of them hold hand corrections"))
    if by_state.get("corrupt"):
        lines.append(("corrupt", f"{len(by_state['corrupt'])} output(s) are incomplete and will be made "
                                 "again"))
    if by_state.get("busy"):
        lines.append(("busy", f"{len(by_state['busy'])} output(s) are being made by another run and will be "
                              "skipped"))
    return lines


def positions_of(info: SourceInfo | str | None) -> int:
    """Positions of a file (1 while its metadata is unknown or unreadable)."""
    return info.sizes["P"] if isinstance(info, SourceInfo) else 1


def unreadable(path: Path, info: SourceInfo | str | None) -> bool:
    """Whether a listed file cannot be read: no setting makes it run, it gets no output.

    Not so: ambiguous axes (an axes choice reads the file), an HDF5 file (one of several image datasets
    is chosen; how many it holds is not known here), metadata not read yet.
    """
    return isinstance(info, str) and not is_ambiguous(info) and kind_of_suffix(path) != "hdf5"


def named(outs: list[tuple[Path, int, OutputNames]], infos: dict[Path, SourceInfo | str | None]
          ) -> list[tuple[Path, int, OutputNames]]:
    """The outputs of ``outs`` whose names are known: their file's metadata is read, and readable."""
    return [out for out in outs if (info := infos.get(out[0])) is not None and not unreadable(out[0], info)]


#: the preview's line of a file whose metadata is being read (its positions, hence its outputs' names)
READING = "(reading its metadata: outputs named once known)"
#: the preview's line of a file that cannot be read
NOT_RUN = "unreadable: not run"


def preview_lines(outs: list[tuple[Path, int, OutputNames]],
                  infos: dict[Path, SourceInfo | str | None] | None = None) -> list[str]:
    """``input → mask`` lines of the first :data:`PREVIEW_LINES` outputs, and how many more there are.

    ``infos`` (see :func:`planned_outputs`): a file whose metadata is not known yet is said to be read,
    not given a name that may lack its positions' ``_P<k>``; an :func:`unreadable` one is not run.
    """
    def line(f: Path, names: OutputNames) -> str:
        info = infos.get(f) if infos is not None else None
        if infos is not None and info is None:
            return f"{f.name} → {READING}"
        return f"{f.name}: {NOT_RUN}" if unreadable(f, info) else f"{f.name} → {names.mask.name}"

    lines = [line(f, names) for f, _, names in outs[:PREVIEW_LINES]]
    if len(outs) > PREVIEW_LINES:
        lines.append(f"… and {len(outs) - PREVIEW_LINES} more")
    return lines


def collisions_text(problems: list[str], shown: int = 4) -> str:
    """The line naming colliding outputs ("" when none)."""
    if not problems:
        return ""
    more = len(problems) - shown
    return "Outputs collide: " + "; ".join(problems[:shown]) + (f"; and {more} more" if more > 0 else "")
