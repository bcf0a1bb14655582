"""In-memory images (e.g. napari image layers) as engine inputs, through the same engine as files.

An :class:`ArraySource` implements the :class:`~.sources.ImageSource` protocol over an array (numpy,
dask or any array-like), so channel choice, Z handling, frames, writing, logs and streaming are exactly
those of files. :func:`register_arrays` registers each :class:`ArrayInput` under a made-up path
(``<folder>/<name>``, see :func:`~.reader.register_source`);
:func:`napari_batchseg.engine.plan_arrays` plans them like files: outputs
``<folder>/<name>_vSM.ome.tif``, and a log that names the array and the file it came from when known.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .reader import register_source
from .sources import ImageSource, PixelSize, SourceInfo

__all__ = [
    "CANONICAL", "ArrayInput", "ArraySource", "is_pixel_array", "one_path", "path_list", "register_arrays",
    "safe_name",
]


def is_pixel_array(value: Any) -> bool:
    """Whether ``value`` is an array of pixels (NumPy, Dask, ...) where a path or paths are expected.

    Numpy text is paths, not pixels: a ``numpy.str_`` (an item of an array of file names) or an array of
    them (``DataFrame["path"].values``, NumPy 2's ``StringDType`` text, kind ``T``) is not one (its
    ``__array__`` made it one: refused as an image).
    """
    if isinstance(value, (str, bytes)) or not hasattr(value, "__array__"):
        return False
    return getattr(getattr(value, "dtype", None), "kind", "") not in ("U", "S", "O", "T")


def one_path(value: Any) -> Any:
    """A 0-d NumPy text array (``np.array("a.tif")``: one file name) as the path it holds; else ``value``.

    Such an array is no sequence ("iteration over a 0-d array") and no path (``Path()`` refuses it); its
    bytes (``np.array(b"a.tif")``) are decoded as the file system does.
    """
    if isinstance(value, (str, bytes)) or getattr(value, "ndim", None) != 0 or is_pixel_array(value):
        return value
    item = value.item()
    return os.fsdecode(item) if isinstance(item, bytes) else item


def path_list(value: Any, refusal: Callable[[Any], TypeError]) -> list[Any]:
    """``value`` (paths given to a function) as a list, read once: one path is one item.

    One path: a ``str``, a path-like or a 0-d NumPy text array (not a sequence of its characters);
    NumPy text arrays and iterators are read once (an iterator read by a check was left empty). An
    array of pixels, given or in the list, raises ``refusal(array)``.
    """
    value = one_path(value)
    if isinstance(value, (str, os.PathLike)):
        return [value]
    items: list[Any] = [value] if is_pixel_array(value) else [one_path(v) for v in value]
    for item in items:
        if is_pixel_array(item):
            raise refusal(item)
    return items


CANONICAL = "PTCZYX"


def safe_name(name: str) -> str:
    """A name usable in file names (A-Z, a-z, 0-9, '-' and '_' only)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "layer"


class ArraySource(ImageSource):
    """An in-memory image (a napari layer's data) as an :class:`ImageSource`.

    Parameters
    ----------
    data
        Any array-like with ``shape``, ``dtype`` and numpy indexing.
    axes
        One letter of ``P T C Z Y X`` per axis of ``data``, e.g. ``"TYX"`` or ``"YXC"`` (RGB).
    path
        The made-up path the engine knows it by.
    layer_name, source_file
        Recorded in the log (``input format``).
    pixel_size
        From the layer's scale when it has physical units.
    t_translate
        The layer's own ``translate`` along T (recorded, so that results are shown over its frames).
    """

    def __init__(self, data: Any, axes: str, path: Path, layer_name: str, source_file: Path | None = None,
                 pixel_size: PixelSize | None = None, t_translate: float = 0.0) -> None:
        axes = axes.upper()
        valid = len(set(axes)) == len(axes) and set(axes) <= set(CANONICAL) and {"Y", "X"} <= set(axes)
        if len(axes) != len(data.shape) or not valid:
            raise ValueError(f"axes {axes!r} do not fit the layer's shape {tuple(data.shape)}")
        self._data = data
        self._axes = axes
        sizes = {a: int(n) for a, n in zip(axes, data.shape, strict=True)}
        where = f" from {source_file}" if source_file else " (no file)"
        self.info = SourceInfo(
            path=path, sizes=sizes, dtype=np.dtype(data.dtype), channel_names=[],
            pixel_size=pixel_size or PixelSize(), native_axes=axes,
            format=f"napari layer {layer_name!r}{where}",
            extra={"napari_layer": layer_name, "source_file": str(source_file) if source_file else None,
                   "t_translate": float(t_translate)},
        )

    def read_plane(self, p: int, t: int, c: int, z: int) -> NDArray[Any]:
        """One ``(Y, X)`` plane."""
        self._check_index(p, t, c, z)
        at = {"P": p, "T": t, "C": c, "Z": z}
        index = tuple(at.get(a, slice(None)) for a in self._axes)
        plane = np.asarray(self._data[index])
        if self._axes.index("Y") > self._axes.index("X"):
            plane = plane.T
        return plane


@dataclass(frozen=True)
class ArrayInput:
    """One in-memory image to segment: its array, axes and what the log says of it.

    ``folder``: where its outputs go without an output folder (e.g. beside the file it came from);
    ``None`` needs the run's ``output_dir``.
    """

    data: Any
    axes: str
    name: str
    source_file: Path | None = None
    pixel_size: PixelSize | None = None
    t_translate: float = 0.0
    folder: Path | None = None

    def source(self, path: Path) -> ArraySource:
        """An :class:`ArraySource` over the array, known to the engine as ``path``."""
        return ArraySource(self.data, self.axes, path, self.name, self.source_file, self.pixel_size,
                           self.t_translate)


def register_arrays(inputs: Sequence[ArrayInput], output_dir: str | None,
                    frame: int | None = None) -> list[Path]:
    """Register each input as a source under ``<output_dir or its folder>/<safe name>``; those paths.

    ``frame``: the one frame segmented (e.g. napari's current frame): an input with several frames is
    registered as ``<safe name>_t<frame, 4 digits>``, so outputs of different frames have their own names.

    Raises ``ValueError`` for an input without a folder when there is no ``output_dir``, and for axes
    that do not fit its array (nothing is registered then).
    """
    paths = []
    for item in inputs:
        folder = Path(output_dir).expanduser() if output_dir else item.folder
        if folder is None:
            raise ValueError(f"{item.name!r} has no file: choose an output folder")
        path = folder.absolute() / safe_name(item.name)
        source = item.source(path)  # checks the axes now
        if frame is not None and source.info.sizes["T"] > 1:
            path = path.with_name(f"{path.name}_t{frame:04d}")
        paths.append(path)
    for item, path in zip(inputs, paths, strict=True):
        register_source(path, functools.partial(item.source, path))
    return paths
