"""Plain-file exports: object outlines, ImageJ ROI sets, semantic masks and Cellpose training pairs."""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from numpy.typing import NDArray
from skimage.measure import find_contours
from skimage.segmentation import find_boundaries

from ..errors import InputError
from ._common import ExportInput, ExportOptions, atomic_dir, provenance_path, staged_files
from ._volumes import VolumeItem

OUTLINE_GROUPS = ("plate", "well", "site")
#: Where ``--pattern`` is searched: the file names (input, then mask), or the position name first.
PATTERN_ON = ("file", "position")


def outline_frame(labels: NDArray[Any]) -> NDArray[Any]:
    """uint8 image: 255 on every object's own inner boundary, 0 elsewhere.

    Each object is outlined inside itself, so touching objects keep separate outlines (the border
    between them is drawn on both sides).
    """
    lab = np.asarray(labels)
    edges: NDArray[Any] = find_boundaries(lab, mode="inner")
    return (edges & (lab > 0)).astype(np.uint8) * 255


def compile_pattern(pattern: str | None, on: str = "file") -> re.Pattern[str] | None:
    """The outline pattern compiled; raises :class:`ValueError` for bad syntax, missing groups or ``on``.

    ``on`` is where it is searched (:data:`PATTERN_ON`), checked even without a pattern. The messages name
    the setting "pattern", as the command line (``--pattern``), the API (``ExportOptions.pattern``) and
    the Measure dock (Pattern) all call it.
    """
    if on not in PATTERN_ON:
        raise ValueError(f"pattern_on {on!r} (--pattern-on): use {' or '.join(PATTERN_ON)}")
    if not pattern:
        return None
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {exc}") from exc
    missing = [g for g in OUTLINE_GROUPS if g not in regex.groupindex]
    if len(missing) == len(OUTLINE_GROUPS):
        raise ValueError(f"pattern {pattern!r} has none of the named groups plate, well, site")
    return regex


def index_fields(item: ExportInput | VolumeItem, regex: re.Pattern[str] | None,
                 on: str = "file") -> dict[str, Any]:
    """The outline index's fields of a mask: ``position``, ``position_name``, ``plate``, ``well``, ``site``.

    ``position`` and ``position_name`` are the input's position and its name as the mask's log records
    them (empty without a log, or a name it does not record). ``regex`` is searched, with ``on="file"``,
    in the input image's file name, then the mask's file name (never in the position name: a pattern
    written for ``plate_B03_...`` also matches a position named ``P12``); with ``on="position"``, in the
    position name first, then those file names. Each of ``plate``, ``well``, ``site`` takes its value
    from the first of them that gives it (so with ``on="position"`` a well in the position name
    ``P1-B4`` wins over one in the file name of a multi-position plate, and a plate only the file name
    holds still comes from it).

    Raises
    ------
    InputError
        When the pattern matches none of them (``on="file"``: saying so when the position name matches).
    """
    # text, not a number: an index's earlier rows without a position made the column float (0.0)
    fields: dict[str, Any] = {"position": "" if item.position is None else str(item.position),
                              "position_name": item.position_name or ""}
    found = dict.fromkeys(OUTLINE_GROUPS, "")
    if regex is None:
        return {**fields, **found}
    searched = [("position name", item.position_name)] if on == "position" else []
    names = [(what, n) for what, n in (*searched, ("input", item.input_name), ("mask", item.path.name)) if n]
    matched = False
    for _what, name in names:
        m = regex.search(name)
        if m:
            matched = True
            for group in OUTLINE_GROUPS:
                found[group] = found[group] or m.groupdict().get(group) or ""
    if not matched:
        said = ", ".join(f"{what} {name!r}" for what, name in names)
        hint = ""
        if on == "file" and item.position_name and regex.search(item.position_name):
            hint = (f"; it matches the position name {item.position_name!r}: give --pattern-on position "
                    "(API: pattern_on='position') to read it")
        raise InputError(f"{item.path}: pattern {regex.pattern!r} matches none of {said}{hint}")
    return {**fields, **found}


def write_outline_folder(
    target: Path, options: ExportOptions, mask_name: str, meta: dict[str, str],
    planes: Iterable[tuple[str, NDArray[Any], dict[str, Any]]],
) -> tuple[list[Path], list[dict[str, Any]]]:
    """Folder ``target`` with an outline image per ``(stem, labels, row fields)`` of ``planes``.

    Returns (files, metadata rows: ``outline``, ``mask``, the plane's fields, ``meta``).
    """
    fmt = options.outline_format.lower().lstrip(".")
    if fmt not in ("png", "tif", "tiff"):
        raise ValueError(f"outline format {options.outline_format!r}: use png or tif")
    rows: list[dict[str, Any]] = []
    files: list[Path] = []
    with atomic_dir(target) as tmp:
        for stem, labels, fields in planes:
            img = outline_frame(labels)
            name = f"{stem}.{fmt}"
            if fmt == "png":
                from PIL import Image

                Image.fromarray(img).save(tmp / name)
            else:
                tifffile.imwrite(tmp / name, img, compression="zlib")
            files.append(target / name)
            rows.append({"outline": f"{target.name}/{name}", "mask": mask_name, **fields, **meta})
    return files, rows


def write_outlines(item: ExportInput, target: Path, options: ExportOptions,
                   meta: dict[str, str]) -> tuple[list[Path], list[dict[str, Any]]]:
    """Folder ``target`` with one outline image per frame; returns (files, metadata rows)."""
    start, dt = item.start, item.pixel_size.t
    planes = ((f"{item.base}_t{start + i:04d}", item.stack.frame(i),
               {"frame": start + i, **({"time_s": (start + i) * dt} if dt is not None else {})})
              for i in range(item.stack.n_frames))
    return write_outline_folder(target, options, item.path.name, meta, planes)


def imagej_calibration(item: ExportInput) -> tuple[dict[str, Any], tuple[float, float] | None]:
    """ImageJ hyperstack metadata (axes, unit, frame interval) and resolution (pixels per µm) of a mask.

    A movie is ``TYX`` (frames, so Fiji shows a time slider), a single frame ``YX``; pixel size and
    frame interval are written only when known.
    """
    ps = item.pixel_size
    movie = item.stack.n_frames > 1
    meta: dict[str, Any] = {"axes": "TYX" if movie else "YX"}
    resolution = None
    if ps.x is not None and ps.y is not None:
        resolution = (1.0 / ps.x, 1.0 / ps.y)
        meta["unit"] = "um"
    if movie and ps.t is not None:
        meta["finterval"] = float(ps.t)
        meta["tunit"] = "sec"
    return meta, resolution


def write_semantic(item: ExportInput, target: Path, options: ExportOptions) -> list[Path]:
    """``(T, Y, X)`` uint8 ImageJ TIFF: ``foreground_value`` on objects, 0 on background.

    ImageJ metadata make Fiji open it calibrated (µm, frame interval) with T as frames.
    """
    value = int(options.foreground_value)
    if value not in (1, 255):
        raise ValueError(f"foreground value {value}: use 1 or 255")
    n = item.stack.n_frames
    frames = (np.where(item.stack.frame(i) > 0, value, 0).astype(np.uint8) for i in range(n))
    meta, resolution = imagej_calibration(item)
    shape = (n, *item.stack.shape_yx) if n > 1 else item.stack.shape_yx
    with atomic_dir(target, suffix=".tif") as tmp:
        tifffile.imwrite(tmp, frames, shape=shape, dtype=np.uint8, imagej=True, resolution=resolution,
                         metadata=meta, compression="zlib", photometric="minisblack")
    return [target]


def object_polygon(obj: NDArray[Any]) -> NDArray[Any] | None:
    """Outline of a binary object as ``(n, 2)`` x, y ImageJ coordinates (pixel corners at integers).

    The contour runs half way between object and background pixel centres, so filling the polygon
    over pixel centres gives the object back; for an object in several pieces the largest is kept.
    """
    padded = np.pad(obj.astype(np.uint8), 1)
    contours = find_contours(padded, 0.5)
    if not contours:
        return None
    best = max(contours, key=len)
    # back to the unpadded frame (-1), then to ImageJ's convention: a pixel centre is at +0.5
    xy: NDArray[Any] = np.stack([best[:, 1] - 0.5, best[:, 0] - 0.5], axis=1)
    return xy


def write_rois(item: ExportInput, target: Path, options: ExportOptions) -> list[Path]:
    """One ImageJ/Fiji ROI zip per file: a polygon per object, each on its input frame.

    The ROI named ``t0010-...`` sits at T position 11 (ImageJ counts from 1): input frame 10 of the
    movie in Fiji, whatever frame of the mask it is. Masks of a still image get no T position.
    """
    import roifile
    from scipy import ndimage as ndi

    start = item.start
    n = item.stack.n_frames
    timed = item.time_series
    with atomic_dir(target, suffix=".zip") as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(n):
            labels = item.stack.frame(i)
            slices = ndi.find_objects(labels)
            for lab, sl in enumerate(slices, start=1):
                if sl is None:
                    continue
                y0, x0 = sl[0].start, sl[1].start
                poly = object_polygon(labels[sl] == lab)
                if poly is None:
                    continue
                poly = poly + np.array([x0, y0])
                name = f"t{start + i:04d}-{lab:05d}"
                roi = roifile.ImagejRoi.frompoints(poly, name=name, t=start + i if timed else None)
                roi.roitype = roifile.ROI_TYPE.POLYGON
                zf.writestr(f"{name}.roi", roi.tobytes())
    return [target]


def cellpose_names(item: ExportInput, frame: int) -> tuple[str, str]:
    """``(<base>_t<frame>.tif, <base>_t<frame>_masks.tif)``: Cellpose's training pair naming."""
    stem = f"{item.base}_t{frame:04d}"
    return f"{stem}.tif", f"{stem}_masks.tif"


def cellpose_targets(item: ExportInput, folder: Path) -> list[Path]:
    """Every file the ``cellpose`` export of ``item`` writes into ``folder``."""
    start = item.start
    out = []
    for i in range(item.stack.n_frames):
        out += [folder / n for n in cellpose_names(item, start + i)]
    return out


def earlier_pairs(target: Path, base: str) -> list[Path]:
    """The Cellpose pairs of mask ``base`` that the earlier export's provenance beside ``target`` lists.

    Only files of ``target``'s folder named as that mask's pairs (``<base>_t0000[_z0000][_masks].tif``);
    none when there is no readable record.
    """
    try:
        files = json.loads(provenance_path(target).read_text(encoding="utf-8"))["files"]
        listed = [Path(str(p)) for p in files]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    folder = target.parent.resolve()
    name = re.compile(re.escape(base) + r"_t\d{4}(?:_z\d{4})?(?:_masks)?\.tif")
    return [folder / p.name for p in listed if p.parent == folder and name.fullmatch(p.name)]


def stale_pairs(earlier: Iterable[Path], written: Iterable[Path]) -> list[Path]:
    """The pairs of an earlier export of a mask (``overwrite``) that its new export did not write.

    A mask segmented again over fewer frames left the other frames' pairs of the earlier export in the
    training folder, listed in no provenance file, for Cellpose to train on: they are removed with the
    new export's putting in place (:meth:`~napari_batchseg.export._common.Publication.drop`).
    """
    kept = {p.name for p in written}
    return [p for p in earlier if p.name not in kept]


def write_cellpose(item: ExportInput, folder: Path, options: ExportOptions) -> list[Path]:
    """Cellpose training pairs in ``folder``: the prepared frame (float32) and its labels, per frame.

    All pairs of a mask are written in a hidden folder first and moved in only when all exist (a
    failure while moving puts the older files of those names back).
    """
    assert item.image is not None
    start = item.start
    with staged_files(folder, f"{item.base}_cellpose") as (tmp, written):
        for i in range(item.stack.n_frames):
            image, _ = item.image.frame(i)
            img_name, mask_name = cellpose_names(item, start + i)
            tifffile.imwrite(tmp / img_name, image.astype(np.float32), compression="zlib")
            tifffile.imwrite(tmp / mask_name, item.stack.frame(i), compression="zlib")
    return written
