"""Measure ``TZYX`` volume masks (``z_mode`` 3d / stitch): volumes in µm³ and 3D centroids, per object.

One volume of the mask (and of its input, for intensities) is in memory at a time. The input and how it
was read (position, channel, Z slices, first frame) come from the mask's embedded log; without a log the
objects are measured without intensities. :mod:`.measure` hands volume masks here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import tifffile
from numpy.typing import NDArray
from skimage.measure import regionprops_table

from ._columns import TIME_COLUMN, intensity_columns, name_column
from ._labels import check_start_frame
from .errors import InputError
from .input_check import check_input
from .io.atomic import atomic_path, check_writable_dir, publish_all, staged
from .io.masks import read_embedded_log, read_mask_pixel_size
from .io.reader import open_source
from .io.sources import ImageSource, PixelSize
from .params import ZRange
from .prepare import resolve_channel, resolve_channels
from .prepare_3d import volume_z
from .provenance import parse_log

__all__ = [
    "VOLUME_COLUMNS", "VOLUME_SUMMARY_COLUMNS", "VolumeInput", "is_volume_mask", "mask_volumes",
    "measure_volume", "VolumeTable", "volume_reader", "volume_tables", "write_volume_tables",
]

#: Columns of the per-object table of a volume mask, in order (a known time step adds ``time_s`` after
#: ``frame``; extra channels add ``<stat>_intensity_<channel>`` at the end). ``touches_border``: the
#: object reaches a side of the field of view (Y or X), as in 2D; ``touches_z_border``: the first or last
#: slice of the volume (a cell cut by the Z range).
VOLUME_COLUMNS: tuple[str, ...] = (
    "file", "position", "position_name", "frame", "label", "volume_vox", "volume_um3",
    "centroid_z_px", "centroid_y_px", "centroid_x_px", "centroid_z_um", "centroid_y_um", "centroid_x_um",
    "bbox_min_z", "bbox_min_y", "bbox_min_x", "bbox_max_z", "bbox_max_y", "bbox_max_x", "touches_border",
    "touches_z_border", "mean_intensity", "min_intensity", "max_intensity", "sum_intensity", "std_intensity",
)
VOLUME_SUMMARY_COLUMNS: tuple[str, ...] = (
    "file", "position", "position_name", "frame", "n_objects", "volume_um3_mean", "volume_um3_sum",
)


def _series_axes(path: Path) -> tuple[str, tuple[int, ...]]:
    with tifffile.TiffFile(path) as tf:
        series = tf.series[0]
        return series.axes, tuple(series.shape)


def is_volume_mask(path: str | Path) -> bool:
    """Whether ``path`` is a TIFF mask with a Z axis of more than one slice (``TZYX`` / ``ZYX``)."""
    try:
        axes, shape = _series_axes(Path(path))
    except Exception:  # noqa: BLE001 - not a readable TIFF: the 2D readers report it
        return False
    return "Z" in axes and shape[axes.index("Z")] > 1


def measure_volume(
    labels: NDArray[Any], image: NDArray[Any] | None, pixel_size: PixelSize, *, file: str = "",
    position: int = 0, frame: int = 0, extra_images: Mapping[str, NDArray[Any]] | None = None,
    position_name: str | None = None, first_z: int = 0,
) -> pd.DataFrame:
    """Object table of one ``(Z, Y, X)`` label volume (volumes in voxels and µm³, 3D centroids).

    ``pixel_size.t`` (s) adds ``time_s`` (``frame`` times it); ``extra_images`` (``{channel: volume}``)
    add ``<stat>_intensity_<channel>`` columns, as in 2D; ``position_name``: the position's name (a well).
    ``first_z``: the input slice of the volume's slice 0, added to the Z centroids and bounding boxes (as
    ``frame`` is an input frame, Z is an input slice; a volume of slices 3-7 has ``bbox_min_z`` 3 or more).
    """
    lab = np.asarray(labels)
    if lab.ndim != 3:
        raise ValueError(f"a label volume is (Z, Y, X), got shape {lab.shape}")
    table = regionprops_table(lab, properties=["label", "area", "centroid", "bbox"])
    ids = np.asarray(table["label"], dtype=np.int64)
    n = len(ids)
    sz, sy, sx = (pixel_size.z, pixel_size.y, pixel_size.x)
    voxel = None if None in (sz, sy, sx) else float(sz) * float(sy) * float(sx)  # type: ignore[arg-type]
    out: dict[str, Any] = {"file": [file] * n, "position": [position] * n,
                           "position_name": name_column(position_name, n), "frame": [frame] * n}
    if pixel_size.t is not None:
        out[TIME_COLUMN] = [frame * float(pixel_size.t)] * n
    out.update({
        "label": ids, "volume_vox": table["area"].astype(np.int64),
        "volume_um3": table["area"] * voxel if voxel is not None else [np.nan] * n,
    })
    offsets = (int(first_z), 0, 0)
    for i, axis in enumerate("zyx"):
        out[f"centroid_{axis}_px"] = table[f"centroid-{i}"] + offsets[i]
    for i, (axis, step) in enumerate((("z", sz), ("y", sy), ("x", sx))):
        centre = table[f"centroid-{i}"] + offsets[i]
        out[f"centroid_{axis}_um"] = centre * float(step) if step is not None else [np.nan] * n
    for i, axis in enumerate("zyx"):
        out[f"bbox_min_{axis}"] = table[f"bbox-{i}"] + offsets[i]
    for i, axis in enumerate("zyx"):
        out[f"bbox_max_{axis}"] = table[f"bbox-{i + 3}"] + offsets[i]

    def touches(axis: int) -> NDArray[Any]:
        return np.asarray((table[f"bbox-{axis}"] == 0) | (table[f"bbox-{axis + 3}"] == lab.shape[axis]))

    out["touches_border"] = touches(1) | touches(2)
    out["touches_z_border"] = touches(0)
    channels: list[tuple[str, NDArray[Any] | None]] = [("", image)]
    channels += [(f"_{name}", img) for name, img in (extra_images or {}).items()]
    out.update(intensity_columns(lab, ids, channels))
    return pd.DataFrame(out)


class VolumeInput:
    """The input volumes of a mask, from its log (``None`` volumes when there is no readable log).

    ``source`` is the opened input (``None`` without a log); close it with :meth:`close`.
    ``position_name``: the log's name of the position, else the input's; ``None`` without a log.
    """

    def __init__(self, mask: Path, log_text: str, extra_channels: Sequence[int | str] = ()) -> None:
        self.source: ImageSource | None = None
        self.position, self.start, self.channel, self.zs = 0, 0, 0, [0]
        self.position_name: str | None = None
        #: ``(name as given, channel index)`` of the extra channels measured (``channels``)
        self.extra: list[tuple[str, int]] = []
        if not log_text.strip():
            return
        try:
            run = parse_log(log_text)
        except (ValueError, KeyError, TypeError):
            return
        if run.input_path is None:
            return
        if not Path(run.input_path).exists():
            raise InputError(f"{mask}: input image {run.input_path} not found (moved? give its new place "
                             "with --image)")
        p = run.params
        check_input(run.input_path, run.input_identity, p, int(run.position or 0), mask,  # (a review: volumes
                    "segment it again, or give the image it was made from (--image)")  # were not checked)
        self.source = open_source(run.input_path, p.axes)
        try:
            channel = resolve_channels(self.source.info, p.channel)
            self.channel = channel if isinstance(channel, int) else channel[0]
            self.zs = volume_z(self.source.info, p.zrange)
            self._resolve_extra(extra_channels)
        except BaseException:
            self.source.close()
            raise
        self.position, self.start = int(run.position or 0), int(p.start_frame)
        names = self.source.info.position_names
        own = names[self.position] if self.position < len(names) else None  # (a log that names none)
        self.position_name = run.position_name or own

    @classmethod
    def from_image(
        cls, mask: Path, image: str | Path, channel: int | str | None = None, z_range: str | None = None,
        start: int | None = None, axes: str | None = None, extra_channels: Sequence[int | str] = (),
    ) -> VolumeInput:
        """The volumes of ``image`` given by hand (a mask without a log, or an input that moved).

        ``channel`` defaults to the first, ``z_range`` to every slice, ``start`` (the input frame of the
        mask's first frame) to 0; position 0.
        """
        if not Path(image).exists():
            raise InputError(f"{mask}: input image {image} not found")
        self = cls(mask, "")
        self.source = open_source(image, axes)
        try:
            self.channel = int(resolve_channel(self.source.info, 0 if channel is None else channel))
            self.zs = volume_z(self.source.info, ZRange.parse(z_range or "all"))
            self._resolve_extra(extra_channels)
        except BaseException:
            self.source.close()
            raise
        self.start = int(start or 0)
        return self

    def _resolve_extra(self, channels: Sequence[int | str]) -> None:
        assert self.source is not None
        self.extra = [(str(c), int(resolve_channel(self.source.info, c))) for c in channels]

    @property
    def first_z(self) -> int:
        """The input slice of the mask's slice 0 (0 without an input: its Z range is not known)."""
        return int(self.zs[0]) if self.source is not None and len(self.zs) else 0

    def volume(self, index: int, channel: int | None = None) -> NDArray[Any] | None:
        """The input volume of the mask's frame ``index`` (``None`` without a log).

        ``channel``: another channel's volume (default: the one segmented).
        """
        if self.source is None:
            return None
        c = self.channel if channel is None else channel
        return np.asarray(self.source.read_zstack(self.position, self.start + index, c, self.zs))

    def close(self) -> None:
        """Release the input file."""
        if self.source is not None:
            self.source.close()


@contextlib.contextmanager
def volume_reader(path: Path) -> Iterator[tuple[int, Callable[[int], NDArray[Any]]]]:
    """``(n_frames, read)`` of a volume mask: ``read(t)`` gives its ``(Z, Y, X)`` volume ``t``, any order."""
    with tifffile.TiffFile(path) as tf:
        series = tf.series[0]
        axes, shape = series.axes, series.shape
        nz, yx = shape[axes.index("Z")], shape[-2:]
        n_t = shape[axes.index("T")] if "T" in axes else 1
        pages = series.pages

        def read(t: int) -> NDArray[Any]:
            vol = np.empty((nz, *yx), dtype=series.dtype)
            for z in range(nz):
                page = pages[t * nz + z]
                if page is None:
                    raise InputError(f"{path}: page {t * nz + z} of the mask is missing")
                vol[z] = page.asarray()
            if vol.dtype.kind not in "ui" or (vol.size and vol.min() < 0):
                raise InputError(f"{path}: frame {t} is not labels (integers >= 0)")
            return vol

        yield int(n_t), read


def mask_volumes(path: Path) -> Iterator[NDArray[Any]]:
    """The ``(Z, Y, X)`` volumes of a mask, one at a time (read page by page)."""
    with volume_reader(path) as (n_t, read):
        for t in range(n_t):
            yield read(t)


class VolumeTable(NamedTuple):
    """The object table of one volume of a mask, and where the volume comes from (also when it is empty)."""

    frame: int
    position: int
    position_name: str | None
    table: pd.DataFrame


def _check_frames(path: Path, source: VolumeInput, n_volumes: int) -> None:
    """:class:`InputError` when the mask's volumes from ``source.start`` on pass the input's last frame."""
    if source.source is None:
        return
    n_t = int(source.source.info.sizes["T"])
    if source.start + n_volumes > n_t:  # (a review: an IndexError from the reader, after work)
        raise InputError(f"{path}: mask has {n_volumes} volume(s) from frame {source.start} but its input "
                         f"{source.source.info.path} has {n_t} frame(s)")


def volume_tables(
    mask: str | Path, file: str = "", channels: Sequence[int | str] = (), image: str | Path | None = None,
    image_channel: int | str | None = None, z_range: str | None = None, start_frame: int | None = None,
    image_axes: str | None = None,
) -> Iterator[VolumeTable]:
    """A :class:`VolumeTable` (frame, position, object table) per volume of a mask, one at a time in memory.

    The input comes from the mask's log, or is ``image`` (with ``image_channel``, ``z_range``,
    ``start_frame``, ``image_axes``: see :meth:`VolumeInput.from_image`); ``channels`` add the
    intensities of other channels of it, as in 2D. A ``start_frame`` given numbers the frames of a mask
    without a log (and picks the input's); with a log and no ``image``, one other than the log's is
    refused, as in 2D.

    Raises
    ------
    InputError
        Extra ``channels`` without an input (no log names one and no ``image``), a volume of the input
        that differs from the mask's, a moved or replaced input.
    """
    path = Path(mask)
    pixel_size = read_mask_pixel_size(path)
    if image is not None:
        source = VolumeInput.from_image(path, image, image_channel, z_range, start_frame, image_axes,
                                        channels)
    else:
        source = VolumeInput(path, read_embedded_log(path), channels)
        if source.source is not None:  # (a log: a start frame other than its own is refused)
            try:
                check_start_frame(path, source.start, start_frame)
            except InputError:
                source.close()
                raise
        if start_frame is not None:  # (a mask without a log)
            source.start = int(start_frame)
    try:
        if channels and source.source is None:
            raise InputError(f"{path}: no input image to measure channel(s) {', '.join(map(str, channels))} "
                             "in: its log names none; give it with --image")
        with volume_reader(path) as (n_volumes, read):
            _check_frames(path, source, n_volumes)
            for i in range(n_volumes):
                labels = read(i)
                image_volume = source.volume(i)
                if image_volume is not None and image_volume.shape != labels.shape:
                    raise InputError(
                        f"{path}: mask volume is {labels.shape} but its input's is {image_volume.shape}")
                extra = {name: v for name, c in source.extra if (v := source.volume(i, c)) is not None}
                frame = source.start + i
                yield VolumeTable(frame, source.position, source.position_name, measure_volume(
                    labels, image_volume, pixel_size, file=file or path.name, position=source.position,
                    frame=frame, extra_images=extra, position_name=source.position_name,
                    first_z=source.first_z))
    finally:
        source.close()


def write_volume_tables(mask: str | Path, objects_csv: Path, summary_csv: Path,
                        **input_options: Any) -> tuple[int, int]:
    """Write the object and summary tables of a volume mask atomically; ``(n_frames, n_objects)``.

    ``input_options``: :func:`volume_tables`' (extra ``channels``, an ``image`` given by hand, ...). A
    known time step adds ``time_s`` to both tables.
    """
    check_writable_dir(objects_csv.parent)
    n_frames = n_objects = 0
    summary: list[dict[str, Any]] = []
    dt = read_mask_pixel_size(Path(mask)).t
    columns = list(VOLUME_SUMMARY_COLUMNS)
    if dt is not None:
        columns.insert(columns.index("frame") + 1, TIME_COLUMN)
    with staged() as stage:  # (a stop before publish_all: the stage's files are removed)
        with atomic_path(objects_csv) as tmp, atomic_path(summary_csv) as tmp_summary:
            with open(tmp, "w", newline="", encoding="utf-8") as fh:
                for i, (frame, position, position_name, table) in enumerate(
                        volume_tables(mask, **input_options)):
                    table.to_csv(fh, header=i == 0, index=False)
                    n_frames, n_objects = n_frames + 1, n_objects + len(table)
                    vols = table["volume_um3"]
                    summary.append({"file": Path(mask).name, "position": position,
                                    "position_name": name_column(position_name, 1)[0], "frame": frame,
                                    "n_objects": len(table),
                                    "volume_um3_mean": float(vols.mean()) if len(table) else np.nan,
                                    "volume_um3_sum": float(vols.sum()) if len(table) else 0.0,
                                    TIME_COLUMN: None if dt is None else frame * float(dt)})
            pd.DataFrame(summary, columns=columns).to_csv(tmp_summary, index=False)
        publish_all(stage, (summary_csv, objects_csv))  # the objects table last (batchseg measure counts it)
    return n_frames, n_objects
