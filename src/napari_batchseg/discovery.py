"""Build the list of input files from files and folders, with filename filters."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .io.atomic import PARTIAL_MARK
from .io.formats import format_of, supported_extensions
from .io.naming import LOG_EXT, MASK_EXT, mask_name_for


@dataclass
class FileFilter:
    """Filename filters applied to files found in folders.

    Parameters
    ----------
    contains
        Every string must occur in the file name (case-sensitive, like the reference app's ``_BF``).
    not_contains
        No string may occur in the file name.
    extensions
        Accepted endings (case-insensitive), e.g. ``.nd2``, ``.ome.tif``; by default those of the
        installed formats (:func:`~.io.formats.supported_extensions`).
    """

    contains: Sequence[str] = ()
    not_contains: Sequence[str] = ()
    extensions: Sequence[str] = field(default_factory=lambda: list(supported_extensions()))

    def __post_init__(self) -> None:
        self.contains = [c for c in _as_list(self.contains) if c]
        self.not_contains = [c for c in _as_list(self.not_contains) if c]
        exts = [e.strip().lower() for e in _as_list(self.extensions) if e.strip()]
        self.extensions = [e if e.startswith(".") else "." + e for e in exts]

    def accepts(self, path: str | Path) -> bool:
        """Whether a file name passes every filter."""
        name = (path if isinstance(path, Path) else Path(path)).name
        if self.extensions and not name.lower().endswith(tuple(self.extensions)):
            return False
        if any(c not in name for c in self.contains):
            return False
        return not any(c in name for c in self.not_contains)


def _as_list(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in re.split(r"[,;\s]+", value) if v] if "," in value or " " in value else [value]
    return [str(v) for v in value]


#: the provenance file every export writes beside its output, ``<output>.provenance.json`` (as
#: :data:`~.export._common.PROVENANCE_SUFFIX`: the export layer sits above this one)
PROVENANCE_SUFFIX = ".provenance.json"
#: a Cellpose export's pair, ``<base>_t0000[_z0000][_masks].tif``, beside ``<base>_cellpose.provenance.json``
_CELLPOSE_PAIR = re.compile(r"(.+)_t\d{4}(?:_z\d{4})?(?:_masks)?\.tif")


def is_export_output(path: Path) -> bool:
    """Whether ``path`` is what ``batchseg export`` wrote, known by the provenance file beside it.

    ``<output>.provenance.json`` beside the file or folder (``_semantic.tif``, ``_rois.zip``,
    ``.ome.zarr``, DaCapo's ``.zarr``, the ``_ctc`` and ``_outlines`` folders) or beside the folder it is
    in (CTC's ``mask000.tif``, the outline PNGs); a Cellpose pair ``<base>_t0000[_masks].tif`` beside
    ``<base>_cellpose.provenance.json``.
    """
    if _exists(path.parent / f"{path.name}{PROVENANCE_SUFFIX}"):
        return True
    if _exists(path.parent.parent / f"{path.parent.name}{PROVENANCE_SUFFIX}"):
        return True
    pair = _CELLPOSE_PAIR.fullmatch(path.name)
    return pair is not None and _exists(path.parent / f"{pair[1]}_cellpose{PROVENANCE_SUFFIX}")


def _exists(path: Path) -> bool:
    """Whether ``path`` exists; a name the file system cannot hold (too long) does not (no OSError)."""
    try:
        return path.exists()
    except OSError:  # ENAMETOOLONG: an input's name plus a tail past 255 bytes (Path.exists raises it)
        return False


def is_own_output(path: Path) -> bool:
    """Files this tool wrote (masks, logs, debug stacks, exports) or temporary leftovers: never scan inputs.

    Outputs are recognised by their full name (``<stem>[_P<k>]_vSM[-<suffix>]`` then ``.ome.tif``,
    ``.log`` or ``_flows.tif`` / ``_cellprob.tif``, see :func:`~.io.naming.mask_name_for`), not by
    ``_vSM`` anywhere in the name: ``vSMC_cells.tif`` is an input. A debug-stack name, which an input
    could carry, counts as an output only beside its mask or log. Exports are known by their provenance
    file (:func:`is_export_output`). Hidden files and temporary files (``.partial-``) are never inputs
    either.
    """
    name = path.name
    if name.startswith(".") or PARTIAL_MARK in name:
        return True
    if is_export_output(path):
        return True
    mask = mask_name_for(name)
    if mask is None:
        return False
    if name == mask or name.endswith(LOG_EXT):
        return True
    base = mask[: -len(MASK_EXT)]
    return _exists(path.parent / mask) or _exists(path.parent / f"{base}{LOG_EXT}")


def _outputs_note(raw: str | Path, outputs: list[Path]) -> str:
    shown = ", ".join(f.name for f in outputs[:5]) + (", ..." if len(outputs) > 5 else "")
    return f"folder {raw}: {len(outputs)} file(s) are this tool's outputs, not taken as inputs ({shown})"


def _empty_folder_note(raw: str | Path, folder: Path, files: list[Path], flt: FileFilter,
                       recursive: bool) -> str:
    link = f" (a link to {folder.resolve()})" if folder.is_symlink() else ""
    where = "in it or its sub-folders" if recursive else "in it (sub-folders need --recursive)"
    if not files:
        return f"folder {raw}{link} holds no file {where}: nothing taken from it"
    own = sum(1 for f in files if is_own_output(f))
    filtered = len(files) - own
    parts = []
    if filtered:
        parts.append(f"{filtered} left out by the filters (extensions {', '.join(flt.extensions)}"
                     + (f"; contains {list(flt.contains)}" if flt.contains else "")
                     + (f"; not contains {list(flt.not_contains)}" if flt.not_contains else "") + ")")
    if own:
        parts.append(f"{own} are this tool's outputs or hidden files")
    return f"folder {raw}{link} yields no input file: of its {len(files)} file(s), " + "; ".join(parts)


def is_folder_image(path: Path) -> bool:
    """Whether ``path`` is a folder that is one image (an OME-Zarr ``.ome.zarr`` / ``.zarr`` folder)."""
    fmt = format_of(path)
    return fmt is not None and fmt.folder and path.is_dir()


def _images_in(folder: Path, recursive: bool) -> list[Path]:
    """Files in ``folder`` and the folder images (OME-Zarr) there, never looking inside the latter.

    A link to a missing file is listed too: taken as an input, it fails saying so, as when named.
    """
    out: list[Path] = []
    for entry in folder.iterdir():
        if is_folder_image(entry):
            out.append(entry)
        elif entry.is_file() or (entry.is_symlink() and not entry.exists()):
            out.append(entry)
        elif recursive and entry.is_dir():
            out.extend(_images_in(entry, recursive))
    return out


def _natural_key(path: Path) -> list[object]:
    return [int(s) if s.isdigit() else s.lower() for s in re.split(r"(\d+)", str(path))]


def collect_files(
    paths: Iterable[str | Path],
    file_filter: FileFilter | None = None,
    recursive: bool = False,
    notes: list[str] | None = None,
) -> list[Path]:
    """Expand files and folders into a sorted, de-duplicated list of input files.

    Files named explicitly are always taken (a missing one stays in the list so it fails with a clear
    message). Files found in folders must pass ``file_filter``; this tool's own outputs (by their full
    name, see :func:`is_own_output`) and hidden files are skipped there, the outputs named in ``notes``.
    A folder (or a link to one) named explicitly that yields no file
    is reported in ``notes``, with what its files were left out for.
    """
    flt = file_filter or FileFilter()
    found: dict[Path, None] = {}
    for raw in paths:
        p = Path(raw).expanduser()
        if p.is_dir() and not is_folder_image(p):
            files = _images_in(p, recursive)
            hits = [f for f in files if not is_own_output(f) and flt.accepts(f)]
            if not hits and notes is not None:
                notes.append(_empty_folder_note(raw, p, files, flt, recursive))
            elif notes is not None:
                outputs = [f for f in files if not f.name.startswith(".") and PARTIAL_MARK not in f.name
                           and is_own_output(f) and flt.accepts(f)]
                if outputs:
                    notes.append(_outputs_note(raw, sorted(outputs, key=_natural_key)))
            for f in sorted(hits, key=_natural_key):
                found.setdefault(input_path(f), None)
        else:
            found.setdefault(input_path(p), None)
    return list(found)


def input_path(path: str | Path) -> Path:
    """An input's absolute path, as the user reached it: links are not followed.

    A linked file's outputs then go beside the link (the folder the user added), not beside its target
    (e.g. a shared raw-data archive, maybe read-only).
    """
    return Path(os.path.abspath(Path(path).expanduser()))
