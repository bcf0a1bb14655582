"""Plain-file exports of volume masks: outlines and ROIs per (t, z) slice, TZYX semantic, Cellpose slices.

Slices are named by their input time point and input Z slice (``_t0003_z0002``): the mask's slice ``k`` is
the input's slice ``z_first + k`` when the run used a ``--z-range``. One mask volume is in memory at a time.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from numpy.typing import NDArray

from ._common import ExportOptions, atomic_dir, staged_files
from ._volumes import VolumeItem
from .images import object_polygon, write_outline_folder

__all__ = [
    "volume_cellpose_targets", "write_volume_cellpose", "write_volume_outlines", "write_volume_rois",
    "write_volume_semantic",
]


def _slice_stem(item: VolumeItem, i: int, k: int) -> str:
    return f"{item.base}_t{item.start + i:04d}_z{item.z_first + k:04d}"


def write_volume_outlines(item: VolumeItem, target: Path, options: ExportOptions,
                          meta: dict[str, str]) -> tuple[list[Path], list[dict[str, Any]]]:
    """Folder ``target`` with one outline image per (t, z) slice; returns (files, metadata rows).

    Rows have the input ``frame`` and ``z`` slice, ``time_s`` and ``z_um`` (the slice's depth from the
    input's first slice) when the file knows its time and Z steps.
    """
    dt, dz = item.pixel_size.t, item.pixel_size.z

    def planes() -> Iterator[tuple[str, NDArray[Any], dict[str, Any]]]:
        for i, volume in enumerate(item.volumes()):
            frame = item.start + i
            for k in range(volume.shape[0]):
                z = item.z_first + k
                yield _slice_stem(item, i, k), volume[k], {
                    "frame": frame, **({"time_s": frame * dt} if dt is not None else {}), "z": z,
                    **({"z_um": z * dz} if dz is not None else {}),
                }

    return write_outline_folder(target, options, item.path.name, meta, planes())


def write_volume_rois(item: VolumeItem, target: Path, options: ExportOptions) -> list[Path]:
    """One ImageJ/Fiji ROI zip: a polygon per object per Z slice, at its hyperstack position.

    Each ROI has ImageJ's hyperstack position ``(c, z, t)`` = ``(1, input slice + 1, input frame + 1)``
    (ImageJ counts from 1; a still volume is at t = 1) and is named ``t0003-z0002-00017`` (input
    frame, input slice, label): the ROIs of one object share its label across slices.
    """
    del options
    import roifile
    from scipy import ndimage as ndi

    with atomic_dir(target, suffix=".zip") as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, volume in enumerate(item.volumes()):
            frame = item.start + i
            for k in range(volume.shape[0]):
                labels = volume[k]
                z = item.z_first + k
                for lab, sl in enumerate(ndi.find_objects(labels), start=1):
                    if sl is None:
                        continue
                    poly = object_polygon(labels[sl] == lab)
                    if poly is None:
                        continue
                    poly = poly + np.array([sl[1].start, sl[0].start])
                    name = f"t{frame:04d}-z{z:04d}-{lab:05d}"
                    roi = roifile.ImagejRoi.frompoints(poly, name=name, c=0, z=z, t=frame)
                    roi.roitype = roifile.ROI_TYPE.POLYGON
                    zf.writestr(f"{name}.roi", roi.tobytes())
    return [target]


def volume_imagej_calibration(item: VolumeItem) -> tuple[dict[str, Any], tuple[float, float] | None]:
    """ImageJ hyperstack metadata of a volume mask: ``TZYX`` (``ZYX`` for one volume), Z spacing, units."""
    ps = item.pixel_size
    movie = item.n_frames > 1
    meta: dict[str, Any] = {"axes": "TZYX" if movie else "ZYX"}
    resolution = None
    if ps.x is not None and ps.y is not None:
        resolution = (1.0 / ps.x, 1.0 / ps.y)
        meta["unit"] = "um"
        if ps.z is not None:
            meta["spacing"] = float(ps.z)
    if movie and ps.t is not None:
        meta["finterval"] = float(ps.t)
        meta["tunit"] = "sec"
    return meta, resolution


def write_volume_semantic(item: VolumeItem, target: Path, options: ExportOptions) -> list[Path]:
    """``(T, Z, Y, X)`` uint8 ImageJ hyperstack: ``foreground_value`` on objects, 0 on background."""
    value = int(options.foreground_value)
    if value not in (1, 255):
        raise ValueError(f"foreground value {value}: use 1 or 255")
    nz, ny, nx = item.shape_zyx
    pages = (np.where(volume[k] > 0, value, 0).astype(np.uint8)
             for volume in item.volumes() for k in range(nz))
    meta, resolution = volume_imagej_calibration(item)
    shape = (item.n_frames, nz, ny, nx) if item.n_frames > 1 else (nz, ny, nx)
    with atomic_dir(target, suffix=".tif") as tmp:
        tifffile.imwrite(tmp, pages, shape=shape, dtype=np.uint8, imagej=True, resolution=resolution,
                         metadata=meta, compression="zlib", photometric="minisblack")
    return [target]


def volume_cellpose_targets(item: VolumeItem, folder: Path) -> list[Path]:
    """Every file the ``cellpose`` export of a volume mask writes: a pair per (t, z) slice."""
    out = []
    for i in range(item.n_frames):
        for k in range(item.shape_zyx[0]):
            stem = _slice_stem(item, i, k)
            out += [folder / f"{stem}.tif", folder / f"{stem}_masks.tif"]
    return out


def write_volume_cellpose(item: VolumeItem, folder: Path, options: ExportOptions) -> list[Path]:
    """Cellpose training pairs, one per (t, z) slice: the input slice (float32) and its labels.

    Cellpose trains 2D networks (its 3D mode runs them along the axes of a volume), so a volume gives
    its XY slices. Labels keep the volume's ids. Written in a hidden folder, then moved in together.
    """
    del options
    with staged_files(folder, f"{item.base}_cellpose") as (tmp, written):
        for i, labels in enumerate(item.volumes()):
            image = item.image_volume(i)
            for k in range(labels.shape[0]):
                stem = _slice_stem(item, i, k)
                tifffile.imwrite(tmp / f"{stem}.tif", image[k], compression="zlib")
                tifffile.imwrite(tmp / f"{stem}_masks.tif", labels[k], compression="zlib")
    return written
