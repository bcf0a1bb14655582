"""OME-Zarr export of volume masks (``TZYX``, from ``z_mode`` 3d / stitch): a ``z`` axis in image and labels.

OME-NGFF 0.4 or 0.5, laid out as the 2D export (:mod:`.zarr_formats`): the input's volumes at ``0`` (when
the mask's log names its input) and the labels at ``labels/masks/0``, both ``(t, z, y, x)``, chunked one
plane at a time, scaled in seconds and µm where known. One volume in memory at a time; the folder is
written atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..io.atomic import check_writable_dir
from ..io.masks import read_embedded_log, read_mask_pixel_size
from ..io.reader import stem_of
from ..io.sources import PixelSize
from ..measure_3d import VolumeInput, is_volume_mask, mask_volumes
from ._common import atomic_dir, check_targets
from .zarr_formats import LABEL_NAME, NGFF_VERSIONS, _create, _ome_attrs, _open_group, label_color

__all__ = ["export_volume_masks", "write_volume_ome_zarr"]

AXES_3D = ["t", "z", "y", "x"]


def _multiscales_3d(name: str, ps: PixelSize, start: int, version: str) -> list[dict[str, Any]]:
    known = ps.x is not None and ps.y is not None
    space = {"type": "space", **({"unit": "micrometer"} if known else {})}
    time = {"type": "time", **({"unit": "second"} if ps.t is not None else {})}
    t = float(ps.t) if ps.t is not None else 1.0
    z = float(ps.z) if ps.z is not None and known else 1.0
    scale = [t, z, float(ps.y) if known else 1.0, float(ps.x) if known else 1.0]  # type: ignore[arg-type]
    transforms: list[dict[str, Any]] = [{"type": "scale", "scale": scale}]
    if start:
        transforms.append({"type": "translation", "translation": [start * t, 0.0, 0.0, 0.0]})
    entry: dict[str, Any] = {
        "name": name, "axes": [{"name": "t", **time}] + [{"name": a, **space} for a in "zyx"],
        "datasets": [{"path": "0", "coordinateTransformations": transforms}],
    }
    if version == "0.4":
        entry["version"] = version
    return [entry]


def write_volume_ome_zarr(mask: Path, target: Path, version: str = "0.4") -> list[Path]:
    """Write ``target`` (a ``.ome.zarr`` folder) from the volume mask ``mask``; return ``[target]``.

    Label ids stay as in the mask (unique within a volume; each time point keeps its own ids).
    """
    if version not in NGFF_VERSIONS:
        raise ValueError(f"OME-NGFF version {version!r}: use 0.4 or 0.5")
    ps = read_mask_pixel_size(mask)
    source = VolumeInput(mask, read_embedded_log(mask))
    try:
        volumes = mask_volumes(mask)
        first = next(volumes)
        n_t = _frame_count(mask)
        shape = (n_t, *first.shape)
        chunks = (1, 1, *first.shape[1:])
        dims = AXES_3D if version == "0.5" else None
        base = stem_of(mask)
        with atomic_dir(target) as tmp:
            root = _open_group(tmp, 3 if version == "0.5" else 2)
            img = _create(root, "0", shape, chunks, np.float32, dims) if source.source is not None else None
            labels_group = root.create_group("labels")
            lab_group = labels_group.create_group(LABEL_NAME)
            lab = _create(lab_group, "0", shape, chunks, np.uint32, dims)
            values: set[int] = set()
            for t in range(n_t):
                labels = first if t == 0 else next(volumes)
                lab[t] = labels.astype(np.uint32, copy=False)
                values.update(int(v) for v in np.unique(labels) if v)
                if img is not None:
                    img[t] = np.asarray(source.volume(t), np.float32)
            content: dict[str, Any] = {"multiscales": _multiscales_3d(base, ps, source.start, version)}
            root.attrs.update(_ome_attrs(version, content))
            labels_group.attrs.update(_ome_attrs(version, {"labels": [LABEL_NAME]}))
            label_meta: dict[str, Any] = {
                "colors": [{"label-value": v, "rgba": label_color(v)} for v in sorted(values)],
                "source": {"image": "../../"},
            }
            if version == "0.4":
                label_meta["version"] = version
            lab_group.attrs.update(_ome_attrs(version, {
                "multiscales": _multiscales_3d(LABEL_NAME, ps, source.start, version),
                "image-label": label_meta,
            }))
    finally:
        source.close()
    return [target]


def _frame_count(mask: Path) -> int:
    import tifffile

    with tifffile.TiffFile(mask) as tf:
        series = tf.series[0]
        return int(series.shape[series.axes.index("T")]) if "T" in series.axes else 1


def export_volume_masks(
    masks: list[Path], folder: Path, overwrite: bool, version: str
) -> dict[Path, list[Path]]:
    """OME-Zarr of each volume mask (``<base>.ome.zarr`` in ``folder``); all must be volume masks.

    Every target is checked before anything is written (existing ones need ``overwrite``).
    """
    flat = [str(m) for m in masks if not is_volume_mask(m)]
    if flat:
        raise InputError(f"{flat[0]}: a 2D mask among volume masks: export them separately")
    targets = [folder / f"{stem_of(m)}.ome.zarr" for m in masks]
    check_writable_dir(folder)
    check_targets(targets, overwrite)
    return {m: write_volume_ome_zarr(m, target, version) for m, target in zip(masks, targets, strict=True)}
