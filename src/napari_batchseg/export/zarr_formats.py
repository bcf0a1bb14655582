"""Zarr exports: OME-NGFF 0.4 or 0.5 (image + ``labels/`` with ``image-label`` metadata), DaCapo containers.

Written with ``zarr`` frame by frame (memory bounded by one frame): Zarr format 2 for OME-NGFF 0.4 and
DaCapo (as ``funlib.persistence`` reads it), Zarr format 3 for OME-NGFF 0.5 (needs zarr >= 3).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ..corrections import _ranges
from ..errors import InputError, OutputError
from ..io.sources import PixelSize
from ..measure import measure_labels
from ._common import ExportInput, ExportOptions, atomic_dir

NGFF_VERSION = "0.4"
NGFF_VERSIONS = ("0.4", "0.5")
LABEL_NAME = "masks"


def _open_group(path: Path, zarr_format: Literal[2, 3] = 2) -> Any:
    import zarr

    if zarr_format == 3 and int(zarr.__version__.split(".")[0]) < 3:
        raise ValueError(f"OME-NGFF 0.5 needs zarr >= 3 (installed: zarr {zarr.__version__}); use 0.4")
    try:
        return zarr.open_group(str(path), mode="w", zarr_format=zarr_format)
    except TypeError:  # zarr 2 has no zarr_format argument
        return zarr.open_group(str(path), mode="w")


def _create(
    group: Any, name: str, shape: tuple[int, ...], chunks: tuple[int, ...], dtype: Any,
    dimension_names: list[str] | None = None,
) -> Any:
    kwargs = {"shape": shape, "chunks": chunks, "dtype": dtype, "fill_value": 0}
    if dimension_names is not None:  # Zarr format 3 (OME-NGFF 0.5)
        return group.create_array(name, dimension_names=dimension_names, **kwargs)
    if hasattr(group, "create_array"):
        arr = group.create_array(name, chunk_key_encoding={"name": "v2", "separator": "/"}, **kwargs)
    else:  # zarr 2
        arr = group.create_dataset(name, dimension_separator="/", **kwargs)
    return arr


def _json_value(v: Any) -> Any:
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if math.isnan(float(v)) else float(v)
    return v


def label_color(value: int) -> list[int]:
    """A stable, well-spread RGBA colour for a label value (golden-ratio hues)."""
    import colorsys

    hue = (value * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.75, 0.95)
    return [int(r * 255), int(g * 255), int(b * 255), 255]


AXES = ["t", "y", "x"]


def _axes(ps: PixelSize) -> list[dict[str, Any]]:
    space = {"type": "space", **({"unit": "micrometer"} if ps.x is not None and ps.y is not None else {})}
    time = {"type": "time", **({"unit": "second"} if ps.t is not None else {})}
    return [{"name": "t", **time}, {"name": "y", **space}, {"name": "x", **space}]


def _transforms(ps: PixelSize, start: int) -> list[dict[str, Any]]:
    """Scale ``(t, y, x)`` (s, µm, µm where known, else 1) and, for a mask of later frames, its T offset."""
    t = float(ps.t) if ps.t is not None else 1.0
    known = ps.x is not None and ps.y is not None
    scale = [t, float(ps.y) if known else 1.0, float(ps.x) if known else 1.0]  # type: ignore[arg-type]
    out: list[dict[str, Any]] = [{"type": "scale", "scale": scale}]
    if start:
        out.append({"type": "translation", "translation": [start * t, 0.0, 0.0]})
    return out


def _multiscales(name: str, ps: PixelSize, start: int, version: str) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {
        "name": name, "axes": _axes(ps),
        "datasets": [{"path": "0", "coordinateTransformations": _transforms(ps, start)}],
    }
    if version == "0.4":  # 0.5 states the version once, in the "ome" attribute
        entry["version"] = version
    return [entry]


def _ome_attrs(version: str, content: dict[str, Any]) -> dict[str, Any]:
    """Group attributes: 0.4 keeps the keys at the top, 0.5 nests them under ``"ome"`` with the version."""
    return content if version == "0.4" else {"ome": {"version": version, **content}}


def write_ome_zarr(item: ExportInput, target: Path, options: ExportOptions) -> list[Path]:
    """OME-NGFF 0.4 or 0.5 (``options.ngff_version``): image at ``0``, labels at ``labels/masks/0``.

    Both are ``(t, y, x)`` (the prepared image has one channel: no ``c`` axis, so a viewer's time
    slider drives the same axis in both), scaled in seconds and µm where known, and shifted to the
    input's time of the mask's first frame. Label values are unique per (frame, label): frame ``k``'s
    labels are offset by the largest label of the frames before it, so readers that key ``properties``
    by label value keep every object. The label group has ``image-label`` metadata: a colour per
    value, ``source`` pointing at the image, and ``properties`` (one entry per object per frame: its
    measurements, the mask's own ``label``, the input ``frame`` and ``time_s`` when known).
    """
    assert item.image is not None
    stack = item.stack
    n, (ny, nx) = stack.n_frames, stack.shape_yx
    ps = item.image.pixel_size
    start = item.image.spec.start_frame
    channel_name = item.image.info.channel_names[item.image.channel]
    version = str(options.ngff_version)
    if version not in NGFF_VERSIONS:
        raise ValueError(f"OME-NGFF version {version!r}: use 0.4 or 0.5")
    dims = AXES if version == "0.5" else None
    with atomic_dir(target) as tmp:
        root = _open_group(tmp, 3 if version == "0.5" else 2)
        img = _create(root, "0", (n, ny, nx), (1, ny, nx), np.float32, dims)
        labels_group = root.create_group("labels")
        lab_group = labels_group.create_group(LABEL_NAME)
        lab = _create(lab_group, "0", (n, ny, nx), (1, ny, nx), np.uint32, dims)
        lo, hi = math.inf, -math.inf
        values: set[int] = set()
        properties: list[dict[str, Any]] = []
        offset = 0
        for i in range(n):
            labels = stack.frame(i)
            image, _ = item.image.frame(i)
            img[i] = image
            lab[i] = frame_label_values(labels, offset, item.path)
            if image.size:
                lo, hi = min(lo, float(image.min())), max(hi, float(image.max()))
            table = measure_labels(labels, image, ps, frame=start + i)
            for row in table.drop(columns=["file", "position", "position_name"]).to_dict("records"):
                entry = {"label-value": offset + int(row["label"])}
                entry.update({k: _json_value(v) for k, v in row.items()})
                properties.append(entry)
                values.add(entry["label-value"])
            offset += int(labels.max()) if labels.size else 0
        if not math.isfinite(lo):
            lo, hi = 0.0, 1.0
        omero_version = {"version": version} if version == "0.4" else {}
        root.attrs.update(_ome_attrs(version, {
            "multiscales": _multiscales(item.base, ps, start, version),
            "omero": {
                **omero_version, "name": item.base,
                "channels": [{"label": channel_name, "color": "FFFFFF", "active": True,
                              "window": {"min": lo, "max": hi, "start": lo, "end": hi}}],
                "rdefs": {"model": "greyscale"},
            },
        }))
        labels_group.attrs.update(_ome_attrs(version, {"labels": [LABEL_NAME]}))
        lab_group.attrs.update(_ome_attrs(version, {
            "multiscales": _multiscales(LABEL_NAME, ps, start, version),
            "image-label": {
                **omero_version,
                "colors": [{"label-value": v, "rgba": label_color(v)} for v in sorted(values)],
                "properties": properties,
                "source": {"image": "../../"},
            },
        }))
    return [target]


def frame_label_values(labels: NDArray[Any], offset: int, path: Path) -> NDArray[Any]:
    """``labels`` as uint32 with ``offset`` added to every object (background stays 0)."""
    top = int(labels.max()) if labels.size else 0
    if offset + top > np.iinfo(np.uint32).max:
        raise OutputError(f"{path}: too many objects over all frames for unique OME-Zarr label values")
    out = labels.astype(np.uint32)
    if offset:
        out[labels > 0] += np.uint32(offset)
    return out


_CORRECTED = re.compile(r"\| correction \| \w+ \| manual correction saved: frame\(s\) ([0-9, -]+) edited")


def corrected_frames(log_text: str) -> list[int]:
    """Mask frames (0-based) that manual corrections changed, from a mask log's correction records."""
    frames: set[int] = set()
    for m in _CORRECTED.finditer(log_text):
        for part in m.group(1).split(","):
            a, _, b = part.strip().partition("-")
            if a:
                frames.update(range(int(a), int(b or a) + 1))
    return sorted(frames)


#: length units DaCapo voxel sizes may use, coarsest first, with their size in µm
_VOXEL_UNITS = (("nm", 1e-3), ("pm", 1e-6))


def voxel_sizes(values: Sequence[float | None]) -> tuple[list[int], str]:
    """Exact integer voxel sizes for DaCapo (``funlib.persistence`` stores whole numbers) and their unit.

    The coarsest unit of :data:`_VOXEL_UNITS` in which every known size is a whole number (to 1e-9
    relative) is used: 0.325 µm -> 325 nm, 0.0655 µm -> 65500 pm, never a rounded 66 nm. A size that is
    not a whole number of picometres (e.g. 0.108333... µm) is given in pm rounded to the nearest one
    (relative error below 1e-5 for any pixel above 0.05 µm); the exact µm values are also written as the
    ``pixel_size_um`` attribute. Unknown sizes give ``([1, ...], "")``.
    """
    if any(v is None for v in values):
        return [1] * len(values), ""
    known = [float(v) for v in values]  # type: ignore[arg-type]
    for unit, um in _VOXEL_UNITS:
        scaled = [v / um for v in known]
        if all(abs(x - round(x)) <= 1e-9 * max(1.0, abs(x)) for x in scaled):
            return [max(1, round(x)) for x in scaled], unit
    unit, um = _VOXEL_UNITS[-1]
    return [max(1, round(v / um)) for v in known], unit


def _set_attrs(arr: Any, voxel: list[int], offset: list[int], axes: list[str], units: list[str]) -> None:
    arr.attrs.update({"voxel_size": voxel, "offset": offset, "axis_names": axes, "units": units})


def annotated_frames(options: ExportOptions, log_text: str, n: int) -> set[int]:
    """The mask frames marked complete (``mask`` = 1) in a DaCapo container (see :class:`ExportOptions`)."""
    frames = options.annotated_frames
    if frames == "corrected":
        frames = corrected_frames(log_text)
    elif isinstance(frames, str):
        raise ValueError(f"annotated frames {frames!r}: give frame numbers or 'corrected'")
    return set(range(n)) if frames is None else {int(f) for f in frames}


def check_annotated_frames(path: Path, options: ExportOptions, log_text: str, n: int, start: int) -> None:
    """Raise :class:`InputError` for ``options.annotated_frames`` that miss the mask's ``n`` frames.

    Those are numbers outside ``0..n-1`` (the mask's frames; ``start``: the input frame of its first),
    or ``"corrected"`` for a mask whose log records no manual correction.

    Called for every mask before any export writes: such a container's ``mask`` was 0 on the frames
    meant (all of them, for input frame numbers of a mask of later frames), without a word.
    """
    frames = options.annotated_frames
    if frames == "corrected":
        if not corrected_frames(log_text):
            raise InputError(f"{path}: --annotated-frames corrected: its log records no manual correction, "
                             "so no frame would be marked annotated (give the frames' numbers)")
        return
    if frames is None or isinstance(frames, str):  # (a bad string: ValueError when written)
        return
    if not len(frames):
        raise InputError(f"{path}: --annotated-frames lists no frame, so none would be marked annotated "
                         "(leave it out for all frames)")
    outside = sorted({int(f) for f in frames} - set(range(n)))
    if outside:
        inputs = f" (input frames {start}-{start + n - 1})" if start else ""
        raise InputError(f"{path}: --annotated-frames {_ranges(outside)} are not frames of this mask: it "
                         f"has {n} frame(s), 0-{n - 1}{inputs}; the numbers count the mask's frames from 0")


def write_dacapo_container(
    target: Path, n: int, plane: tuple[int, ...], read: Callable[[int], tuple[NDArray[Any], NDArray[Any]]],
    spatial: tuple[Sequence[str], Sequence[float | None]], options: ExportOptions, log_text: str,
    attrs: dict[str, Any],
) -> list[Path]:
    """The DaCapo container of ``n`` frames of shape ``plane`` (``(y, x)`` or ``(z, y, x)``).

    ``read(i)`` gives frame ``i``'s image and labels; ``spatial`` the names and µm sizes of the plane's
    axes. Several frames get a leading ``t^`` axis (non-spatial for DaCapo/funlib); the test crop is the
    last frames, or, for one frame, the bottom rows (``y``). One frame in memory at a time.
    """
    names, sizes = spatial
    voxel_spatial, unit = voxel_sizes(list(sizes))
    movie = n > 1
    axes = (["t^"] if movie else []) + list(names)
    voxel = ([1] if movie else []) + voxel_spatial
    units = ([""] if movie else []) + [unit] * len(names)
    shape = ((n,) if movie else ()) + plane
    lead = len(shape) - 2  # axes before (y, x): chunks hold one (y, x) plane
    chunks = (1,) * lead + plane[-2:]
    annotated = annotated_frames(options, log_text, n)
    frac = float(options.test_fraction)
    if not 0.0 <= frac < 1.0:
        raise ValueError(f"test fraction {frac}: use a value in [0, 1)")
    with atomic_dir(target) as tmp:
        root = _open_group(tmp)
        arrays = {
            "raw": _create(root, "raw", shape, chunks, np.float32),
            "labels": _create(root, "labels", shape, chunks, np.uint32),
            "mask": _create(root, "mask", shape, chunks, np.uint8),
        }
        lo, hi = math.inf, -math.inf
        for i in range(n):
            image, labels = read(i)
            key = i if movie else slice(None)
            arrays["raw"][key] = image
            arrays["labels"][key] = labels.astype(np.uint32)
            arrays["mask"][key] = np.full(plane, 1 if i in annotated else 0, np.uint8)
            if image.size:
                lo, hi = min(lo, float(image.min())), max(hi, float(image.max()))
        span = hi - lo if math.isfinite(hi - lo) and hi > lo else 1.0
        for i in range(n):  # second pass: scale to [0, 1] with the file's own range
            key = i if movie else slice(None)
            arrays["raw"][key] = ((np.asarray(arrays["raw"][key]) - lo) / span).clip(0, 1).astype(np.float32)
        zero = [0] * len(shape)
        for arr in arrays.values():
            _set_attrs(arr, voxel, zero, axes, units)
        root.attrs.update({
            "raw_range": [lo if math.isfinite(lo) else 0.0, hi if math.isfinite(hi) else 0.0], **attrs,
        })
        if frac > 0:
            split_axis = 0 if movie else len(shape) - 2
            axis_len = shape[split_axis]
            n_test = max(1, round(frac * axis_len))
            if n_test >= axis_len:
                raise ValueError(
                    f"test fraction {frac} leaves nothing to train on ({axis_len} along the split)"
                )
            split = axis_len - n_test
            for group_name, part in (("train", slice(0, split)), ("test", slice(split, axis_len))):
                group = root.create_group(group_name)
                offset = list(zero)
                offset[split_axis] = part.start * voxel[split_axis]
                index = (slice(None),) * split_axis + (part,)
                for name, arr in arrays.items():
                    data = np.asarray(arr[index])
                    crop = _create(group, name, data.shape, chunks if movie else data.shape, data.dtype)
                    crop[...] = data
                    _set_attrs(crop, voxel, offset, axes, units)
    return [target]


def write_dacapo(item: ExportInput, target: Path, options: ExportOptions) -> list[Path]:
    """A DaCapo zarr container: ``raw`` (float32 in [0, 1]), ``labels`` (uint32), ``mask`` (uint8).

    A movie is ``(t^, y, x)`` (time marked non-spatial), a single frame ``(y, x)``. ``raw`` is the
    prepared image scaled by the file's own minimum and maximum. ``mask`` is 1 on frames listed in
    ``options.annotated_frames`` (all by default; ``"corrected"``: the frames that manual corrections
    changed, from the mask's log). With ``options.test_fraction`` > 0, ``train/`` and
    ``test/`` groups hold crops: the last frames (or, for one frame, the bottom rows) are the test set.
    """
    image = item.image
    assert image is not None
    stack = item.stack
    ps = image.pixel_size

    def read(i: int) -> tuple[NDArray[Any], NDArray[Any]]:
        return image.frame(i)[0], stack.frame(i)

    attrs = {
        "pixel_size_um": {"y": ps.y, "x": ps.x},
        # t^ is not a physical axis for DaCapo: the time step and first input frame live here
        "time_increment_s": ps.t,
        "first_frame": item.start,
    }
    return write_dacapo_container(target, stack.n_frames, stack.shape_yx, read, (("y", "x"), (ps.y, ps.x)),
                                  options, stack.log_text, attrs)
