"""The Files tab's model: which listed files take part, what each runs with, and why one cannot run.

:class:`FileSetup` holds every per-file choice (axes of ambiguous files, the dataset of HDF5 files
holding several, a file's own channel, frames and positions) and what the Settings tab (and a loaded
parameter file's ``positions``) asks of every file; the
Qt panels (``_napari._files``, ``_axes``) only show and edit it.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..discovery import FileFilter, collect_files, input_path, is_export_output, is_own_output
from ..errors import InputError
from ..io.formats import supported_extensions
from ..io.reader import matching_suffix
from ..io.sources import SourceInfo
from ..params import (
    ALL_POSITIONS,
    CONFIG_FILTER_KEYS,
    ParameterError,
    SegmentationParams,
    config_recursive,
    paths_from,
    read_yaml_mapping,
)
from ..runnable import check_info, select_positions
from .fields import Field
from .file_info import as_path, is_ambiguous, short_reason
from .phrasing import RUNNING_NOTE, for_widget

#: the axes offered for a file whose axes the reader cannot tell
AXES_CHOICES = ("TYX", "ZYX", "CYX", "TZYX", "TCYX", "CZYX", "ZCYX", "TCZYX")
SEVERAL_DATASETS = "several image datasets: select it and choose one below"
AMBIGUOUS_AXES = "axes ambiguous: select it and choose its axes below"


@dataclass(frozen=True)
class FileChoice:
    """What one file runs with instead of the Settings tab's values (``None``: the tab's value)."""

    channel: int | str | None = None
    frames: tuple[int, int] | None = None  # first and last frame, 0-based inclusive (-1: the last)
    #: the positions as typed (``0,2,5-7``, names; ``all``): read by :func:`parse_positions`
    positions: str | None = None

    @property
    def empty(self) -> bool:
        """Whether the file simply follows the Settings tab."""
        return self.channel is None and self.frames is None and self.positions is None


#: the choice of a file that has none (it follows the Settings tab)
NO_CHOICE = FileChoice()


def _checked_params(channel: object, start: int, end: int | None, z_mode: str) -> SegmentationParams:
    """The parameters a file is checked with: made once per set of values (a long list asks for the same)."""
    return _params_of(tuple(channel) if isinstance(channel, list) else channel, start, end, z_mode)


@functools.lru_cache(maxsize=64)
def _params_of(channel: object, start: int, end: int | None, z_mode: str) -> SegmentationParams:
    return SegmentationParams(channel=channel, start_frame=start, end_frame=end,  # type: ignore[arg-type]
                              z_mode=z_mode)  # type: ignore[arg-type]


@functools.lru_cache(maxsize=256)
def parse_positions(text: str) -> list[int | str] | None:
    """A file's positions as typed, as ``batchseg segment --positions`` reads them (``ParameterError``).

    :data:`ALL_POSITIONS` (any case): ``None``, every position.
    """
    return SegmentationParams(positions=text).positions  # type: ignore[arg-type]  # (text: as the CLI)


def positions_text(positions: list[int | str] | None) -> str:
    """Positions as a file's positions field reads them back (``0,2,B4``; ``None``: :data:`ALL_POSITIONS`)."""
    return ALL_POSITIONS if positions is None else ",".join(map(str, positions))


def positions_note(positions: list[int | str] | None) -> str:
    """What the message line says of a loaded parameter file's ``positions`` (``""``: all positions)."""
    if positions is None:
        return ""
    return (f"positions {positions_text(positions)}: only these of every file of several run (files of one "
            "position run whole); a file's own: Files tab, This file")


#: the controls of the selected file's own settings (its channel; its frames when ``own_frames``)
FILE_FIELDS = (
    Field("channel", "choice",
          tip="The channel of this file to segment; other files keep the Settings tab's"),
    Field("own_frames", "check", text="own frames",
          tip="Segment these frames of this file (0-based, inclusive)"),
    Field("start", "int", lo=0, hi=10**7),
    Field("end", "int", lo=-1, hi=10**7, value=-1, special="last"),
    Field("positions", "text", text=ALL_POSITIONS,
          tip="The positions of this file to segment: 0-based indices and ranges (0,2,5-7) or position "
              "names, as batchseg segment --positions; empty: as the parameters (all, unless a loaded "
              "parameter file chose some); 'all': every position"),
)


#: the first entry of a file's channel list: the file follows the Settings tab
AS_SETTINGS = "as in Settings"


def file_channel_entries(names: Iterable[str],
                         chosen: int | str | None) -> list[tuple[int | str | None, str]]:
    """The entries of one file's channel list: :data:`AS_SETTINGS`, its channels, and one it lacks.

    ``chosen``: the file's own channel; a name or an index the file does not have (e.g. set by a script)
    is listed too, so that it shows.
    """
    entries: list[tuple[int | str | None, str]] = [(None, AS_SETTINGS)]
    entries += [(i, f"{i}: {name}") for i, name in enumerate(names)]
    if chosen is not None and chosen not in range(len(entries) - 1):
        entries.append((chosen, f"{chosen}"))
    return entries


def choice_values(choice: FileChoice) -> dict[str, Any]:
    """The values of :data:`FILE_FIELDS` that show ``choice``."""
    start, end = choice.frames or (0, -1)
    return {"channel": choice.channel, "own_frames": choice.frames is not None, "start": start, "end": end,
            "positions": choice.positions or ""}


def edited_choice(choice: FileChoice, values: dict[str, Any]) -> FileChoice:
    """``choice`` with the channel, frames and positions of :data:`FILE_FIELDS`' ``values``."""
    frames = (values["start"], values["end"]) if values["own_frames"] else None
    positions = str(values.get("positions") or "").strip() or None
    return replace(choice, channel=values["channel"], frames=frames, positions=positions)


#: the folded Filters section's fields (the extensions' default: the installed formats, set by the panel)
FILTER_FIELDS = (
    Field("contains", "text", label="name contains", value="_BF",
          tip="Every word must occur in the file name (case-sensitive); several: comma"),
    Field("not_contains", "text", label="does not contain",
          tip="No word may occur in the file name; several: comma"),
    Field("extensions", "text", label="extensions",
          tip="Accepted file endings (case-insensitive), separated by spaces"),
)


def file_filter_of(values: dict[str, Any]) -> FileFilter:
    """The :class:`FileFilter` of :data:`FILTER_FIELDS`' texts."""
    return FileFilter(contains=words(values["contains"]), not_contains=words(values["not_contains"]),
                      extensions=values["extensions"].replace(",", " ").split())


def read_parameter_file(path: str | Path) -> tuple[SegmentationParams, FileFilter | None, bool]:
    """A YAML parameter file as the dock loads it.

    Returns the parameters, its folder filters (``None``: it has none) and whether folders are searched
    recursively. ``batchseg segment --save-config`` writes the filters beside the parameters (a walk: the dock
    refused such a file, "unknown parameter(s): contains"). Raises ``ParameterError`` for a bad file.
    """
    data = paths_from(Path(path).absolute().parent, read_yaml_mapping(path))  # (napari's folder: no base)
    filters = {key: data[key] for key in CONFIG_FILTER_KEYS if key in data}
    params = SegmentationParams.from_file_data(data, path)  # (its run options are batchseg segment's)
    recursive = config_recursive(filters, path)  # (as batchseg segment --config reads it: "no" is no true)
    if not filters.keys() - {"recursive"}:
        return params, None, recursive
    found = FileFilter(filters.get("contains") or (), filters.get("not_contains") or (),
                       filters.get("ext") or supported_extensions())
    return params, found, recursive


def new_inputs(known: Iterable[Path], found: Iterable[Path]) -> list[Path]:
    """The paths of ``found`` that are not ``known``, each once, in order."""
    seen = set(known)
    return [p for p in dict.fromkeys(found) if p not in seen]


def frame_range(frames: tuple[int, int]) -> tuple[int, int | None]:
    """A file's own ``(start, end)`` frames as parameters (an end below 0: to the last frame)."""
    return frames[0], None if frames[1] < 0 else frames[1]


def remember(overrides: dict[Path, str], path: Path, value: object) -> None:
    """Store a file's own choice (``None`` / empty: it has none)."""
    if value:
        overrides[path] = str(value)
    else:
        overrides.pop(path, None)


@dataclass
class FileSetup:
    """Per-file choices and the Settings tab's asks, and the decisions made from them (no Qt)."""

    #: axes chosen per ambiguous file; ``default_axes`` (e.g. from a YAML) for those without a choice
    axes: dict[Path, str] = field(default_factory=dict)
    default_axes: str | None = None
    #: the image dataset chosen per HDF5 file holding several
    datasets: dict[Path, str] = field(default_factory=dict)
    #: a file's own channel, frames and positions
    choices: dict[Path, FileChoice] = field(default_factory=dict)
    #: the positions of every file without its own (a loaded parameter file's ``positions``; ``None``: all)
    positions: list[int | str] | None = None
    #: what the Settings tab asks of every file: files lacking it are flagged before Run
    channel: object = 0
    start_frame: int = 0
    z_mode: str = "project"

    def ask(self, channel: object, start_frame: int, z_mode: str) -> bool:
        """Ask ``channel`` (index, name or list), frames from ``start_frame`` and ``z_mode`` of every file.

        Files without the channel, with fewer frames (the end is clipped) or flat under a volume mode are
        then :meth:`problem` files. Returns whether the asks changed.
        """
        asks = (channel, start_frame, z_mode)
        changed = asks != (self.channel, self.start_frame, self.z_mode)
        self.channel, self.start_frame, self.z_mode = asks
        return changed

    def axes_for(self, path: Path) -> str | None:
        """The axes an ambiguous file will be read with (its own choice, else the default)."""
        return self.axes.get(as_path(path)) or self.default_axes

    def axes_groups(self, files: list[Path]) -> dict[str | None, list[Path]]:
        """``files`` grouped by the axes parameter to run them with (``default_axes`` for most)."""
        groups: dict[str | None, list[Path]] = {self.default_axes: []}
        for f in files:
            groups.setdefault(self.axes_for(f), []).append(f)
        return {k: v for k, v in groups.items() if v}

    def choice(self, path: Path) -> FileChoice:
        """The choices made for ``path`` (empty when none)."""
        return self.choices.get(as_path(path), NO_CHOICE)

    def set_choice(self, path: Path, choice: FileChoice) -> None:
        """Set (or, empty, drop) the choices of ``path``."""
        if choice.empty:
            self.choices.pop(Path(path), None)
        else:
            self.choices[Path(path)] = choice

    def forget(self, paths: list[Path] | None = None) -> None:
        """Drop the datasets and own settings of ``paths`` (all when ``None``): the files left the list."""
        if paths is None:
            self.datasets.clear()
            self.choices.clear()
        for p in paths or []:
            self.datasets.pop(Path(p), None)
            self.choices.pop(Path(p), None)

    def problem(self, path: Path, info: SourceInfo | str | None, n_datasets: int = 0) -> str:
        """Why ``path`` cannot run as set up ("" when it can, or while its metadata is unknown).

        ``n_datasets``: how many image datasets the file holds (HDF5; it runs only with one chosen).
        The parameters' and the engine's own checks (:func:`~..runnable.check_info`): flagged here,
        they would fail the file there.
        """
        if isinstance(info, str):
            if n_datasets > 1:
                return "" if Path(path) in self.datasets else SEVERAL_DATASETS
            if is_ambiguous(info):
                return "" if self.axes_for(path) else AMBIGUOUS_AXES
            return f"unreadable: {info}"
        if info is None:
            return ""
        try:  # the positions first, as the engine plans (a file lacking one fails)
            select_positions(info, self.positions_for(path))
        except (ParameterError, InputError) as exc:
            return for_widget(str(exc).removeprefix(f"{info.path}: "))
        choice = self.choice(path)
        channel = self.channel if choice.channel is None else choice.channel
        start, end = (self.start_frame, None) if choice.frames is None else frame_range(choice.frames)
        try:
            problem = check_info(info, _checked_params(channel, start, end, self.z_mode))
        except ParameterError as exc:
            return for_widget(str(exc))
        return "" if problem is None else for_widget(problem.brief)

    def positions_for(self, path: Path) -> list[int | str] | None:
        """The positions ``path`` runs (its own, else :attr:`positions`); ``ParameterError`` if mistyped."""
        own = self.choice(path).positions
        return self.positions if own is None else parse_positions(own)

    def shows_positions(self, info: SourceInfo | str | None) -> bool:
        """Whether a file's positions field shows: it has several (one: nothing to choose; it runs whole)."""
        return isinstance(info, SourceInfo) and info.sizes["P"] > 1

    def chosen_positions(self, infos: dict[Path, SourceInfo | str | None]) -> dict[Path, list[int]]:
        """The positions each readable file of ``infos`` runs (files whose choice cannot run: left out)."""
        chosen = {}
        for path, info in infos.items():
            if isinstance(info, SourceInfo):
                with contextlib.suppress(ParameterError, InputError):  # (a problem: Run refuses the file)
                    chosen[path] = select_positions(info, self.positions_for(path))
        return chosen

    def run_groups(self, files: list[Path],
                   params: SegmentationParams) -> list[tuple[list[Path], SegmentationParams]]:
        """``files`` grouped by the parameters each runs with, in list order.

        ``params`` with the file's own axes (ambiguous files), dataset, channel, frames and positions
        applied (positions mistyped: not applied, the file is a :meth:`problem`); one group per distinct set.
        """
        groups: dict[tuple[object, ...], tuple[list[Path], SegmentationParams]] = {}
        for f in files:
            axes, dataset, choice = self.axes_for(f), self.datasets.get(f), self.choice(f)
            key = (axes, dataset, choice.channel, choice.frames, choice.positions)
            if key not in groups:
                own = params.replace(axes=axes) if axes is not None else params
                if dataset is not None:
                    own = own.replace(dataset=dataset)
                if choice.channel is not None:
                    own = own.replace(channel=choice.channel)
                if choice.frames is not None:
                    start, end = frame_range(choice.frames)
                    own = own.replace(start_frame=start, end_frame=end)
                if choice.positions is not None:
                    with contextlib.suppress(ParameterError):
                        own = own.replace(positions=parse_positions(choice.positions))
                groups[key] = ([], own)
            groups[key][0].append(f)
        return list(groups.values())

    def axes_row(self, path: Path | None, ambiguous: bool) -> tuple[str, str | None]:
        """The axes row's label and the axes it shows, for the current file (``ambiguous`` or not)."""
        if ambiguous and path is not None:
            return f"Axes of {path.name}", self.axes_for(path)
        if self.default_axes:
            return f"Ambiguous files: {self.default_axes} (from the parameters)", None
        return "Axes: select a file marked 'axes ambiguous'", None

    def mark(self, path: Path, info: SourceInfo | str | None, why: str) -> str:
        """The list entry of ``path``: its name, why it cannot run, or the axes an ambiguous file gets.

        A file with its own channel, frames or positions says so (``(own channel 1, frames 2-6)``).
        """
        text = path.name
        if why:
            text += f"  ⚠ {short_reason(why)}"
        elif is_ambiguous(info):
            own = path in self.axes
            text += f"  (axes: {self.axes_for(path)}{'' if own else ', from the parameters'})"
        choice = self.choice(path)
        if not choice.empty:
            parts = [f"channel {choice.channel}"] if choice.channel is not None else []
            if choice.frames is not None:
                start, end = choice.frames
                parts.append(f"frames {start}-{'end' if end < 0 else end}")
            if choice.positions is not None:
                parts.append(f"positions {choice.positions}")
            text += f"  (own {', '.join(parts)})"
        return text


def words(text: str) -> list[str]:
    """The comma-separated words of a filter field."""
    return [w.strip() for w in text.split(",") if w.strip()]


def count_text(n_pass: int, total: int, refused: list[str], running: bool = False) -> str:
    """The count line under the list: files passing the filters, not added and why (``running``: a note)."""
    if total == 0:
        text = "no files: add files or folders, or drop them here"
    else:
        hidden = total - n_pass
        text = f"{n_pass} of {total} file(s) pass the filters" + (f" ({hidden} hidden)" if hidden else "")
        if n_pass == 0:  # nothing can run: say why
            text += ": nothing to run; change the Filters above"
    if refused:
        text += f"\nnot added: {'; '.join(refused)}"
    return text + (f"\n{RUNNING_NOTE}" if running else "")


def find_inputs_split(paths: list[str | Path],
                      recursive: bool) -> tuple[list[Path], list[Path], list[str]]:
    """Files in the folders among ``paths``, supported files among them, why others were not taken.

    Reads the disk (a worker's job in the widget).
    """
    suffixes = supported_extensions()
    any_ext = FileFilter(extensions=suffixes)
    in_folders: list[Path] = []
    named: list[Path] = []
    refused: list[str] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            in_folders.extend(collect_files([p], any_ext, recursive=recursive))
        elif not p.exists():
            refused.append(f"{p.name}: no such file")
        elif matching_suffix(p) is None:
            refused.append(f"{p.name}: not a supported image ({', '.join(suffixes)})")
        elif is_own_output(p) and not is_export_output(p):  # (an export named is taken, as the CLI does)
            refused.append(f"{p.name}: a mask made by this plugin (File › Open shows it for corrections)")
        else:
            named.append(input_path(p))
    return in_folders, named, refused
