"""OME-Zarr and DaCapo exports of volume masks (``TZYX``, from ``z_mode`` 3d / stitch): a ``z`` axis.

OME-NGFF 0.4 or 0.5, laid out as the 2D export (:mod:`.zarr_formats`): the input's volumes at ``0`` (when
the mask's input is known) and the labels at ``labels/masks/0``, both ``(t, z, y, x)``, chunked one
plane at a time, scaled in seconds and µm where known. DaCapo: ``raw``/``labels``/``mask`` with three
spatial axes. One volume in memory at a time; every output is written atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..io.sources import PixelSize
from ..measure_3d import volume_reader
from ._common import ExportOptions, atomic_dir
from ._volumes import VolumeItem
from .zarr_formats import (
    LABEL_NAME,
    NGFF_VERSIONS,
    _create,
    _ome_attrs,
    _open_group,
    label_color,
    write_dacapo_container,
)

__all__ = ["write_volume_dacapo", "write_volume_ome_zarr"]

AXES_3D = ["t", "z", "y", "x"]


def _multiscales_3d(
    name: str, ps: PixelSize, start: int, version: str, z_first: int = 0
) -> list[dict[str, Any]]:
    known = ps.x is not None and ps.y is not None
    space = {"type": "space", **({"unit": "micrometer"} if known else {})}
    time = {"type": "time", **({"unit": "second"} if ps.t is not None else {})}
    t = float(ps.t) if ps.t is not None else 1.0
    z = float(ps.z) if ps.z is not None and known else 1.0
    scale = [t, z, float(ps.y) if known else 1.0, float(ps.x) if known else 1.0]  # type: ignore[arg-type]
    transforms: list[dict[str, Any]] = [{"type": "scale", "scale": scale}]
    if start or z_first:  # at the input's time and depth of the mask's first time point and slice
        transforms.append({"type": "translation", "translation": [start * t, z_first * z, 0.0, 0.0]})
    entry: dict[str, Any] = {
        "name": name, "axes": [{"name": "t", **time}] + [{"name": a, **space} for a in "zyx"],
        "datasets": [{"path": "0", "coordinateTransformations": transforms}],
    }
    if version == "0.4":
        entry["version"] = version
    return [entry]


def write_volume_ome_zarr(item: VolumeItem, target: Path, options: ExportOptions) -> list[Path]:
    """Write ``target`` (a ``.ome.zarr`` folder) from the volume mask ``item``; return ``[target]``.

    Label ids stay as in the mask (unique within a volume; each time point keeps its own ids). The
    image is written when the mask's input was opened (its log names it, or ``--image``).
    """
    version = str(options.ngff_version)
    if version not in NGFF_VERSIONS:
        raise ValueError(f"OME-NGFF version {version!r}: use 0.4 or 0.5")
    ps = item.pixel_size
    shape = (item.n_frames, *item.shape_zyx)
    chunks = (1, 1, *item.shape_zyx[1:])
    dims = AXES_3D if version == "0.5" else None
    with atomic_dir(target) as tmp:
        root = _open_group(tmp, 3 if version == "0.5" else 2)
        img = _create(root, "0", shape, chunks, np.float32, dims) if item.source is not None else None
        labels_group = root.create_group("labels")
        lab_group = labels_group.create_group(LABEL_NAME)
        lab = _create(lab_group, "0", shape, chunks, np.uint32, dims)
        values: set[int] = set()
        for t, labels in enumerate(item.volumes()):
            for k in range(labels.shape[0]):  # a plane per chunk: no whole-volume copies
                lab[t, k] = labels[k].astype(np.uint32)
            values.update(int(v) for v in np.unique(labels) if v)
            if img is not None:
                img[t] = item.image_volume(t)
        root.attrs.update(_ome_attrs(version, {
            "multiscales": _multiscales_3d(item.base, ps, item.start, version, item.z_first),
        }))
        labels_group.attrs.update(_ome_attrs(version, {"labels": [LABEL_NAME]}))
        label_meta: dict[str, Any] = {
            "colors": [{"label-value": v, "rgba": label_color(v)} for v in sorted(values)],
            "source": {"image": "../../"},
        }
        if version == "0.4":
            label_meta["version"] = version
        lab_group.attrs.update(_ome_attrs(version, {
            "multiscales": _multiscales_3d(LABEL_NAME, ps, item.start, version, item.z_first),
            "image-label": label_meta,
        }))
    return [target]


def write_volume_dacapo(item: VolumeItem, target: Path, options: ExportOptions) -> list[Path]:
    """A DaCapo container of a volume mask: ``raw``, ``labels``, ``mask`` with axes ``(t^, z, y, x)``.

    One volume is ``(z, y, x)``. Voxel sizes are DaCapo's whole numbers (:func:`.voxel_sizes`; all
    ``1`` when the Z step or the pixel size is unknown); the test crop is the last time points, or, for
    one volume, the bottom rows (``y``) of every slice. ``mask`` marks the annotated time points.
    """
    ps = item.pixel_size
    attrs = {
        "pixel_size_um": {"z": ps.z, "y": ps.y, "x": ps.x},
        "time_increment_s": ps.t,
        "first_frame": item.start,
        "first_z_slice": item.z_first,
    }
    with volume_reader(item.path) as (_n, labels_at):

        def read(i: int) -> tuple[NDArray[Any], NDArray[Any]]:
            return item.image_volume(i), labels_at(i)

        return write_dacapo_container(target, item.n_frames, item.shape_zyx, read,
                                      (("z", "y", "x"), (ps.z, ps.y, ps.x)), options, item.log_text, attrs)
