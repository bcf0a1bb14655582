"""Whether Run starts, and what it says when it does not: the dock's checks before a run, without Qt.

The napari widget (``_napari._widget.BatchSegWidget.run``) asks these in order: files listed, an output
setting that blocks the run (colliding outputs, a missing folder), parameters that cannot run, files
that cannot run as set up. The first that fails is the refusal; each later one is not asked (they are
given as callables, read only when their turn comes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ..params import ParameterError

__all__ = ["NO_FILES", "Refusal", "refusal_text", "refuse_or_params"]

P = TypeVar("P")

#: Run with no file listed
NO_FILES = "no input files: add files or folders (and check the filters)"
#: how the Files tab's check (``FileSetup.problem``) starts the reason of a file it cannot read
UNREADABLE = "unreadable: "
#: the button that takes the flagged files out of the list (``_napari._files``)
REMOVE_BUTTON = "Remove the files marked ⚠"


@dataclass(frozen=True)
class Refusal:
    """Why Run does not start; ``files_tab``: the Files tab shows what to fix (the files marked ⚠)."""

    text: str
    files_tab: bool = False


def refuse_or_params(files: Sequence[Path], output_problems: Callable[[], Sequence[str]],
                     params: Callable[[], P], flagged: Callable[[], dict[Path, str]]) -> P | Refusal:
    """The run's parameters, or why Run refuses to start (the first check that fails, in order).

    Parameters
    ----------
    files : sequence of Path
        The files listed (none: refused).
    output_problems : callable
        What blocks a run in the output settings (colliding outputs, a missing folder).
    params : callable
        The run's parameters; a :class:`ParameterError` it raises is the refusal (other errors pass).
    flagged : callable
        The files that cannot run as set up, with the reason (refused with their list).

    Returns
    -------
    P or Refusal
        What ``params`` gave, when nothing refuses the run.
    """
    if not files:
        return Refusal(NO_FILES)
    if problems := output_problems():
        return Refusal("cannot run: " + "; ".join(problems))
    try:
        chosen = params()
    except ParameterError as exc:
        return Refusal(str(exc))
    if bad := flagged():  # refused with the list, not started to fail them
        return Refusal(refusal_text(bad), files_tab=True)
    return chosen


def refusal_text(flagged: dict[Path, str], shown: int = 5) -> str:
    """Why Run refuses files that cannot run as set up: how many, the first ``shown``, and what to do.

    An unreadable file's reason is the reader's message, which names the file again
    (``empty.tif: unreadable: empty.tif: file is empty``): said once here. Its own settings cannot fix
    it, so the advice to select a file and fix it is for the others; unreadable ones are to be removed
    (:data:`REMOVE_BUTTON`) or replaced.
    """
    def reason(path: Path, why: str) -> str:
        if why.startswith(UNREADABLE):
            rest = why.removeprefix(UNREADABLE)
            why = UNREADABLE + rest.removeprefix(f"{path}: ").removeprefix(f"{path.name}: ")
        return f"{path.name}: {why}"

    listed = "; ".join(reason(p, why) for p, why in list(flagged.items())[:shown])
    more = f"; and {len(flagged) - shown} more" if len(flagged) > shown else ""
    unreadable = sum(why.startswith(UNREADABLE) for why in flagged.values())
    fix = "to fix it (its own channel or frames, its axes or dataset)"
    if not unreadable:
        advice = f"Select one {fix}, or remove them ({REMOVE_BUTTON})"
    elif unreadable == len(flagged):
        advice = f"No setting makes a file readable: remove them ({REMOVE_BUTTON}) or replace the files"
    else:  # (the button takes out every file marked: the unreadable ones, one by one)
        advice = (f"{unreadable} cannot be read: remove them (Remove selected) or replace the files. "
                  f"Select one of the others {fix}, or remove them all ({REMOVE_BUTTON})")
    return (f"cannot run: {len(flagged)} file(s) cannot run as set up (marked ⚠ in the Files tab): "
            f"{listed}{more}. {advice}")
