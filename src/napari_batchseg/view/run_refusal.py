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
from .phrasing import refusal_message

__all__ = ["NO_FILES", "Refusal", "refuse_or_params"]

P = TypeVar("P")

#: Run with no file listed
NO_FILES = "no input files: add files or folders (and check the filters)"


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
        return Refusal(refusal_message(bad), files_tab=True)
    return chosen
