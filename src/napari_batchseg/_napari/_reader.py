"""npe2 reader: ``_vSM.ome.tif`` masks open as Labels (with their pixel size), inputs as lazy Images."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..io.formats import format_of
from ..io.lazy import shared, source_channel_array
from ..io.masks import read_mask
from ..io.naming import MASK_EXT, MODULE_TAG
from ..io.reader import open_source, stem_of
from ..io.sources import PixelSize
from ..results import first_frame

LayerData = tuple[Any, dict[str, Any], str]
CHANNEL_COLORMAPS = ("gray", "green", "magenta", "cyan", "yellow", "red", "blue")

#: key of this plugin's entry in ``layer.metadata``
META_KEY = "batchseg"


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


def napari_get_reader(path: str | list[str]) -> Callable[[Any], list[LayerData]] | None:
    """Return a reader when every path is a file of an installed format (masks included), else ``None``."""
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    if not paths or not all(readable(p) for p in paths):
        return None
    return read_paths


def read_paths(path: str | list[str]) -> list[LayerData]:
    """Read masks and input files into napari layer data tuples."""
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    layers: list[LayerData] = []
    for p in paths:
        layers.extend(mask_layer_data(p) if is_mask_file(p) else image_layer_data(p))
    return layers


def mask_layer_data(path: str | Path) -> list[LayerData]:
    """A mask as one Labels layer: ``(T, Y, X)``, or ``(Y, X)`` for a single frame of a still image.

    A volume mask (``z_mode`` 3d/stitch, :attr:`~napari_batchseg.io.masks.MaskFile.is_volume`) is
    ``(T, Z, Y, X)`` with Z scaled by the mask's Z step (µm), whatever its number of time points.

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
    meta = {
        META_KEY: {
            "role": "mask",
            "mask_path": str(Path(path).resolve()),
            "pixel_size": mask.pixel_size.as_dict(),
            "first_frame": start,
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
        if n_c > 1:
            kwargs["colormap"] = CHANNEL_COLORMAPS[c % len(CHANNEL_COLORMAPS)]
            kwargs["blending"] = "additive"
        out.append((data, kwargs, "image"))
    return out
