"""CZI, LIF and OME-Zarr inputs through ``bioio`` and its format plugins (:class:`BioioSource`).

bioio reads each format into the axes ``T C Z Y X`` (plus ``S`` for RGB samples, which become
channels here). Scenes of one shape are the positions ``P`` (outputs ``<stem>_P<k>_vSM``); a file whose
scenes differ in shape is refused with their shapes. Planes are read one at a time through bioio's
dask access (``get_image_dask_data("YX", T=t, C=c, Z=z)``), never the whole file. Channel names,
physical pixel sizes and the time increment come from bioio's metadata.

The plugins are optional: ``bioio-ome-zarr`` in the ``[bioio]`` extra, ``bioio-czi`` and ``bioio-lif``
(GPL-3) only in the ``[formats]`` extra; :func:`~.reader.open_source` names the extra when one is missing.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError
from .formats import format_of
from .sources import ImageSource, PixelSize, SourceInfo

__all__ = ["BioioSource"]

#: format kind -> (plugin module, reader class name)
_PLUGINS = {"czi": "bioio_czi", "lif": "bioio_lif", "ome-zarr": "bioio_ome_zarr"}


def _positive(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if v > 0 and np.isfinite(v) else None


def _seconds(value: Any) -> float | None:
    """A bioio time interval (a float in seconds, or a quantity with units) in seconds."""
    if value is None:
        return None
    to = getattr(value, "to", None)
    if callable(to):
        with contextlib.suppress(Exception):
            return _positive(to("second").magnitude)
    return _positive(value)


class BioioSource(ImageSource):
    """A CZI, LIF or OME-Zarr image read through bioio, one plane at a time.

    Parameters
    ----------
    path
        The file (or OME-Zarr folder), its content checked already by :func:`~.reader.open_source`.
    axes
        Not used: these formats say their axes (kept for the opener's signature).
    """

    def __init__(self, path: str | Path, axes: str | None = None) -> None:
        self.path = Path(path)
        self._name = self.path.name
        self._lock = threading.Lock()
        fmt = format_of(self.path)
        if fmt is None or fmt.kind not in _PLUGINS:
            raise InputError(f"{self._name}: not a CZI, LIF or OME-Zarr image")
        import importlib

        try:
            from bioio import BioImage

            reader = importlib.import_module(_PLUGINS[fmt.kind]).Reader
        except ImportError as exc:
            raise InputError(f"{self._name}: reading {fmt.label} needs {fmt.install_hint()}") from exc
        try:
            self._img: Any = BioImage(self.path, reader=reader)
            self._setup(fmt.label)
        except InputError:
            raise
        except Exception as exc:
            raise InputError(
                f"{self._name}: truncated or corrupt {fmt.label}: {type(exc).__name__}: {exc}"
            ) from exc

    def _setup(self, label: str) -> None:
        img = self._img
        scenes = list(img.scenes)
        shapes = []
        for s in scenes:
            img.set_scene(s)
            shapes.append((tuple(int(n) for n in img.shape), str(img.dims.order), np.dtype(img.dtype)))
        if len(set(shapes)) > 1:
            shown = "; ".join(f"{s}: {'x'.join(map(str, sh[0]))} {sh[1]}" for s, sh in zip(scenes, shapes,
                                                                                         strict=True))
            raise InputError(
                f"{self._name}: its {len(scenes)} scenes differ in shape ({shown}); only scenes of one "
                "shape are read as positions"
            )
        img.set_scene(scenes[0])
        self._scene = 0
        self._scenes = scenes
        dims = img.dims
        order = str(dims.order)
        self._samples = int(getattr(dims, "S", 1)) if "S" in order else 1
        n_c = int(dims.C) if "C" in order else 1
        if self._samples > 1 and n_c > 1:
            raise InputError(f"{self._name}: both channels and RGB samples ({order}) are not supported")
        sizes = {"P": len(scenes), "T": int(dims.T) if "T" in order else 1, "C": max(n_c, self._samples),
                 "Z": int(dims.Z) if "Z" in order else 1, "Y": int(dims.Y), "X": int(dims.X)}
        names: list[str] = []
        with contextlib.suppress(Exception):
            names = [str(c) for c in (img.channel_names or [])]
        if len(names) != sizes["C"]:
            names = list("RGBA"[: sizes["C"]]) if self._samples in (3, 4) else []
        pps = img.physical_pixel_sizes
        t = None
        with contextlib.suppress(Exception):
            t = _seconds(getattr(img, "time_interval", None))
        pixel = PixelSize(x=_positive(pps.X), y=_positive(pps.Y), z=_positive(pps.Z), t=t)
        self.info = SourceInfo(
            path=self.path, sizes=sizes, dtype=np.dtype(img.dtype), channel_names=names, pixel_size=pixel,
            native_axes=order, position_names=[str(s) for s in scenes], format=label.lower(),
            extra={"bioio_reader": type(img.reader).__module__, "scenes": [str(s) for s in scenes]},
        )

    def read_plane(self, p: int, t: int, c: int, z: int) -> NDArray[Any]:
        """Return plane ``(p, t, c, z)`` as ``(Y, X)`` through bioio's dask access (that plane only)."""
        self._check_index(p, t, c, z)
        with self._lock:
            try:
                if p != self._scene:
                    self._img.set_scene(self._scenes[p])
                    self._scene = p
                if self._samples > 1:
                    data = self._img.get_image_dask_data("YXS", T=t, Z=z)[..., c]
                else:
                    data = self._img.get_image_dask_data("YX", T=t, C=c, Z=z)
                plane = np.asarray(data.compute())
            except Exception as exc:
                raise InputError(
                    f"{self._name}: cannot read plane P={p} T={t} C={c} Z={z}: {type(exc).__name__}: {exc}"
                ) from exc
        return np.ascontiguousarray(plane)

    def close(self) -> None:
        """Release the image (bioio opens files per read; idempotent)."""
        self._img = None

    def __repr__(self) -> str:
        info = getattr(self, "info", None)
        return f"BioioSource({str(self.path)!r}, {info.describe() if info else 'closed'})"
