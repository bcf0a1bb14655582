"""Exports of label masks for the tools that come next.

``export_masks(kind, masks, output_dir)`` writes, per mask ``<base>.ome.tif`` (``<base>`` = ``a_vSM``):

=============  ===================================================================================
kind           output in ``output_dir``
=============  ===================================================================================
``outlines``   ``<base>_outlines/<base>_t0000.png`` ... (white outlines on black) and one
               ``outlines_metadata.csv`` (``outline, mask, position, position_name, frame[, time_s],
               plate, well, site``): one per folder, for every mask exported there
``rois``       ``<base>_rois.zip``: ImageJ/Fiji ROI set, one polygon per object, input frame as ``t``
``semantic``   ``<base>_semantic.tif``: ``(T, Y, X)`` uint8 ImageJ TIFF (255 or 1), calibrated
``ome-zarr``   ``<base>.ome.zarr``: OME-NGFF image ``(t, y, x)`` with ``labels/masks`` (same axes;
               label values unique per frame and label; colours, properties)
``dacapo``     ``<base>.zarr``: DaCapo container ``raw``/``labels``/``mask`` (+ ``train/``, ``test/``)
``cellpose``   ``<base>_t0000.tif`` / ``<base>_t0000_masks.tif`` pairs: a Cellpose training folder
``ctc``        ``<base>_ctc/mask000.tif`` ... and ``res_track.txt``: Cell Tracking Challenge result of
               the tracks ``batchseg track`` wrote beside the mask
=============  ===================================================================================

Volume masks (``TZYX``, from ``z_mode`` 3d / stitch) get every kind in 3D, one volume in memory at a time:
outlines, ROIs and Cellpose pairs per ``(t, z)`` slice (``<base>_t0000_z0000...``; ROIs at their ImageJ
hyperstack ``(c, z, t)`` position), a ``(T, Z, Y, X)`` semantic hyperstack, OME-Zarr and DaCapo with a
``z`` axis, and CTC's 3D+t layout (``mask000.tif`` volumes). 2D and volume masks may be mixed.

Every output is written atomically (a temporary name renamed at the end), with a
``<output>.provenance.json`` beside it (source mask, its log's parameters, versions). A mask's files
and its provenance file (renamed last) are put in place together, or none of them, its earlier
outputs kept (a stop waits until they are in place); existing outputs
are an error unless ``overwrite`` (``cellpose``: the pairs of the mask's earlier export that this one
does not write are removed). A mask given twice is exported once. All inputs are opened and checked
before anything is written; a bad one is left out (:attr:`ExportResult.failed`) and the others are
exported.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .._labels import mask_base
from ..errors import BatchSegError, InputError, OutputError, about
from ..io.arrays import path_list
from ..io.atomic import atomic_path, check_writable_dir, signals_held
from ..io.naming import name_too_long
from ..measure_3d import is_volume_mask
from ._common import (
    ExportInput,
    ExportOptions,
    check_targets,
    open_input,
    provenance_path,
    publication,
    write_provenance,
)
from ._volumes import VolumeItem, open_volume_input
from .ctc import check_ctc_input, check_ctc_volume, write_ctc, write_ctc_volume
from .images import (
    cellpose_targets,
    compile_pattern,
    earlier_pairs,
    index_fields,
    stale_pairs,
    write_cellpose,
    write_outlines,
    write_rois,
    write_semantic,
)
from .volume_images import (
    volume_cellpose_targets,
    write_volume_cellpose,
    write_volume_outlines,
    write_volume_rois,
    write_volume_semantic,
)
from .zarr_3d import write_volume_dacapo, write_volume_ome_zarr
from .zarr_formats import check_annotated_frames, write_dacapo, write_ome_zarr

__all__ = ["KINDS", "ExportOptions", "ExportResult", "export_masks", "export_record", "export_targets"]

#: Export kinds and whether each needs the input image.
KINDS: dict[str, bool] = {
    "outlines": False, "rois": False, "semantic": False, "ome-zarr": True, "dacapo": True, "cellpose": True,
    "ctc": False,
}
OUTLINES_METADATA = "outlines_metadata.csv"
#: Writers of volume masks (outlines and cellpose are called apart: rows, folder).
VOLUME_WRITERS: dict[str, Callable[[VolumeItem, Path, ExportOptions], list[Path]]] = {
    "rois": write_volume_rois, "semantic": write_volume_semantic, "ome-zarr": write_volume_ome_zarr,
    "dacapo": write_volume_dacapo, "ctc": write_ctc_volume,
}


@dataclass
class ExportResult:
    """What :func:`export_masks` wrote: per mask, its output files; plus shared files; the masks left out."""

    kind: str
    outputs: dict[Path, list[Path]] = field(default_factory=dict)
    shared: list[Path] = field(default_factory=list)
    #: masks that could not be exported (a bad mask or image, no tracks for ``ctc``, no pattern match,
    #: outputs that could not be put in place):
    #: path -> one line naming the file and the problem; the others were exported
    failed: dict[Path, str] = field(default_factory=dict)


def _target(kind: str, item: ExportInput | VolumeItem, folder: Path) -> Path:
    return _named_target(kind, item.base, folder)


def _named_target(kind: str, base: str, folder: Path) -> Path:
    return {
        "outlines": folder / f"{base}_outlines",
        "rois": folder / f"{base}_rois.zip",
        "semantic": folder / f"{base}_semantic.tif",
        "ome-zarr": folder / f"{base}.ome.zarr",
        "dacapo": folder / f"{base}.zarr",
        "cellpose": folder / f"{base}_cellpose",
        "ctc": folder / f"{base}_ctc",
    }[kind]


def export_record(kind: str, mask: str | Path, output_dir: str | Path) -> Path:
    """The provenance file the ``kind`` export of ``mask`` into ``output_dir`` writes: its last file.

    Once it is (newly) in place, that mask's export is complete: a stopped batch counts these.
    """
    return provenance_path(_named_target(kind, mask_base(mask), Path(output_dir)))


def export_targets(kind: str, item: ExportInput | VolumeItem, folder: Path) -> list[Path]:
    """Every path the export of ``item`` would create (checked for overwriting before any work)."""
    target = _target(kind, item, folder)
    paths = [target]
    if kind == "cellpose":
        paths = volume_cellpose_targets(item, folder) if isinstance(item, VolumeItem) else cellpose_targets(
            item, folder)
    return [*paths, provenance_path(target)]


def _open(kind: str, mask: str | Path, options: ExportOptions) -> ExportInput | VolumeItem:
    """A 2D mask as :class:`ExportInput`, a volume mask as :class:`VolumeItem` (OME-Zarr: image if known)."""
    if is_volume_mask(mask) and "Z" in (options.axes or "Z").upper():  # --axes TYX: pages are frames
        need = kind in ("dacapo", "cellpose")
        return open_volume_input(mask, options, want_image=KINDS[kind], need_image=need)
    return open_input(mask, options, KINDS[kind])


def _write_one(kind: str, item: ExportInput | VolumeItem, target: Path, folder: Path, options: ExportOptions,
               meta: dict[str, str]) -> tuple[list[Path], list[dict[str, Any]]]:
    """Write the export of one mask; returns (files, outline metadata rows)."""
    if isinstance(item, VolumeItem):
        if kind == "outlines":
            return write_volume_outlines(item, target, options, meta)
        if kind == "cellpose":
            return write_volume_cellpose(item, folder, options), []
        return VOLUME_WRITERS[kind](item, target, options), []
    if kind == "outlines":
        return write_outlines(item, target, options, meta)
    writers: dict[str, Callable[[ExportInput, Path, ExportOptions], list[Path]]] = {
        "rois": write_rois, "semantic": write_semantic, "ome-zarr": write_ome_zarr, "dacapo": write_dacapo,
        "ctc": write_ctc,
    }
    if kind == "cellpose":
        return write_cellpose(item, folder, options), []
    return writers[kind](item, target, options), []


def export_masks(
    kind: str,
    masks: str | Path | Sequence[str | Path],
    output_dir: str | Path,
    options: ExportOptions | None = None,
) -> ExportResult:
    """Export label masks as ``kind`` (one of :data:`KINDS`) into ``output_dir``.

    Parameters
    ----------
    kind
        ``outlines``, ``rois``, ``semantic``, ``ome-zarr``, ``dacapo``, ``cellpose`` or ``ctc``.
    masks
        A mask file, or several (``_vSM.ome.tif``, ``TYX`` or ``TZYX`` volumes; other integer label TIFFs with
        ``options.image``).
    output_dir
        Folder for the outputs (created if needed).
    options
        :class:`ExportOptions` (overwrite, image overrides, pattern, formats, test fraction).

    Returns
    -------
    ExportResult
        The files written.

    Raises
    ------
    ValueError
        Unknown kind or bad option (nothing written).
    TypeError
        An array given as ``masks`` (a mask file's path is needed: its log names the input image).
    InputError
        Every mask is bad (a bad mask or image, a pattern with no match, no tracks for ``ctc``): its
        error, or each one's for several (nothing written). Some bad: they are left out
        (:attr:`ExportResult.failed`).
    OutputError
        Outputs exist (without ``overwrite``) or the folder cannot be written (nothing written). A mask
        whose outputs cannot be written or put in place is left out (:attr:`ExportResult.failed`), its
        earlier outputs kept, and the next one is exported.
    """
    options = options or ExportOptions()
    # a list once (an iterator read by a check was left empty: nothing exported, no error)
    given = path_list(masks, lambda m: TypeError(
        f"export_masks takes mask files, not an array (got {type(m).__name__} of shape "
        f"{getattr(m, 'shape', '?')}): write the labels to a TIFF first (e.g. tifffile.imwrite) "
        "and pass its path (ExportOptions(image=...) names its image where the kind needs one)"
    ))
    if kind not in KINDS:
        raise ValueError(f"unknown export kind {kind!r}; choose one of {', '.join(KINDS)}")
    if not given:
        raise ValueError("no masks to export")
    masks = _once(given)
    regex = compile_pattern(options.pattern, options.pattern_on) if kind == "outlines" else None
    folder = Path(output_dir)
    result = ExportResult(kind)
    with contextlib.ExitStack() as stack:
        items: list[ExportInput | VolumeItem] = []
        metas: list[dict[str, Any]] = []
        first_error: BatchSegError | None = None
        for m in masks:  # open and check every input before writing anything; a bad one is left out
            try:
                item = _open(kind, m, options)
                stack.callback(item.close)
                if kind == "ctc":  # a mask without its tracks
                    if isinstance(item, VolumeItem):
                        check_ctc_volume(item)
                    else:
                        check_ctc_input(item.path)
                if too_long := name_too_long(m, export_targets(kind, item, folder), "give it a shorter name"):
                    raise OutputError(too_long)
                fields = index_fields(item, regex, options.pattern_on) if kind == "outlines" else {}
                if kind == "dacapo":  # frames to mark complete that are not the mask's
                    _check_annotated(item, options)
            except BatchSegError as exc:
                first_error = first_error or exc
                result.failed[Path(m)] = about(m, exc)
                continue
            items.append(item)
            metas.append(fields)
        if not items and first_error is not None:
            if len(result.failed) == 1:
                raise first_error
            said = list(result.failed.values())
            more = f"; and {len(said) - 3} more" if len(said) > 3 else ""  # (a review: 300 in one line)
            raise InputError(f"none of the {len(said)} masks can be exported: " + "; ".join(said[:3]) + more)
        targets = [(p, item.path) for item in items for p in export_targets(kind, item, folder)]
        check_writable_dir(folder)
        check_targets(targets, options.overwrite)
        rows: list[dict[str, Any]] = []  # the index rows of the masks exported whole
        meta = folder / OUTLINES_METADATA
        try:
            for i, item in enumerate(items):
                target = _target(kind, item, folder)
                earlier = earlier_pairs(target, item.base) if kind == "cellpose" else []
                try:
                    with publication() as pub:  # the mask's files, then its provenance: all in place or none
                        files, new_rows = _write_one(kind, item, target, folder, options, metas[i])
                        for p in stale_pairs(earlier, files):  # (overwrite: pairs of frames it no longer has)
                            pub.drop(p)
                        write_provenance(target, kind, item, options, files)
                        with signals_held():  # a stop comes with the mask in place and counted
                            pub.put_in_place()
                            result.outputs[item.path] = files
                            rows += new_rows
                except BatchSegError as exc:  # (cannot be put in place: its earlier outputs are back)
                    result.failed[item.path] = about(item.path, exc)
        except KeyboardInterrupt:  # Ctrl-C, SIGTERM (cli_stop): the outlines kept are listed too
            if kind == "outlines" and rows:
                _write_outlines_index(meta, rows)
            raise
        if kind == "outlines":
            _write_outlines_index(meta, rows)
            result.shared.append(meta)
    return result


def _check_annotated(item: ExportInput | VolumeItem, options: ExportOptions) -> None:
    if isinstance(item, VolumeItem):
        check_annotated_frames(item.path, options, item.log_text, item.n_frames, item.start)
    else:
        check_annotated_frames(item.path, options, item.stack.log_text, item.stack.n_frames, item.start)


def _once(masks: Sequence[str | Path]) -> list[str | Path]:
    """``masks`` without repeats: a mask given twice (as a file and in its folder) is exported once."""
    seen: set[str] = set()
    out: list[str | Path] = []
    for m in masks:
        key = os.path.normcase(str(Path(m).resolve()))
        if key not in seen:
            seen.add(key)
            out.append(m)
    return out


def _write_outlines_index(meta: Path, rows: list[dict[str, Any]]) -> None:
    """Write the folder's ``outlines_metadata.csv``: its earlier masks' rows, then this export's.

    One index per folder, for the outlines of every mask exported there: a mask exported again has its
    rows replaced; the other masks' rows stay (a walk: a second mask's export dropped the first's rows,
    its outlines left unlisted). An index that cannot be read is replaced.
    """
    columns = ["outline", "mask", "position", "position_name", "frame", "plate", "well", "site"]
    table = pd.DataFrame(rows)
    if meta.exists():
        try:
            earlier = pd.read_csv(meta, dtype=str)
        except (OSError, ValueError, pd.errors.ParserError):
            earlier = None
        if earlier is not None and "mask" in earlier:
            kept = earlier[~earlier["mask"].isin(set(table.get("mask", pd.Series(dtype=str))))]
            table = pd.concat([kept, table], ignore_index=True)
    extra = [c for c in ("time_s", "z", "z_um") if c in table and table[c].notna().any()]
    at = columns.index("frame") + 1  # known time increment, Z slice of a volume (µm when the Z step is known)
    columns[at:at] = extra
    with atomic_path(meta) as tmp:
        table.reindex(columns=columns).to_csv(tmp, index=False)
