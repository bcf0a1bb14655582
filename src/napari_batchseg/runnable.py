"""Whether a file can run with given parameters, and why not: one check for every front end.

:func:`check_file` (a path) and :func:`check_info` (metadata already read) answer with ``None`` (the
file can run) or a :class:`FileProblem` whose :class:`Reason` is typed: an unreadable file, ambiguous
axes (the reader raised :class:`~.errors.AmbiguousAxesError`; an ``axes`` choice makes it readable), a
channel the file lacks, a Z range or a first frame beyond the file, a file that cannot be segmented
as volumes (``--z-mode 3d|stitch``: no Z stack). :func:`napari_batchseg.engine.plan`
(hence the CLI and the Python API) marks such files before any work, and the napari widget marks
them in its file list, with the same words.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from .errors import AmbiguousAxesError, BatchSegError, InputError, describe
from .io.reader import read_info
from .io.sources import SourceInfo
from .params import SegmentationParams
from .prepare import check_z_range, resolve_channels
from .prepare_3d import check_volume

__all__ = ["FileProblem", "Reason", "check_file", "check_info", "first_channel_note", "one_position_note",
           "problem_of", "read_info_for", "select_positions"]

#: positions a message lists before it leaves the middle ones out
_LISTED_POSITIONS = 12


class Reason(enum.Enum):
    """Why a file cannot run."""

    UNREADABLE = "unreadable"
    AMBIGUOUS_AXES = "ambiguous axes"
    CHANNEL = "channel"
    Z_RANGE = "z range"
    FRAMES = "frames"
    VOLUME = "volume"


@dataclass(frozen=True)
class FileProblem:
    """Why a file cannot run with the parameters: a typed :attr:`reason` and a one-line :attr:`message`.

    :attr:`brief` says the same without the file's path, for a list that names the file already.
    """

    reason: Reason
    message: str
    brief: str = ""

    def __post_init__(self) -> None:
        if not self.brief:
            object.__setattr__(self, "brief", self.message)

    @property
    def ambiguous(self) -> bool:
        """Whether choosing the file's axes would make it readable."""
        return self.reason is Reason.AMBIGUOUS_AXES

    def __str__(self) -> str:
        return self.message


def problem_of(exc: BaseException) -> FileProblem:
    """The problem a reader's exception stands for (ambiguous axes by type, never by message text)."""
    reason = Reason.AMBIGUOUS_AXES if isinstance(exc, AmbiguousAxesError) else Reason.UNREADABLE
    return FileProblem(reason, str(exc) or type(exc).__name__)


def read_info_for(path: Path, axes: str | None, dataset: str | None = None) -> tuple[SourceInfo, bool]:
    """The file's metadata, and whether the ``axes`` override applies to it.

    The override is for files whose axes are ambiguous: a file whose own axes are clear is read as it
    is (its axes are not replaced), so one ``axes`` setting fits a batch of mixed files. Raises what
    the reader raises (:class:`~.errors.AmbiguousAxesError` when no ``axes`` is given for such a file).
    ``dataset`` chooses the image of an HDF5 file holding several (other formats ignore it).
    """
    if not axes:
        return read_info(path, None, dataset), True
    try:
        return read_info(path, None, dataset), False
    except AmbiguousAxesError:
        pass
    return read_info(path, axes, dataset), True


def select_positions(info: SourceInfo, positions: list[int | str] | None) -> list[int]:
    """The 0-based positions of the file that ``positions`` (:attr:`SegmentationParams.positions`) chooses.

    In the file's order, each once; ``None``: every position. A name chooses the positions of that name
    (exactly, else in any case). Positions choose among the positions of multi-position files: a file of
    one position has nothing to choose and runs whole (``[0]``, whatever ``positions`` says). Raises
    :class:`~.errors.InputError` naming the file, the positions it lacks and the positions it has (index
    and name).
    """
    n = info.sizes["P"]
    if positions is None or n == 1:
        return list(range(n))
    names = [str(name) for name in info.position_names]
    chosen: set[int] = set()
    beyond: list[int] = []
    lacking: list[str] = []
    for wanted in positions:
        if isinstance(wanted, int):
            if 0 <= wanted < n:
                chosen.add(wanted)
            else:
                beyond.append(wanted)
            continue
        named = [i for i, name in enumerate(names) if name == wanted] or \
                [i for i, name in enumerate(names) if name.lower() == wanted.lower()]
        if named:
            chosen.update(named)
        else:
            lacking.append(f"no position named {wanted!r}")
    if beyond:
        lacking.insert(0, f"no position {_spans(sorted(beyond))}")
    if lacking:
        has = [f"{i} ({names[i] if i < len(names) else '?'})" for i in range(n)]
        if n > _LISTED_POSITIONS:
            has = [*has[:_LISTED_POSITIONS - 1], "...", has[-1]]
        raise InputError(f"{info.path}: {'; '.join(lacking)}; the file has {n} position(s): {', '.join(has)}")
    return sorted(chosen)


def one_position_note(positions: list[int | str] | None, n_single: int) -> str:
    """The plan note that ``positions`` left ``n_single`` files of one position whole (``""``: none did)."""
    if positions is None or not n_single:
        return ""
    indices = sorted(p for p in positions if isinstance(p, int))
    names = [p for p in positions if isinstance(p, str)]
    shown = ", ".join([_spans(indices), *names] if indices else names)
    return (f"positions {shown} apply to files with several positions; {n_single} file(s) with one position "
            "run whole")


def _spans(indices: list[int]) -> str:
    """``[7, 8, 9, 12]`` -> ``"7-9, 12"`` (sorted indices, each once)."""
    spans: list[list[int]] = []
    for i in indices:
        if spans and i == spans[-1][1] + 1:
            spans[-1][1] = i
        else:
            spans.append([i, i])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def check_info(info: SourceInfo, params: SegmentationParams) -> FileProblem | None:
    """``None`` when a file with this metadata can run with ``params``, else why not (no pixel read)."""
    wanted = params.channel if isinstance(params.channel, list) else [params.channel]
    for ch in wanted:
        try:
            resolve_channels(info, ch)
        except InputError as exc:
            named = isinstance(ch, str) and not ch.isdigit()
            brief = (f"no channel named {ch!r} (it has {', '.join(map(str, info.channel_names))})" if named
                     else f"no channel {ch} (the file has {info.sizes['C']})")
            return FileProblem(Reason.CHANNEL, str(exc), brief)
    try:
        check_z_range(info, params.zrange)
    except InputError as exc:
        nz = info.sizes["Z"]
        return FileProblem(Reason.Z_RANGE, str(exc), f"no Z slice {params.zrange.stop} (the file has {nz})")
    n_t = info.sizes["T"]
    if params.start_frame >= n_t:
        return FileProblem(Reason.FRAMES, f"{info.path}: start frame {params.start_frame} out of range; "
                                          f"the file has {n_t} frame(s) (0-{n_t - 1})",
                           f"no frame {params.start_frame} (the file has {n_t} frame(s))")
    if params.z_mode != "project":
        try:
            check_volume(info, params)
        except InputError as exc:
            return FileProblem(Reason.VOLUME, str(exc), str(exc).removeprefix(f"{info.path}: "))
    return None


def check_file(path: str | Path, params: SegmentationParams) -> FileProblem | None:
    """``None`` when ``path`` can run with ``params``, else why not (reads its metadata, no pixels)."""
    try:
        info, _ = read_info_for(Path(path), params.axes, params.dataset)
    except BatchSegError as exc:
        return problem_of(exc)
    except Exception as exc:  # noqa: BLE001 - a reader bug is this file's problem, not the caller's
        return FileProblem(Reason.UNREADABLE, f"{path}: cannot read ({describe(exc)})")
    return check_info(info, params)


def first_channel_note(infos: list[SourceInfo], listed: int = 3) -> str | None:
    """The note for files of several channels segmented on channel 0 because no channel was chosen.

    ``None`` when every file has one channel. A front end that lets a run start without a channel
    chosen (the command line without ``--channel``) says it: channel 0 of a DAPI/GFP/bright-field file is
    whatever the microscope saved first.
    """
    several = {info.path: info for info in infos if info.sizes["C"] > 1}
    if not several:
        return None
    shown = [f"{Path(path).name} (channel 0: {info.channel_names[0]}; it has "
             f"{', '.join(map(str, info.channel_names))})" for path, info in list(several.items())[:listed]]
    more = f" and {len(several) - listed} more" if len(several) > listed else ""
    return (f"no channel chosen: channel 0 is segmented in {len(several)} file(s) of several channels: "
            f"{'; '.join(shown)}{more}. --channel picks another (an index or a name)")
