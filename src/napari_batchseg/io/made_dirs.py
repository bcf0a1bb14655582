"""An output folder a run creates is removed again when the run leaves it empty.

A run makes its output folder (and any missing parents) before any work; when nothing ends up in it (a
model that cannot load, every file failing, a cancel before the first output) an empty folder is all the
run would leave behind. :func:`missing_folders` lists, before the run, the folders it would create;
:func:`remove_empty` removes them afterwards while they are empty. A folder that was there before, or one
anything was put in, is never touched.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

__all__ = ["missing_folders", "remove_empty"]


def missing_folders(folder: str | os.PathLike[str] | None) -> list[Path]:
    """``folder`` and those of its parents that do not exist yet (a run creates them), deepest first."""
    if not folder:
        return []
    path = Path(os.path.expanduser(folder)).absolute()
    missing: list[Path] = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    return missing


def remove_empty(folders: Sequence[Path]) -> None:
    """Remove ``folders`` (deepest first) while empty: one with anything in it stays, and those above it."""
    for folder in folders:
        try:
            os.rmdir(folder)  # only an empty folder: never one the run (or anyone) put a file in
        except FileNotFoundError:
            continue
        except OSError:
            return
