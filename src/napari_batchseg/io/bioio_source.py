"""CZI, LIF and OME-Zarr inputs through ``bioio`` and its format plugins (:class:`BioioSource`).

bioio reads each format into the axes ``T C Z Y X`` (plus ``S`` for RGB samples, which become
channels here). Scenes of one shape are the positions ``P`` (outputs ``<stem>_P<k>_vSM``); a file whose
scenes differ in shape is refused with their shapes. Planes are read one at a time through bioio's
dask access (``get_image_dask_data("YX", T=t, C=c, Z=z)``), never the whole file. Channel names,
physical pixel sizes and the time increment come from bioio's metadata, converted to µm and seconds
from the units it states for each axis (OME-Zarr's ``"unit"``; none stated: µm and seconds).

An OME-Zarr holds its image at the root and may hold label images under ``labels/<name>`` (our own
``batchseg export ... ome-zarr`` writes the mask as ``labels/masks``). The root image is what opens by
default; ``dataset="labels/<name>"`` (CLI ``--dataset``) opens a label image instead, with the same
plane-by-plane access (:func:`ome_zarr_datasets` lists what a folder holds; ``"labels"`` alone picks the
only one). CZI and LIF ignore ``dataset``, as TIFF and ND2 do.

An OME-NGFF HCS plate (or one of its wells) is not read as one input: the error names the image paths
inside it (the first few and their count). Each of those images (``plate.ome.zarr/A/1/0``, a folder with
OME-NGFF attributes but no ``.zarr`` in its name; :func:`~.formats.format_of`) opens as an OME-Zarr.

The plugins are optional: ``bioio-ome-zarr`` in the ``[bioio]`` extra, ``bioio-czi`` and ``bioio-lif``
(GPL-3) only in the ``[formats]`` extra; :func:`~.reader.open_source` names the extra when one is missing.
"""

from __future__ import annotations

import contextlib
import shlex
import threading
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError, describe
from .formats import format_of, ome_attrs, zarr_attrs
from .naming import output_names
from .sources import ImageSource, PixelSize, SourceInfo

__all__ = ["BioioSource", "ome_zarr_datasets", "ome_zarr_labels"]

#: format kind -> (plugin module, reader class name)
_PLUGINS = {"czi": "bioio_czi", "lif": "bioio_lif", "ome-zarr": "bioio_ome_zarr"}


def _positive(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if v > 0 and np.isfinite(v) else None


def _seconds(value: Any) -> float | None:
    """A bioio time interval in seconds: a float (s), a quantity with units, or a ``timedelta`` (CZI)."""
    if value is None:
        return None
    if isinstance(value, np.timedelta64):
        return _positive(value / np.timedelta64(1, "s"))
    total = getattr(value, "total_seconds", None)  # datetime.timedelta (bioio-czi), pandas.Timedelta
    if callable(total):
        with contextlib.suppress(Exception):
            return _positive(total())
        return None
    to = getattr(value, "to", None)
    if callable(to):
        with contextlib.suppress(Exception):
            return _positive(to("second").magnitude)
    return _positive(value)


def _unit_factor(properties: Any, axis: str, target: str, unstated: float | None = 1.0) -> float | None:
    """Factor from the unit bioio states for ``axis`` (a pint unit; OME-Zarr's ``"unit"``) to ``target``.

    ``unstated`` when no unit is stated (1: bioio's sizes are then µm and seconds; ``None`` for OME-Zarr,
    whose scale 1 without a unit is no calibration); ``None`` for a unit that is not one of ``target``'s
    kind (the size is then unknown rather than wrong).
    """
    unit = getattr(getattr(properties, axis, None), "unit", None)
    if unit is None:
        return unstated
    try:
        return float((1 * unit).to(target).magnitude)
    except Exception:  # noqa: BLE001 - pint's DimensionalityError, or not a pint unit at all
        return None


def _scaled(value: float | None, factor: float | None) -> float | None:
    return None if value is None or factor is None else _positive(value * factor)


_SHOWN = 3  # image paths named in the message for a plate or a well


def _hcs_images(path: Path, attrs: dict[str, Any]) -> list[str]:
    """The image paths inside an HCS plate or well (``A/1/0``, ...; ``0``, ... for a well).

    From the plate's ``wells`` and each well's ``images`` (OME-NGFF 0.4/0.5); a well without that
    metadata contributes its sub-folders that are OME-NGFF images.
    """
    def images_of(well: Path) -> list[str]:
        listed = ome_attrs(zarr_attrs(well)).get("well", {})
        images = listed.get("images") if isinstance(listed, dict) else None
        names = [str(i["path"]) for i in images or [] if isinstance(i, dict) and i.get("path")]
        if not names and well.is_dir():
            names = sorted(p.name for p in well.iterdir()
                           if "multiscales" in ome_attrs(zarr_attrs(p)))
        return names

    if "well" in attrs:
        return images_of(path)
    plate = attrs.get("plate")
    wells = plate.get("wells") if isinstance(plate, dict) else None
    out: list[str] = []
    for well in wells or []:
        where = str(well.get("path", "")).strip("/") if isinstance(well, dict) else ""
        if where:
            out.extend(f"{where}/{name}" for name in images_of(path / where))
    return out


def _hcs_error(name: str, path: Path, attrs: dict[str, Any]) -> InputError:
    """Why an HCS plate (or one of its wells) is not read as one input, and how to read its images."""
    images = _hcs_images(path, attrs)
    what = "an OME-NGFF HCS plate" if "plate" in attrs else "a well of an OME-NGFF HCS plate"
    if not images:
        return InputError(f"{name}: {what}, and no image in it was found; plates are not supported yet")
    shown = ", ".join(str(path / i) for i in images[:_SHOWN])
    more = f" and {len(images) - _SHOWN} more" if len(images) > _SHOWN else ""
    return InputError(
        f"{name}: {what} ({len(images)} image(s)); plates and wells are not read as one input yet. Each "
        f"image in it opens by its own path: {shown}{more}. E.g. batchseg segment "
        f"{shlex.quote(str(path / images[0]))} (outputs are named after the plate and the image's path "
        f"in it, e.g. {output_names(path / images[0]).mask.name}, beside the plate)"
    )


def ome_zarr_labels(path: str | Path) -> list[str]:
    """The label images an OME-Zarr folder lists in ``labels/`` (``["masks"]`` for our exports)."""
    names = ome_attrs(zarr_attrs(Path(path) / "labels")).get("labels")
    if not isinstance(names, list):
        return []
    return [str(n) for n in names if isinstance(n, str) and n and "/" not in n and n not in (".", "..")]


def ome_zarr_datasets(path: str | Path) -> list[str]:
    """What ``dataset`` may name in an OME-Zarr: ``""`` (the root image), ``labels/<name>`` per label."""
    return ["", *(f"labels/{n}" for n in ome_zarr_labels(path))]


def _zarr_target(path: Path, dataset: str | None) -> tuple[Path, str]:
    """The folder to open for ``dataset`` in the OME-Zarr ``path`` and the dataset's name ("": the root)."""
    text = (dataset or "").strip().strip("/")
    if not text:
        return path, ""
    labels = ome_zarr_labels(path)
    if text == "labels" and len(labels) == 1:
        text = f"labels/{labels[0]}"
    if text not in ome_zarr_datasets(path):
        have = ", ".join(f"labels/{n}" for n in labels) or "none"
        raise InputError(
            f"{path.name}: no image {dataset!r} in this OME-Zarr; it holds its root image (no dataset) "
            f"and label images: {have}"
        )
    return path / text, text


class BioioSource(ImageSource):
    """A CZI, LIF or OME-Zarr image read through bioio, one plane at a time.

    Parameters
    ----------
    path
        The file (or OME-Zarr folder), its content checked already by :func:`~.reader.open_source`.
    axes
        Not used: these formats say their axes (kept for the opener's signature).
    dataset
        OME-Zarr only: ``"labels/<name>"`` opens that label image instead of the root image
        (``"labels"`` alone: the only one); ``None`` or ``""``: the root image.
    """

    def __init__(self, path: str | Path, axes: str | None = None, dataset: str | None = None) -> None:
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
        target, self._dataset = self.path, ""
        if fmt.kind == "ome-zarr":
            target, self._dataset = _zarr_target(self.path, dataset)
            attrs = ome_attrs(zarr_attrs(target))
            if "plate" in attrs or "well" in attrs:  # (a review: a plate was called "e.g. a DaCapo export")
                raise _hcs_error(self._name, target, attrs)
            if "multiscales" not in attrs:  # (a walk: our DaCapo export was "corrupt")
                raise InputError(f"{self._name}: a Zarr container with no OME-NGFF image (no 'multiscales' "
                                 "metadata), e.g. a DaCapo export: not an image to read here; its arrays "
                                 "open with zarr")
        try:
            self._img: Any = BioImage(target, reader=reader)
            self._setup(fmt.label)
        except InputError:
            raise
        except Exception as exc:
            raise InputError(
                f"{self._name}: truncated or corrupt {fmt.label}: {describe(exc)}"
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
        t, bare_t = None, False
        with contextlib.suppress(Exception):
            raw_t = getattr(img, "time_interval", None)
            t, bare_t = _seconds(raw_t), isinstance(raw_t, (int, float, np.number))
        props = None  # the axes' units (OME-Zarr: nanometer, minute, ...); bioio's sizes are bare numbers
        with contextlib.suppress(Exception):
            props = img.reader.dimension_properties
        # (a walk: our own OME-Zarr export of an uncalibrated image read back as 1 µm pixels, 1 s frames)
        unstated = None if "zarr" in type(img.reader).__module__ else 1.0
        pixel = PixelSize(
            x=_scaled(_positive(pps.X), _unit_factor(props, "X", "micrometer", unstated)),
            y=_scaled(_positive(pps.Y), _unit_factor(props, "Y", "micrometer", unstated)),
            z=_scaled(_positive(pps.Z), _unit_factor(props, "Z", "micrometer", unstated)),
            t=_scaled(t, _unit_factor(props, "T", "second", unstated)) if bare_t else t,  # (timedelta: unit)
        )
        self.info = SourceInfo(
            path=self.path, sizes=sizes, dtype=np.dtype(img.dtype), channel_names=names, pixel_size=pixel,
            native_axes=order, position_names=[str(s) for s in scenes], format=label.lower(),
            extra={"bioio_reader": type(img.reader).__module__, "scenes": [str(s) for s in scenes]},
        )
        if self.info.format == "ome-zarr":
            self.info.extra["ome_zarr_labels"] = ome_zarr_labels(self.path)
            if self._dataset:
                self.info.extra["ome_zarr_dataset"] = self._dataset

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
                    f"{self._name}: cannot read plane P={p} T={t} C={c} Z={z}: {describe(exc)}"
                ) from exc
        return np.ascontiguousarray(plane)

    def close(self) -> None:
        """Release the image (bioio opens files per read; idempotent)."""
        self._img = None

    def __repr__(self) -> str:
        info = getattr(self, "info", None)
        return f"BioioSource({str(self.path)!r}, {info.describe() if info else 'closed'})"
