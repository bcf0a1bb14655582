"""Lazy HDF5 reader (:class:`Hdf5Source`) built on ``h5py``.

An HDF5 file is a tree of datasets. The image is one numeric dataset of at least two dimensions:

* With one such dataset it is read directly; with several, ``dataset="/path/in/file"`` (CLI
  ``--dataset``) says which, and opening without it fails with a message listing them.
* Axes come from the dataset's attributes when they say: ``axes`` / ``DimensionOrder`` (a string such as
  ``"tzyx"``; an OME-style order starting with ``XY`` is read fastest-first, i.e. reversed), or
  ilastik's ``axistags`` (JSON). Otherwise a 2D dataset is ``YX`` and anything larger is ambiguous
  (:class:`~napari_batchseg.errors.AmbiguousAxesError`): the ``axes`` option says what each dimension
  is, as for TIFF.
* Pixel sizes come from ``element_size_um`` (one value per dimension, Fiji / ilastik style).

:meth:`Hdf5Source.read_plane` reads one ``(Y, X)`` hyperslab through h5py, never the whole dataset.
"""

from __future__ import annotations

import contextlib
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import AmbiguousAxesError, InputError, describe
from .formats import check_file, parse_axes
from .sources import CANONICAL_AXES, ImageSource, PixelSize, SourceInfo

__all__ = ["Hdf5Source", "image_datasets"]

#: attribute names that hold an axis string, in the order they are looked for
_AXES_ATTRS = ("axes", "DimensionOrder", "dimension_order", "dims")
#: axis letters other tools write -> canonical letters
_LETTERS = {"t": "T", "z": "Z", "c": "C", "y": "Y", "x": "X", "p": "P", "s": "P"}


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value
    if isinstance(value, np.ndarray) and value.dtype.kind in "SUO" and value.size:
        parts = [_text(v) for v in value.ravel()]
        return "".join(p for p in parts if p)
    return None


def image_datasets(h5: Any) -> dict[str, Any]:
    """Every numeric dataset of at least 2 dimensions in an open ``h5py.File``, by its path."""
    import h5py  # type: ignore[import-untyped]

    found: dict[str, Any] = {}

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset) and obj.ndim >= 2 and obj.dtype.kind in "biuf":
            found["/" + name] = obj

    h5.visititems(visit)
    return found


def _describe(path: str, ds: Any) -> str:
    return f"{path} ({'x'.join(str(n) for n in ds.shape)} {ds.dtype})"


def _attr_axes(ds: Any) -> str | None:
    """The axes a dataset's attributes state, as canonical letters, or ``None``."""
    attrs = ds.attrs
    for key in _AXES_ATTRS:
        if key in attrs:
            text = _text(attrs[key])
            if text:
                text = text.strip()
                if key == "DimensionOrder" and text.upper().startswith("XY"):
                    text = text[::-1]  # OME order: fastest first
                return "".join(_LETTERS.get(ch.lower(), ch.upper()) for ch in text if ch.strip(", "))
    if "axistags" in attrs:  # ilastik / vigra
        with contextlib.suppress(ValueError, TypeError, KeyError):
            tags = json.loads(_text(attrs["axistags"]) or "")
            return "".join(_LETTERS.get(str(a["key"]).lower(), str(a["key"]).upper()) for a in tags["axes"])
    return None


class Hdf5Source(ImageSource):
    """One image dataset of an HDF5 file, read one plane at a time. The file stays open until closed.

    Parameters
    ----------
    path
        The file.
    axes
        Optional override of the dataset's axes (one letter of ``P T C Z Y X`` per dimension).
    dataset
        Path of the image dataset inside the file; needed when the file holds several.
    checked
        ``True`` when the caller has checked the file's content already (:func:`~.reader.open_source`).
    """

    def __init__(self, path: str | Path, axes: str | None = None, dataset: str | None = None, *,
                 checked: bool = False) -> None:
        self.path = Path(path)
        self._name = self.path.name
        self._lock = threading.Lock()
        self._h5: Any = None
        if not checked and check_file(self.path, "hdf5") != "hdf5":
            raise InputError(f"{self._name}: not an HDF5 file")
        override = parse_axes(axes, self.path)
        import h5py

        try:
            self._h5 = h5py.File(self.path, "r")
            self._setup(override, dataset)
        except InputError:
            self.close()
            raise
        except Exception as exc:
            self.close()
            raise InputError(
                f"{self._name}: truncated or corrupt HDF5 file: {describe(exc)}"
            ) from exc

    def _choose(self, dataset: str | None) -> tuple[str, Any]:
        found = image_datasets(self._h5)
        listed = ", ".join(_describe(p, d) for p, d in found.items())
        if dataset is not None:
            key = "/" + dataset.strip("/")
            if key in found:
                return key, found[key]
            raise InputError(
                f"{self._name}: no image dataset {dataset!r}; it holds "
                + (listed if found else "no image dataset (numeric, 2 or more dimensions)")
            )
        if not found:
            raise InputError(f"{self._name}: holds no image dataset (numeric, 2 or more dimensions)")
        if len(found) > 1:
            first = next(iter(found))
            raise InputError(
                f"{self._name}: holds {len(found)} image datasets: {listed}; say which with the dataset "
                f"option, e.g. dataset='{first}' (CLI: --dataset {first})"
            )
        return next(iter(found.items()))

    def _setup(self, override: str | None, dataset: str | None) -> None:
        key, ds = self._choose(dataset)
        self._ds = ds
        shape = tuple(int(n) for n in ds.shape)
        dims = "x".join(map(str, shape))
        stated = _attr_axes(ds)
        if override is not None:
            mapping = override
        elif stated is not None:
            mapping = stated
        elif ds.ndim == 2:
            mapping = "YX"
        else:
            ex_t = {3: "TYX", 4: "TCYX", 5: "TCZYX", 6: "PTCZYX"}.get(ds.ndim, "TCZYX")
            raise AmbiguousAxesError(
                f"{self._name}: ambiguous axes: dataset {key} has shape {dims} and no axes attribute; "
                f"say what each dimension is with the axes option, e.g. axes='{ex_t}' "
                f"(CLI: --axes {ex_t})"
            )
        if len(mapping) != ds.ndim:
            raise InputError(
                f"{self._name}: axes {mapping!r} has {len(mapping)} letters but dataset {key} has "
                f"{ds.ndim} dimensions (shape {dims})"
            )
        bad = any(a not in CANONICAL_AXES or mapping.count(a) > 1 for a in mapping)
        if bad or "Y" not in mapping or "X" not in mapping:
            raise AmbiguousAxesError(
                f"{self._name}: dataset {key}'s axes {mapping!r} (shape {dims}) do not map onto "
                f"P, T, C, Z, Y, X once each with Y and X; pass axes=... to say what each dimension is"
            )
        self._mapping = mapping
        sizes = {a: n for a, n in zip(mapping, shape, strict=True)}
        pixel = self._pixel_size(ds, mapping)
        extra: dict[str, Any] = {"hdf5_dataset": key}
        if override is not None:
            extra["axes_override"] = override
        elif stated is not None:
            extra["hdf5_axes_attribute"] = stated
        self.info = SourceInfo(
            path=self.path, sizes=sizes, dtype=np.dtype(ds.dtype), channel_names=[],
            pixel_size=pixel, native_axes=mapping if stated or override else "YX",
            format="hdf5", extra=extra,
        )

    @staticmethod
    def _pixel_size(ds: Any, mapping: str) -> PixelSize:
        size = ds.attrs.get("element_size_um")
        values: dict[str, float] = {}
        if size is not None:
            with contextlib.suppress(TypeError, ValueError):
                arr = np.asarray(size, dtype=float).ravel()
                # one value per dimension, or per spatial dimension (ZYX / YX)
                letters = mapping if arr.size == len(mapping) else "".join(a for a in mapping if a in "ZYX")
                if arr.size == len(letters):
                    values = {a: float(v) for a, v in zip(letters, arr, strict=True) if v > 0}
        return PixelSize(x=values.get("X"), y=values.get("Y"), z=values.get("Z"))

    def read_plane(self, p: int, t: int, c: int, z: int) -> NDArray[Any]:
        """Return plane ``(p, t, c, z)`` as ``(Y, X)``, reading only that hyperslab."""
        self._check_index(p, t, c, z)
        at = {"P": p, "T": t, "C": c, "Z": z}
        index = tuple(slice(None) if a in "YX" else at[a] for a in self._mapping)
        with self._lock:
            if self._h5 is None:
                raise InputError(f"{self._name}: the file was closed")
            try:
                plane = np.asarray(self._ds[index])
            except Exception as exc:
                raise InputError(
                    f"{self._name}: cannot read plane P={p} T={t} C={c} Z={z}: {describe(exc)}"
                ) from exc
        if self._mapping.index("Y") > self._mapping.index("X"):
            plane = plane.T
        return np.ascontiguousarray(plane)

    def close(self) -> None:
        """Close the file (idempotent)."""
        lock = getattr(self, "_lock", None)
        with lock if lock is not None else contextlib.nullcontext():
            h5, self._h5 = self._h5, None
            if h5 is not None:
                h5.close()

    def __repr__(self) -> str:
        info = getattr(self, "info", None)
        return f"Hdf5Source({str(self.path)!r}, {info.describe() if info else 'closed'})"
