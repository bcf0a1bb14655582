"""Output names: ``<input stem>[_P<k>]_vSM[-<suffix>]`` plus ``.ome.tif`` / ``.log``, and collision checks."""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import OutputError
from ..params import SUFFIX_PATTERN
from .formats import matching_suffix, stem_of

MODULE_TAG = "_vSM"
MASK_EXT = ".ome.tif"
LOG_EXT = ".log"
#: the extra outputs a run may write beside a mask (``<base>_<kind>.tif``): ``--debug`` stacks, the
#: flows ``--keep-flows`` keeps (``dP``, with ``cellprob``) and the ``--restore``d planes
DEBUG_KINDS = ("flows", "cellprob", "dP", "restored")
#: the tag of the copy an overwrite keeps of a hand-corrected output: ``<base>.corrected[-<k>].ome.tif``
KEPT_TAG = ".corrected"
#: the tag of the tracked copy ``batchseg track`` writes beside a mask (``<mask base>-tracked.ome.tif``)
TRACKED_TAG = "-tracked"
#: the full name of an output file: ``<stem>[_P<k>]_vSM[-<suffix>]`` (then a kept copy's tag, a tracked
#: copy's ``-tracked``) and ``.ome.tif``, ``.log`` or a debug stack's ``_<kind>.tif``
OUTPUT_NAME = re.compile(
    r"^(?P<base>.+" + MODULE_TAG + r"(?:-[A-Za-z0-9-]+)?(?P<kept>" + re.escape(KEPT_TAG) + r"(?:-\d+)?)?"
    r"(?:" + re.escape(TRACKED_TAG) + r")?)"  # (a kept copy's tracks: <base>.corrected-tracked.ome.tif)
    r"(?P<tail>" + re.escape(MASK_EXT) + "|" + re.escape(LOG_EXT) + "|_(?:"
    + "|".join(DEBUG_KINDS) + r")\.tif)$"
)


#: the tracked copy of a mask that ``batchseg track`` writes beside it: ``<mask base>-tracked.ome.tif``
TRACKED_SUFFIX = TRACKED_TAG + MASK_EXT


def first_free_kept(paths_of: Callable[[str], Sequence[Path]]) -> Sequence[Path]:
    """The paths ``paths_of(tag)`` of the first kept tag whose paths do not exist yet.

    The tags are ``.corrected``, ``.corrected-2``, ...: where an overwrite keeps a hand-corrected output
    (a mask and its log, or tracks).
    """
    for k in itertools.count(1):
        paths = paths_of(KEPT_TAG if k == 1 else f"{KEPT_TAG}-{k}")
        if not any(p.exists() for p in paths):
            return paths
    raise AssertionError("unreachable")


def log_path_of(mask: Path) -> Path:
    """The ``.log`` beside a mask file (``x_vSM.ome.tif`` -> ``x_vSM.log``; another name: its stem's)."""
    name = mask.name
    base = name[: -len(MASK_EXT)] if name.lower().endswith(MASK_EXT) else mask.stem
    return mask.with_name(base + LOG_EXT)


def is_segmentation_mask(path: str | Path) -> bool:
    """Whether a file is a mask a segmentation run wrote, ``<stem>[_P<k>]_vSM[-<suffix>].ome.tif``.

    What the folder commands (measure, export, evaluate, train, track) take from a folder. Not the tracked
    copy ``batchseg track`` writes beside a mask (:data:`TRACKED_SUFFIX`: it is read with its mask), nor
    the ``.corrected.ome.tif`` copy of a hand-corrected mask an overwrite kept. A walk: after ``batchseg
    track``, measuring or training a folder failed on the tracked copy, and exports and scores doubled.
    """
    return _mask_kind(path) == "mask"


def is_kept_copy(path: str | Path) -> bool:
    """Whether a file is the kept copy of a hand-corrected mask (``<base>.corrected[-<k>].ome.tif``).

    Not taken from a folder (the mask that replaced it is), but a mask in its own right when named.
    """
    return _mask_kind(path) == "kept"


def _mask_kind(path: str | Path) -> str:
    """``"mask"``, ``"kept"`` (a kept corrected copy), or ``""`` (a tracked copy, a log, not ours)."""
    name = Path(path).name
    match = OUTPUT_NAME.match(name)
    if match is None or match.group("tail") != MASK_EXT or name.endswith(TRACKED_SUFFIX):
        return ""
    return "kept" if match.group("kept") else "mask"


#: how other tools' label images and ground truths are named (``a_masks.tif``, ``a_cp_masks.tif``, ...)
LABEL_NAME_TAILS = ("_cp_masks", "_masks", "_labels", "_gt", "_mask")


def named_like_labels(path: str | Path) -> bool:
    """Whether a file's name (without its extension) ends like a label image's (:data:`LABEL_NAME_TAILS`)."""
    return stem_of(path).lower().endswith(LABEL_NAME_TAILS)


def mask_name_for(name: str) -> str | None:
    """The mask's file name of the output file ``name`` (mask, log or debug stack), else ``None``.

    Only the full pattern counts: ``vSMC_cells.tif`` or ``a_vSM_notes.tif`` are not outputs.
    """
    match = OUTPUT_NAME.match(name)
    return match.group("base") + MASK_EXT if match else None


@dataclass(frozen=True)
class OutputNames:
    """The files one output (one input, or one position of a multi-position input) produces."""

    mask: Path
    log: Path

    def debug(self, kind: str) -> Path:
        """Path of a debug output (e.g. ``kind="flows"``) beside the mask."""
        base = self.mask.name[: -len(MASK_EXT)]
        return self.mask.with_name(f"{base}_{kind}.tif")


def zarr_container(path: str | Path) -> Path | None:
    """The Zarr folder (``*.zarr``) that holds image ``path``, e.g. a plate's, or ``None``.

    An image inside an OME-NGFF plate (``plate.ome.zarr/A/1/0``) has a name (``0``) shared by every
    well, in a folder that is part of the input: its outputs are named after the container and the
    path inside it (``plate_A_1_0_vSM.ome.tif``) and written beside the container.
    """
    for parent in Path(path).parents:
        if parent.name.lower().endswith(".zarr"):
            return parent
    return None


def output_names(
    input_path: str | Path,
    suffix: str = "",
    output_dir: str | Path | None = None,
    position: int | None = None,
    n_positions: int = 1,
) -> OutputNames:
    """Mask and log paths for ``input_path`` (and ``position`` when the file has several).

    Beside the input, or in ``output_dir``; an image inside a Zarr container (a plate's) is named after
    the container and its path in it, beside the container (:func:`zarr_container`): its own name loses
    an image extension only (``img.ome.tif`` -> ``img``), never another dotted part (``img.1``, ``img.2``
    are two images: before, both were ``img``, one output name).
    """
    if suffix and not SUFFIX_PATTERN.match(suffix):
        raise OutputError(f"suffix {suffix!r} may contain only A-Z, a-z, 0-9 and '-' characters")
    src = Path(input_path)
    folder = Path(output_dir) if output_dir else src.parent
    base = stem_of(src)
    if (root := zarr_container(src)) is not None:  # an image inside a plate: never written into it
        folder = Path(output_dir) if output_dir else root.parent
        suffix_found = matching_suffix(src.name)
        own = src.name[: -len(suffix_found)] if suffix_found else src.name
        base = "_".join((stem_of(root), *src.relative_to(root).parent.parts, own))
    if n_positions > 1 and position is not None:
        width = len(str(n_positions - 1))
        base += f"_P{position:0{width}d}"
    base += MODULE_TAG + (f"-{suffix}" if suffix else "")
    return OutputNames(folder / f"{base}{MASK_EXT}", folder / f"{base}{LOG_EXT}")


def _key(path: Path) -> str:
    # Case-insensitive comparison: refuse names that would collide on macOS/Windows file systems too.
    return os.path.normcase(os.path.abspath(path)).lower()


def _same_file(a: Path, b: Path) -> bool:
    """Whether two input paths are one file (exact path; on a case-insensitive file system, the same file)."""
    if os.path.abspath(a) == os.path.abspath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def find_collisions(pairs: Iterable[tuple[Path, OutputNames]]) -> list[str]:
    """Messages for every pair of inputs mapping to the same output, or an output equal to an input.

    Outputs are compared ignoring case: ``Img.tif`` and ``img.TIF`` give outputs that differ only by
    case, one file on macOS, Windows and SMB shares, so they are refused, naming both inputs.
    """
    pairs = list(pairs)
    inputs = {_key(src): src for src, _ in pairs}
    seen: dict[str, tuple[Path, Path]] = {}
    problems: list[str] = []
    for src, names in pairs:
        for out in (names.mask, names.log):
            k = _key(out)
            if k in inputs:
                problems.append(f"output {out} would overwrite input {inputs[k]}")
            if k in seen and not _same_file(seen[k][0], src):
                other_src, other_out = seen[k]
                if other_out.name == out.name:
                    problems.append(f"{other_src} and {src} would both write {out}")
                else:
                    problems.append(f"{other_src} and {src} would write {other_out.name} and {out.name}, "
                                    "names that differ only by case (one file on macOS, Windows and SMB)")
            seen.setdefault(k, (src, out))
    return problems


def name_too_long(source: str | Path, outputs: Iterable[Path], advice: str) -> str | None:
    """Why ``source``'s ``outputs`` cannot be made: a file name over 255 bytes (``None``: they can).

    A legal but long input or mask name plus what an output adds (``_vSM.ome.tif``, ``_objects.csv``,
    ``.provenance.json``) can pass the file system's limit; said before anything is written, so that
    this file fails alone (``OSError: File name too long`` stopped the whole batch). ``advice``: what
    the user can do, after the reason.
    """
    from .atomic import NAME_MAX

    for out in outputs:
        size = len(Path(out).name.encode("utf-8"))
        if size > NAME_MAX:
            return (f"{source}: its output name {Path(out).name} would be {size} bytes, more than the "
                    f"{NAME_MAX} a file name may have: {advice}")
    return None


def check_collisions(pairs: Iterable[tuple[Path, OutputNames]]) -> None:
    """Raise :class:`OutputError` listing every collision found by :func:`find_collisions`."""
    problems = find_collisions(pairs)
    if problems:
        raise OutputError("outputs would collide; nothing was run:\n  " + "\n  ".join(problems))
