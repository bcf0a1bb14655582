"""Output names: ``<input stem>[_P<k>]_vSM[-<suffix>]`` plus ``.ome.tif`` / ``.log``, and collision checks."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import OutputError
from ..params import SUFFIX_PATTERN
from .reader import stem_of

MODULE_TAG = "_vSM"
MASK_EXT = ".ome.tif"
LOG_EXT = ".log"


@dataclass(frozen=True)
class OutputNames:
    """The files one output (one input, or one position of a multi-position input) produces."""

    mask: Path
    log: Path

    def debug(self, kind: str) -> Path:
        """Path of a debug output (e.g. ``kind="flows"``) beside the mask."""
        base = self.mask.name[: -len(MASK_EXT)]
        return self.mask.with_name(f"{base}_{kind}.tif")


def output_names(
    input_path: str | Path,
    suffix: str = "",
    output_dir: str | Path | None = None,
    position: int | None = None,
    n_positions: int = 1,
) -> OutputNames:
    """Mask and log paths for ``input_path`` (and ``position`` when the file has several)."""
    if suffix and not SUFFIX_PATTERN.match(suffix):
        raise OutputError(f"suffix {suffix!r} may contain only A-Z, a-z, 0-9 and '-' characters")
    src = Path(input_path)
    folder = Path(output_dir) if output_dir else src.parent
    base = stem_of(src)
    if n_positions > 1 and position is not None:
        width = len(str(n_positions - 1))
        base += f"_P{position:0{width}d}"
    base += MODULE_TAG + (f"-{suffix}" if suffix else "")
    return OutputNames(folder / f"{base}{MASK_EXT}", folder / f"{base}{LOG_EXT}")


def _key(path: Path) -> str:
    # Case-insensitive comparison: refuse names that would collide on macOS/Windows file systems too.
    return os.path.normcase(os.path.abspath(path)).lower()


def find_collisions(pairs: Iterable[tuple[Path, OutputNames]]) -> list[str]:
    """Messages for every pair of inputs mapping to the same output, or an output equal to an input."""
    pairs = list(pairs)
    inputs = {_key(src): src for src, _ in pairs}
    seen: dict[str, Path] = {}
    problems: list[str] = []
    for src, names in pairs:
        for out in (names.mask, names.log):
            k = _key(out)
            if k in inputs:
                problems.append(f"output {out} would overwrite input {inputs[k]}")
            if k in seen and _key(seen[k]) != _key(src):
                problems.append(f"{seen[k]} and {src} would both write {out}")
            seen.setdefault(k, src)
    return problems


def check_collisions(pairs: Iterable[tuple[Path, OutputNames]]) -> None:
    """Raise :class:`OutputError` listing every collision found by :func:`find_collisions`."""
    problems = find_collisions(pairs)
    if problems:
        raise OutputError("outputs would collide; nothing was run:\n  " + "\n  ".join(problems))
