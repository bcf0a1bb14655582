"""Per-object measurements of label masks: one table row per object per frame, one summary row per frame.

The core is :func:`measure_labels` (one ``(Y, X)`` label frame and its intensity image -> a
:class:`pandas.DataFrame` with the :data:`OBJECT_COLUMNS` contract). :func:`measure_file` streams a whole
``_vSM.ome.tif`` frame by frame: the input image and its preparation (channel, Z range, projection, frames,
position) come from the mask's embedded log, and it writes ``<mask base>_objects.csv`` and
``<mask base>_summary.csv`` atomically. Memory stays bounded by a few frames whatever the movie length.

Background (label 0) is never an object. Physical columns (µm, µm²) are NaN -- empty in the CSV -- when
the pixel size is unknown; perimeters in µm need square pixels. When the input's time increment is known,
both tables get a ``time_s`` column after ``frame``: ``frame`` (the input frame) times the increment.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from skimage.measure import regionprops_table

from ._columns import INTENSITY_STATS, TIME_COLUMN, intensity_columns, name_column
from ._labels import LabelStack, PreparedImage, SourceSpec, mask_base, open_mask_stack, resolve_source
from .errors import InputError, OutputError
from .io.arrays import one_path
from .io.atomic import atomic_path, check_writable_dir, publish_all, staged
from .io.naming import name_too_long
from .io.sources import PixelSize
from .measure_3d import is_volume_mask, volume_tables, write_volume_tables
from .results import first_frame
from .tracking.run import as_pixel_size
from .tracking.summary import add_track_ids, track_summary, track_summary_path, tracks_at, tracks_for

__all__ = [
    "INTENSITY_STATS",
    "OBJECT_COLUMNS",
    "SUMMARY_COLUMNS",
    "TIME_COLUMN",
    "MeasureResult",
    "iter_frame_tables",
    "measure_file",
    "measure_frames",
    "measure_labels",
    "measure_table",
    "measurement_paths",
    "summarize_frame",
]

#: Columns of the per-object table, in order (extra channels add ``<stat>_intensity_<channel>``; a known
#: time increment adds :data:`TIME_COLUMN` after ``frame``).
OBJECT_COLUMNS: tuple[str, ...] = (
    "file", "position", "position_name", "frame", "label", "area_px", "area_um2", "centroid_y_px",
    "centroid_x_px", "centroid_y_um", "centroid_x_um", "bbox_min_y", "bbox_min_x", "bbox_max_y", "bbox_max_x",
    "perimeter_px", "perimeter_um", "eccentricity", "solidity", "major_axis_px", "minor_axis_px",
    "orientation", "touches_border", "mean_intensity", "min_intensity", "max_intensity",
    "sum_intensity", "std_intensity",
)
_AREA_STATS: tuple[str, ...] = ("min", "max", "mean", "median", "std", "sum")
#: Columns of the per-frame summary.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "file", "position", "position_name", "frame", "n_objects",
    *(f"area_px_{s}" for s in _AREA_STATS), *(f"area_um2_{s}" for s in _AREA_STATS),
)
_SHAPE_PROPS = (
    "label", "area", "centroid", "bbox", "perimeter", "eccentricity", "solidity",
    "axis_major_length", "axis_minor_length", "orientation",
)


def measure_labels(
    labels: NDArray[Any],
    image: NDArray[Any] | None = None,
    pixel_size: PixelSize | tuple[float | None, float | None] | float | None = None,
    extra_images: Mapping[str, NDArray[Any]] | None = None,
    file: str = "",
    position: int = 0,
    frame: int = 0,
    position_name: str | None = None,
) -> pd.DataFrame:
    """Measure every object of one ``(Y, X)`` label frame.

    Parameters
    ----------
    labels
        Integer labels, 0 = background (never an object).
    image
        Intensity image of the same shape (the prepared frame that was segmented); ``None`` leaves the
        intensity columns empty.
    pixel_size
        :class:`PixelSize` in µm, ``(y, x)`` or one number (square pixels); unknown (``None``) leaves the
        physical columns empty.
        A :class:`PixelSize` with a time increment ``t`` (s) adds a ``time_s`` column (``frame * t``).
    extra_images
        ``{channel: image}``: adds ``mean_intensity_<channel>`` (and min, max, sum, std) columns.
    file, position, frame, position_name
        Values of the identifying columns (``position_name``: the position's name, a well or a scene;
        ``None`` when not known: NaN, an empty cell in the CSV).

    Returns
    -------
    pandas.DataFrame
        One row per object, columns :data:`OBJECT_COLUMNS` (+ ``time_s``, + extra channel columns).

    Raises
    ------
    ValueError
        ``labels`` not 2D, not integers, or negative.
    """
    lab = np.asarray(labels)
    if lab.ndim != 2:
        raise ValueError(f"labels must be 2D (Y, X), got shape {lab.shape}")
    if lab.dtype.kind not in "ui":
        raise ValueError(f"labels must be integers, got {lab.dtype}")
    if lab.dtype.kind == "i" and lab.size and lab.min() < 0:  # (regionprops measured them as none)
        raise ValueError(f"labels must be >= 0 (0 is background), got values down to {lab.min()}")
    ps = as_pixel_size(pixel_size)
    py, px, dt = ps.y, ps.x, ps.t
    props = regionprops_table(lab, properties=_SHAPE_PROPS)
    ids = np.asarray(props["label"], dtype=np.int64)
    n = len(ids)
    ny, nx = lab.shape
    nan = np.full(n, np.nan)
    known = py is not None and px is not None
    sy = float(py) if py is not None else math.nan
    sx = float(px) if px is not None else math.nan
    area = np.asarray(props["area"], dtype=np.float64)
    table: dict[str, object] = {
        "file": [file] * n,
        "position": np.full(n, position, dtype=np.int64),
        "position_name": name_column(position_name, n),
        "frame": np.full(n, frame, dtype=np.int64),
        **({TIME_COLUMN: np.full(n, frame * float(dt))} if dt is not None else {}),
        "label": ids,
        "area_px": area.astype(np.int64),
        "area_um2": area * sy * sx if known else nan,
        "centroid_y_px": props["centroid-0"],
        "centroid_x_px": props["centroid-1"],
        "centroid_y_um": props["centroid-0"] * sy if known else nan,
        "centroid_x_um": props["centroid-1"] * sx if known else nan,
        "bbox_min_y": props["bbox-0"],
        "bbox_min_x": props["bbox-1"],
        "bbox_max_y": props["bbox-2"],
        "bbox_max_x": props["bbox-3"],
        "perimeter_px": props["perimeter"],
        # regionprops' perimeter supports square pixels only: elsewhere the µm perimeter stays empty
        "perimeter_um": props["perimeter"] * sx if known and math.isclose(sy, sx) else nan,
        "eccentricity": props["eccentricity"],
        "solidity": props["solidity"],
        "major_axis_px": props["axis_major_length"],
        "minor_axis_px": props["axis_minor_length"],
        "orientation": props["orientation"],
        "touches_border": (props["bbox-0"] == 0) | (props["bbox-1"] == 0)
        | (props["bbox-2"] == ny) | (props["bbox-3"] == nx),
    }
    channels: list[tuple[str, NDArray[Any] | None]] = [("", image)]
    channels += [(f"_{name}", img) for name, img in (extra_images or {}).items()]
    table.update(intensity_columns(lab, ids, channels))
    return pd.DataFrame(table)


def summarize_frame(
    objects: pd.DataFrame, file: str = "", position: int = 0, frame: int = 0,
    time_s: float | None = None, position_name: str | None = None,
) -> dict[str, Any]:
    """One summary row (:data:`SUMMARY_COLUMNS`, with ``time_s`` after ``frame`` when given) of one frame."""
    row: dict[str, object] = {"file": file, "position": position,
                              "position_name": name_column(position_name, 1)[0], "frame": frame}
    if time_s is not None:
        row[TIME_COLUMN] = time_s
    row["n_objects"] = len(objects)
    for col, prefix in (("area_px", "area_px"), ("area_um2", "area_um2")):
        values = objects[col].to_numpy(dtype=np.float64) if len(objects) else np.empty(0)
        values = values[~np.isnan(values)]
        for s in _AREA_STATS:
            if not values.size:
                row[f"{prefix}_{s}"] = 0.0 if s == "sum" and prefix == "area_px" else np.nan
            elif s == "std":
                row[f"{prefix}_{s}"] = float(np.std(values, ddof=1)) if values.size > 1 else np.nan
            else:
                row[f"{prefix}_{s}"] = float(getattr(np, s)(values))
    return row


def summary_columns(timed: bool) -> list[str]:
    """:data:`SUMMARY_COLUMNS`, with ``time_s`` after ``frame`` when ``timed``."""
    cols = list(SUMMARY_COLUMNS)
    if timed:
        cols.insert(cols.index("frame") + 1, TIME_COLUMN)
    return cols


def measurement_paths(mask: str | Path, output_dir: str | Path | None = None) -> tuple[Path, Path]:
    """``(<base>_objects.csv, <base>_summary.csv)`` for a mask, beside it or in ``output_dir``."""
    mask = Path(mask)
    folder = Path(output_dir) if output_dir else mask.parent
    base = mask_base(mask)
    return folder / f"{base}_objects.csv", folder / f"{base}_summary.csv"


def iter_frame_tables(
    mask: LabelStack, prepared: PreparedImage | None, file: str = ""
) -> Iterator[pd.DataFrame]:
    """Object table of each frame of an open mask, one frame in memory at a time."""
    spec = prepared.spec if prepared is not None else SourceSpec(image=Path())
    pixel_size = prepared.pixel_size if prepared is not None else mask.pixel_size
    for i in range(mask.n_frames):
        labels = mask.frame(i)
        image, extras = prepared.frame(i) if prepared is not None else (None, {})
        yield measure_labels(
            labels, image, pixel_size, extras, file=file or mask.path.name,
            position=spec.position, frame=spec.start_frame + i, position_name=spec.position_name,
        )


@dataclass
class MeasureResult:
    """What :func:`measure_file` wrote."""

    mask: Path
    objects_csv: Path
    summary_csv: Path
    image: Path
    n_frames: int
    n_objects: int
    #: ``<base>_track_summary.csv`` when the mask has tracks (``batchseg track``), else ``None``
    track_summary_csv: Path | None = None


def measure_file(
    mask: str | Path,
    channels: Sequence[int | str] = (),
    output_dir: str | Path | None = None,
    image: str | Path | None = None,
    image_channel: int | str | None = None,
    z_range: str | None = None,
    z_projection: str | None = None,
    start_frame: int | None = None,
    overwrite: bool = False,
    axes: str | None = None,
    image_axes: str | None = None,
    force_labels: bool = False,
    tracks: str | Path | Literal[False] | None = None,
) -> MeasureResult:
    """Measure every object of every frame of a mask file and write the two CSV tables.

    Parameters
    ----------
    mask
        A ``_vSM.ome.tif`` (or any integer label TIFF with ``image`` given).
    channels
        Extra channels (index or name) to measure intensities in, with the same Z preparation.
    output_dir
        Where the CSVs go (default: beside the mask).
    image, image_channel, z_range, z_projection, start_frame
        Override what the mask's log says (required when it has no readable log: ``image`` always,
        ``image_channel`` for multichannel images, ``z_range``/``z_projection`` for Z stacks).
    overwrite
        Replace existing tables (otherwise an existing table is an error and nothing is written).
    axes, image_axes
        Axes overrides of the mask and of the image (plain multi-page TIFFs: ``"TYX"``).
    force_labels
        Use a mask without a log even where it looks like an intensity image.
    tracks
        A ``_tracks.csv`` of the mask (default: ``<base>_tracks.csv`` beside it when present): object
        rows gain ``track_id`` and ``<base>_track_summary.csv`` is written (one row per track).
        ``False``: no tracks, even when they are beside the mask.

    Returns
    -------
    MeasureResult
        Paths written and counts.

    Raises
    ------
    InputError
        Bad mask (not integer labels, negative values), missing/mismatched image, missing log.
    OutputError
        Output exists (without ``overwrite``) or its folder is not writable.
    """
    mask = Path(one_path(mask))  # (np.array("a.tif") is one path)
    if mask.is_dir():  # (was "unsupported file type (no extension)")
        raise InputError(f"{mask}: a folder, not a mask file; measure each of its masks (batchseg measure "
                         "takes folders)")
    objects_csv, summary_csv = measurement_paths(mask, output_dir)
    if too_long := name_too_long(mask, (objects_csv, summary_csv), "give it a shorter name"):
        raise OutputError(too_long)
    track_table = tracks_for(mask, tracks)
    track_csv = track_summary_path(mask, output_dir) if track_table is not None else None
    if track_csv is not None and (too_long := name_too_long(mask, (track_csv,), "give it a shorter name")):
        raise OutputError(too_long)  # (the longest name: only a mask with tracks writes it)
    if not overwrite:
        existing = [str(p) for p in (objects_csv, summary_csv, track_csv) if p is not None and p.exists()]
        if existing:
            raise OutputError(
                f"{mask}: {', '.join(existing)} exist(s); pass --overwrite (API: overwrite=True) to replace"
            )
    if is_volume_mask(mask):  # TZYX (z_mode 3d/stitch): volumes in µm³, 3D centroids (measure_3d)
        n_frames, n_objects = write_volume_tables(
            mask, objects_csv, summary_csv, channels=channels, image=image, image_channel=image_channel,
            z_range=z_range, start_frame=start_frame, image_axes=image_axes)
        return MeasureResult(mask, objects_csv, summary_csv, Path(), n_frames, n_objects)
    with open_mask_stack(mask, axes, force_labels) as stack:
        spec = resolve_source(
            stack, image, image_channel, z_range, z_projection, start_frame, image_axes=image_axes
        )
        track_table = tracks_at(track_table, first_frame(stack.log_text), spec.start_frame)
        with PreparedImage(stack, spec, channels) as prepared:
            check_writable_dir(objects_csv.parent)
            n_objects = 0
            summary: list[dict[str, Any]] = []
            dt = prepared.pixel_size.t
            with staged() as stage:  # (a stop before publish_all: the stage's files are removed)
                with atomic_path(objects_csv) as tmp, atomic_path(summary_csv) as tmp_summary:
                    with open(tmp, "w", newline="", encoding="utf-8") as fh:
                        for i, table in enumerate(iter_frame_tables(stack, prepared, mask.name)):
                            if track_table is not None:
                                table = add_track_ids(table, track_table)
                            table.to_csv(fh, header=i == 0, index=False)
                            n_objects += len(table)
                            frame = spec.start_frame + i
                            summary.append(summarize_frame(
                                table, mask.name, spec.position, frame, None if dt is None else frame * dt,
                                spec.position_name))
                    columns = summary_columns(dt is not None)
                    pd.DataFrame(summary, columns=columns).to_csv(tmp_summary, index=False)
                    if track_table is not None and track_csv is not None:
                        px = prepared.pixel_size
                        with atomic_path(track_csv) as tmp_tracks:
                            track_summary(track_table, px.x * px.y if px.x and px.y else None).to_csv(
                                tmp_tracks, index=False)
                # together, the objects table last (batchseg measure counts it)
                publish_all(stage, [p for p in (track_csv, summary_csv, objects_csv) if p is not None])
    return MeasureResult(mask, objects_csv, summary_csv, spec.image, stack.n_frames, n_objects, track_csv)


def measure_table(
    mask: str | Path,
    channels: Sequence[int | str] = (),
    image: str | Path | None = None,
    image_channel: int | str | None = None,
    z_range: str | None = None,
    z_projection: str | None = None,
    start_frame: int | None = None,
    axes: str | None = None,
    image_axes: str | None = None,
    force_labels: bool = False,
    tracks: str | Path | Literal[False] | None = None,
) -> pd.DataFrame:
    """The object table of a mask file in memory (as :func:`measure_file` computes it, nothing written).

    ``tracks``: as :func:`measure_file`'s (the mask's ``_tracks.csv`` beside it, when present, adds
    ``track_id``).

    Raises
    ------
    InputError
        As :func:`measure_file`.
    """
    mask = Path(mask)
    if is_volume_mask(mask):  # TZYX (z_mode 3d/stitch): volumes in µm³, 3D centroids (measure_3d)
        volumes = volume_tables(mask, channels=channels, image=image, image_channel=image_channel,
                                z_range=z_range, start_frame=start_frame, image_axes=image_axes)
        return pd.concat([volume.table for volume in volumes], ignore_index=True)
    track_table = tracks_for(mask, tracks)
    with open_mask_stack(mask, axes, force_labels) as stack:
        spec = resolve_source(
            stack, image, image_channel, z_range, z_projection, start_frame, image_axes=image_axes
        )
        track_table = tracks_at(track_table, first_frame(stack.log_text), spec.start_frame)
        with PreparedImage(stack, spec, channels) as prepared:
            tables = [table if track_table is None else add_track_ids(table, track_table)
                      for table in iter_frame_tables(stack, prepared, mask.name)]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=list(OBJECT_COLUMNS))


def measure_frames(
    labels: NDArray[Any],
    image: NDArray[Any] | None = None,
    pixel_size: PixelSize | tuple[float | None, float | None] | float | None = None,
    file: str = "",
) -> pd.DataFrame:
    """Object table of a ``(Y, X)`` or ``(T, Y, X)`` label array in memory (e.g. a napari layer)."""
    lab = np.asarray(labels)
    img = None if image is None else np.asarray(image)
    if lab.ndim == 2:
        return measure_labels(lab, img, pixel_size, file=file)
    tables = [
        measure_labels(np.asarray(lab[t]), None if img is None else np.asarray(img[t], np.float32),
                       pixel_size, file=file, frame=t)
        for t in range(lab.shape[0])
    ]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=list(OBJECT_COLUMNS))
