"""napari layer data from and to files, without Qt: the plugin's npe2 reader, writer and sample data.

``_vSM.ome.tif`` masks open as Labels (with their pixel size and time offset), inputs as lazy Images
(one layer per channel), a ``_tracks.csv`` of ``batchseg track`` as a Tracks layer (with its division
graph) over its ``-tracked.ome.tif`` (a Labels layer the Track dock goes on correcting); a Labels
layer is written as a ``_vSM.ome.tif`` mask with a log record (atomic); the sample is a small real
nuclei image shipped in the wheel. The npe2 manifest's entry points name these functions
(``napari.yaml``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from ..errors import AmbiguousAxesError, InputError
from ..io.atomic import atomic_write_text
from ..io.formats import format_of
from ..io.lazy import shared, source_channel_array
from ..io.masks import read_embedded_log, read_mask, write_mask
from ..io.naming import MASK_EXT, MODULE_TAG, log_path_of, named_like_labels
from ..io.reader import open_source, stem_of
from ..io.sources import PixelSize
from ..provenance import RunLog
from ..results import first_frame, first_z_slice, logged_position, logged_position_name

LayerData = tuple[Any, dict[str, Any], str]
CHANNEL_COLORMAPS = ("gray", "green", "magenta", "cyan", "yellow", "red", "blue")

#: key of this plugin's entry in ``layer.metadata``
META_KEY = "batchseg"


def layer_meta(layer: Any) -> dict[str, Any]:
    """The ``batchseg`` entry of a layer's metadata (empty dict when none)."""
    try:
        return layer.metadata.get(META_KEY) or {}
    except AttributeError:
        return {}


def path_text(path: str | Path) -> str:
    """A path as the docks compare them without disk access: absolute and normalised (not resolved)."""
    return os.path.normpath(os.path.abspath(path))


def mark_rewritten(layers: Iterable[Any], masks: Iterable[str | Path], reason: str) -> list[str]:
    """Layers showing a mask file stop saving into it: the file was rewritten under them.

    ``masks``: the file's names (as written, and resolved: layers opened from a file hold its resolved
    path, streamed ones the path as written; a review: a symlinked folder told them apart). Their data
    stays as it is (it may hold edits); ``mask_path`` leaves their metadata and ``stale`` says why, so
    that saving their corrections cannot silently replace the new mask (a walk: Re-threshold's Apply
    with Overwrite). Paths are compared as text (no disk access here). Returns the layers' names.
    """
    targets = {path_text(m) for m in masks}
    names = []
    for layer in layers:
        meta = layer_meta(layer)
        shown = meta.get("mask_path")
        if shown and path_text(str(shown)) in targets:
            meta["mask_path"], meta["stale"] = None, reason
            names.append(str(layer.name))
    return names


def first_input_frame(meta: Mapping[str, Any]) -> int:
    """The input frame of a result layer's frame 0, from its ``batchseg`` metadata (0 when not said)."""
    return int(meta.get("first_frame") or 0)


def first_input_slice(meta: Mapping[str, Any]) -> int:
    """The input slice of a volume result layer's slice 0 (a ``--z-range`` run's), from its metadata."""
    return int(meta.get("first_z") or 0)


def input_origin(meta: Mapping[str, Any]) -> tuple[int, int]:
    """``(first frame, first slice)``: the input frame and slice of a result layer's first ones."""
    return first_input_frame(meta), first_input_slice(meta)


def is_volume_result(meta: Mapping[str, Any]) -> bool:
    """Whether a Labels layer's ``batchseg`` metadata says it shows volumes (a ``z_mode`` 3d/stitch run's).

    Said by the reader (``volume``: the mask file is a volume mask). Not said (a drawn layer, a 2D result):
    ``False``. A layer's number of dimensions alone does not tell: a ``(T, Y, X)`` time series of 5 frames
    and one ``(Z, Y, X)`` volume of 5 slices look alike (a review: the first was taken as the second).
    """
    return bool(meta.get("volume"))


def is_kind(layer: Any, kind: str) -> bool:
    """Whether ``layer`` is a napari ``kind`` layer (``"Labels"``, ``"Image"``, ``"Tracks"``), a subclass too.

    By class name along ``layer.__class__``'s MRO (no napari import). ``__class__``, not ``type()``:
    napari hands a plugin's dock a proxy of the viewer, whose layers are proxies too; a proxy's
    ``type()`` is the proxy class, its ``__class__`` the layer's.
    """
    return any(c.__name__ == kind for c in layer.__class__.__mro__)


def is_mask_file(path: str | Path) -> bool:
    """Whether ``path`` is named like one of this tool's masks (``..._vSM[-suffix].ome.tif``)."""
    name = Path(path).name
    return name.lower().endswith(MASK_EXT) and MODULE_TAG in name[: -len(MASK_EXT)]


def yx_scale(pixel_size: PixelSize) -> tuple[float, float]:
    """``(y, x)`` layer scale in µm (1 where unknown)."""
    return (pixel_size.y or 1.0, pixel_size.x or 1.0)


def tyx_scale(pixel_size: PixelSize) -> tuple[float, float, float]:
    """``(t, y, x)`` layer scale: the time step in s, the pixel size in µm (1 where unknown)."""
    return (pixel_size.t or 1.0, *yx_scale(pixel_size))


def axis_scale(axes: str, pixel_size: PixelSize) -> tuple[float, ...]:
    """Layer scale of each of ``axes`` (letters of ``P T Z Y X``): s for T, µm for Z/Y/X, 1 where unknown."""
    known = {"T": pixel_size.t, "Z": pixel_size.z, "Y": pixel_size.y, "X": pixel_size.x}
    return tuple(float(known.get(a) or 1.0) for a in axes)


def axis_units(axes: str, pixel_size: PixelSize) -> tuple[str, ...]:
    """Layer units of ``axes``: ``second`` for a known time step, ``µm`` for known lengths, else ``pixel``.

    Y and X share one unit (µm only when both are known), so a half-calibrated image is not drawn
    with two different units.
    """
    spatial = "µm" if pixel_size.x and pixel_size.y else "pixel"
    units = {"T": "second" if pixel_size.t else "pixel", "Z": "µm" if pixel_size.z else "pixel",
             "Y": spatial, "X": spatial}
    return tuple(units.get(a, "pixel") for a in axes)


def readable(path: str | Path) -> bool:
    """Whether ``path`` is a file of a format this installation reads.

    The manifest claims ``*.h5``, ``*.czi`` and ``*.lif`` whatever is installed; a format whose reader
    modules are missing (:meth:`~napari_batchseg.io.formats.Format.available`) is left to other plugins.
    """
    fmt = format_of(path)
    return fmt is not None and fmt.available() and not Path(path).is_dir()


#: how a tracks table's name ends, and the header columns a Tracks layer needs
#: (:data:`napari_batchseg.tracking.files.TRACKS_SUFFIX`, ``EDIT_COLUMNS``; kept equal by a test): the
#: tracking modules, and pandas, are imported only to read a file that has them
TRACKS_SUFFIX = "_tracks.csv"
TRACKS_HEADER = ("track_id", "parent_track_id", "frame", "label", "centroid_y_px", "centroid_x_px")


def is_tracks_file(path: str | Path) -> bool:
    """Whether ``path`` is a ``..._tracks.csv`` whose header has the tracks columns a Tracks layer needs.

    Only the first line is read: a CSV of another kind is left to other readers.
    """
    p = Path(path)
    if not p.name.endswith(TRACKS_SUFFIX) or not p.is_file():
        return False
    try:
        with p.open(encoding="utf-8-sig", errors="replace") as fh:  # -sig: Excel's byte-order mark
            header = {c.strip().strip('"') for c in fh.readline().split(",")}
    except OSError:
        return False
    return set(TRACKS_HEADER) <= header


def napari_get_reader(path: str | list[str]) -> Callable[[Any], list[LayerData]] | None:
    """Return a reader when every path is a file of an installed format, a mask or a tracks table.

    ``None`` otherwise (napari then tries other readers).
    """
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    if not paths or not all(is_tracks_file(p) or (readable(p) and not _ambiguous(p)) for p in paths):
        return None
    return read_paths


def _ambiguous(path: str | Path) -> bool:
    """Whether an input TIFF's axes cannot be told from it (e.g. a plain stack of pages).

    Such a file is left to napari's own readers: File > Open has nowhere to say what its axes are (the
    Batch segmentation dock's file list does). Its metadata is read to know (a header, not pixels).
    """
    fmt = format_of(path)
    if is_mask_file(path) or fmt is None or fmt.kind != "tiff":  # napari reads TIFFs, not ND2 or HDF5:
        return False  # for those the reader's error (naming the dock's axes control) is the better answer
    try:
        with open_source(path):
            return False
    except AmbiguousAxesError:
        return True
    except Exception:  # noqa: BLE001 - any other problem is said by the reader, which napari then runs
        return False


def read_paths(path: str | list[str]) -> list[LayerData]:
    """Read masks, tracks tables and input files into napari layer data tuples."""
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    layers: list[LayerData] = []
    for p in paths:
        if str(p).endswith(TRACKS_SUFFIX):
            layers.extend(tracks_file_layer_data(p))
        else:
            layers.extend(mask_layer_data(p) if is_mask_file(p) else image_layer_data(p))
    return layers


def _table_pixel_size(table: Any) -> PixelSize:
    """The pixel size (µm) and time step (s) a tracks table implies (its µm and ``time_s`` columns)."""

    def ratio(num: str, den: str) -> float | None:
        if num not in table.columns:
            return None
        n, d = table[num].to_numpy(float), table[den].to_numpy(float)
        ok = np.isfinite(n) & np.isfinite(d) & (d != 0)
        return float(np.median(n[ok] / d[ok])) if ok.any() else None

    return PixelSize(x=ratio("centroid_x_um", "centroid_x_px"), y=ratio("centroid_y_um", "centroid_y_px"),
                     t=ratio("time_s", "frame"))


def tracks_file_layer_data(path: str | Path) -> list[LayerData]:
    """A ``_tracks.csv`` as a Tracks layer, over its ``-tracked.ome.tif`` as a Labels layer when present.

    The Tracks layer (rows ``track_id, t, y, x``, the division graph) has the tracked mask's scale and
    translate, so it sits over it (without the tracked mask: the scale its µm and ``time_s`` columns
    imply). The Labels layer's metadata names the tracks table and the mask that was tracked
    (``tracks_csv``, ``tracked_from``): the Track dock reads the saved tracks from them to go on
    correcting (:func:`~napari_batchseg.tracking.files.read_saved_tracks`).

    Raises
    ------
    InputError
        The file is not a tracks table (names the file and the missing columns), or has no rows.
    """
    from ..tracking.files import EDIT_COLUMNS, read_tracks, tracked_source, tracks_siblings
    from .tracks import tracks_table_layer_data

    csv = Path(path)
    table = read_tracks(csv, EDIT_COLUMNS)
    if table.empty:  # napari's Tracks layer cannot hold no track
        raise InputError(f"{csv}: no tracks (the table has a header but no rows): nothing to show")
    tracked = tracks_siblings(csv)[0]
    layers: list[LayerData] = []
    start = 0
    common: dict[str, Any] = {}
    if tracked.is_file():
        labels, kwargs, kind = mask_layer_data(tracked)[0]
        meta = kwargs["metadata"][META_KEY]
        source = tracked_source(csv)
        meta.update(role="tracked", tracks_csv=str(csv.resolve()),
                    tracked_from=str(source.resolve()) if source is not None else None)
        layers.append((labels, kwargs, kind))
        if np.ndim(labels) == 3:
            start = int(meta["first_frame"])
            common = {k: kwargs[k] for k in ("scale", "translate", "units", "axis_labels")}
    if not common:
        ps = _table_pixel_size(table)
        common = {"scale": tyx_scale(ps), "units": axis_units("TYX", ps), "axis_labels": ("T", "Y", "X")}
    data, graph = tracks_table_layer_data(table, start)
    meta_tracks = {META_KEY: {"role": "tracks", "tracks_csv": str(csv.resolve())}}
    layers.append((data, {"name": stem_of(csv), "graph": graph, "tail_length": 10, "metadata": meta_tracks,
                          **common}, "tracks"))
    return layers


def mask_layer_data(path: str | Path) -> list[LayerData]:
    """A mask as one Labels layer: ``(T, Y, X)``, or ``(Y, X)`` for a single frame of a still image.

    A volume mask (``z_mode`` 3d/stitch, :attr:`~napari_batchseg.io.masks.MaskFile.is_volume`) is
    ``(T, Z, Y, X)`` with Z scaled by the mask's Z step (µm), whatever its number of time points, and its
    first slice at the input's slice it was made from (a ``--z-range`` run).

    A mask of frames 40-44 of a time series sits at T = 40-44 (``translate``), over the frames of its
    input opened beside it; the start frame is read from the mask's embedded log. T is scaled in
    seconds when the mask records its input's time increment (as the input's layers are), Y and X in µm.
    """
    mask = read_mask(path)
    start = first_frame(mask.log_text)
    if mask.is_volume:
        labels, axes = mask.labels, "TZYX"
    else:
        labels = mask.labels[0] if mask.labels.shape[0] == 1 and start == 0 else mask.labels
        axes = "TYX" if labels.ndim == 3 else "YX"
    scale = axis_scale(axes, mask.pixel_size)
    translate: tuple[float, ...] = (0.0,) * len(axes)
    if axes[0] == "T":
        translate = (float(start) * scale[0], *translate[1:])
    if mask.is_volume:  # a --z-range run: its first slice sits at the input's slice, as T at its frame
        translate = (translate[0], float(first_z_slice(mask.log_text)) * scale[1], *translate[2:])
    meta = {
        META_KEY: {
            "role": "mask",
            "mask_path": str(Path(path).resolve()),
            "pixel_size": mask.pixel_size.as_dict(),
            "first_frame": start,
            "first_z": first_z_slice(mask.log_text) if mask.is_volume else 0,
            "volume": mask.is_volume,  # (is_volume_result: what its shape alone does not say)
            "position": logged_position(mask.log_text),
            "position_name": logged_position_name(mask.log_text),
        }
    }
    units = axis_units(axes, mask.pixel_size)
    kwargs = {"name": stem_of(path), "scale": scale, "translate": translate, "metadata": meta, "units": units}
    if axes[0] == "T":
        kwargs["axis_labels"] = tuple(axes)
    return [(labels, kwargs, "labels")]


def image_layer_data(path: str | Path) -> list[LayerData]:
    """An input file as one lazy Image layer per channel (axes P, T, Z shown only when > 1)."""
    source = open_source(path)
    info = source.info
    owner = shared(source)
    lead = "".join(a for a in "PTZ" if info.sizes[a] > 1)
    ps = info.pixel_size
    scale = axis_scale(f"{lead}YX", ps)
    units = axis_units(f"{lead}YX", ps)
    n_c = info.sizes["C"]
    stem = stem_of(path)
    out: list[LayerData] = []
    for c in range(n_c):
        data = source_channel_array(owner, c, lead)
        name = stem if n_c == 1 else f"{stem} [{info.channel_names[c]}]"
        meta = {META_KEY: {"role": "input", "source": str(Path(path).resolve()), "channel": c}}
        kwargs: dict[str, Any] = {
            "name": name,
            "scale": scale,
            "metadata": meta,
            "axis_labels": (*lead, "Y", "X"),
            "units": units,
        }
        if n_c == 1 and named_like_labels(path) and np.issubdtype(np.dtype(info.dtype), np.integer):
            meta[META_KEY]["role"] = "labels"  # a ground truth or another tool's masks: Labels (a walk:
            out.append((data, kwargs, "labels"))  # they opened as images, which Evaluate does not offer)
            continue
        if n_c > 1:
            kwargs["colormap"] = CHANNEL_COLORMAPS[c % len(CHANNEL_COLORMAPS)]
            kwargs["blending"] = "additive"
        out.append((data, kwargs, "image"))
    return out


# ---------------------------------------------------------------------- writer


def mask_path_for(path: str | Path) -> Path:
    """``path`` made a mask name: ``.ome.tif`` ending, ``_vSM`` before it (added when missing)."""
    p = Path(path)
    name = p.name
    base = name[: -len(MASK_EXT)] if name.lower().endswith(MASK_EXT) else stem_of(name)
    if MODULE_TAG not in base:
        base += MODULE_TAG
    return p.with_name(base + MASK_EXT)


def _pixel_size(meta: dict[str, Any], volume: bool = False) -> PixelSize:
    ours = (meta.get("metadata") or {}).get(META_KEY) or {}
    if ours.get("pixel_size"):
        return PixelSize(**ours["pixel_size"])
    scale = meta.get("scale")
    if scale is not None and len(scale) >= 2 and (scale[-1] != 1 or scale[-2] != 1):
        z = float(scale[-3]) if volume and len(scale) >= 3 and scale[-3] != 1 else None
        return PixelSize(x=float(scale[-1]), y=float(scale[-2]), z=z)
    return PixelSize()


def write_labels(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """Write one Labels layer to ``<name>_vSM.ome.tif`` and its ``.log``.

    ``(Y, X)`` and ``(T, Y, X)`` layers give a 2D mask, ``(T, Z, Y, X)`` layers (volume runs) a volume mask.
    """
    arr = np.asarray(data)
    if arr.ndim not in (2, 3, 4):
        raise ValueError(f"a mask must be (Y, X), (T, Y, X) or (T, Z, Y, X); this layer's shape: {arr.shape}")
    if arr.dtype.kind not in "ui":
        arr = arr.astype(np.int64)
    target = mask_path_for(path)
    ours = (meta.get("metadata") or {}).get(META_KEY) or {}
    earlier = ""
    source_mask = ours.get("mask_path")
    if source_mask and Path(source_mask).exists():
        earlier = read_embedded_log(source_mask)
    log = RunLog(module="napari")
    log.info(f"labels layer {meta.get('name', '')!r} saved from napari to {target}")
    if source_mask:
        log.info(f"layer was opened from {source_mask}")
    text = (earlier.rstrip("\n") + "\n" if earlier.strip() else "") + "\n".join(log.records) + "\n"
    write_mask(target, arr, _pixel_size(meta, arr.ndim == 4), text, volume=arr.ndim == 4)
    log_path = log_path_of(target)
    atomic_write_text(log_path, text)
    return [str(target)]


# ---------------------------------------------------------------------- sample data

DATA = Path(__file__).resolve().parents[1] / "_data"
ATTRIBUTION = (
    "DSB2018 nuclei image (Kaggle 2018 Data Science Bowl, stage 1 training set, CC0), "
    "as shipped with stardist 0.9.2 (BSD-3-Clause)"
)


def nuclei_sample() -> list[tuple[Any, dict[str, Any], str]]:
    """The 512x512 nuclei image and its ground-truth labels (hidden)."""
    meta = {META_KEY: {"role": "sample", "attribution": ATTRIBUTION}}
    return [
        (tifffile.imread(DATA / "dsb2018_nuclei.tif"), {"name": "nuclei_BF", "metadata": meta}, "image"),
        (
            tifffile.imread(DATA / "dsb2018_nuclei_masks.tif").astype("uint16"),
            {"name": "nuclei ground truth", "metadata": meta, "visible": False},
            "labels",
        ),
    ]
