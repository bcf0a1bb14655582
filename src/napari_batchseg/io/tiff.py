"""Lazy TIFF / OME-TIFF / ImageJ-TIFF reader (:class:`TiffSource`) built on ``tifffile``.

The file's own axes come from ``tifffile``'s series (OME-XML, ImageJ hyperstack metadata or tifffile's
own "shaped" description) and are mapped onto the canonical ``P T C Z Y X`` model:

* ``T``, ``Z``, ``C``, ``Y``, ``X`` map to themselves; ``S`` (samples in a page, e.g. RGB) becomes ``C``
  (combined with ``C`` when both exist).
* Any other axis (``Q``, ``I``: tifffile's "unknown" / "image sequence") is ambiguous: opening refuses
  with an :class:`~napari_batchseg.errors.InputError` that says how to pass ``axes=...``. Nothing is
  guessed silently.
* An OME-TIFF holding several images (series) of its first image's shape exposes them as positions
  (``P``); its images of other shapes are left out, and said (``info.extra["left_out"]``).

Pixels are read page by page: :meth:`TiffSource.read_plane` decodes only the TIFF page holding the
requested plane (a page holds one plane, or a few when samples/depth live inside the page), never the
whole file. Only single-file OME-TIFF is supported (multi-file OME data sets are refused).
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from numpy.typing import NDArray

from ..errors import AmbiguousAxesError, InputError, describe
from .formats import check_file, parse_axes
from .ome import (
    ome_channel_names,
    ome_images,
    ome_pixel_size,
    ome_pixels,
    positive_um,
    time_factor,
    unit_factor,
)
from .sources import ImageSource, PixelSize, SourceInfo

#: tifffile axis letter -> canonical letter, for the letters with an unambiguous meaning.
_KNOWN = {"T": "T", "Z": "Z", "C": "C", "S": "C", "Y": "Y", "X": "X"}

_TIFF_ERRORS = (tifffile.TiffFileError, ValueError, OSError, EOFError, KeyError, IndexError,
                TypeError, AssertionError, MemoryError, RuntimeError)


class _TiffLogCapture(logging.Filter):
    """Collects (and hides) ``tifffile`` log records emitted by this thread inside :meth:`capture`.

    tifffile *logs* rather than raises many structural problems (an IFD or tag value beyond the end of
    the file, unreadable OME/ImageJ metadata) and then silently falls back to fewer pages or a generic
    series. Capturing them lets :class:`TiffSource` turn the fatal ones into an :class:`InputError`.
    """

    def __init__(self) -> None:
        super().__init__()
        self._local = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        stack = getattr(self._local, "stack", None)
        if not stack:
            return True
        stack[-1].append(record.getMessage())
        return False

    @contextlib.contextmanager
    def capture(self) -> Iterator[list[str]]:
        if not hasattr(self._local, "stack"):
            self._local.stack = []
        messages: list[str] = []
        self._local.stack.append(messages)
        try:
            yield messages
        finally:
            self._local.stack.pop()


_LOG_CAPTURE = _TiffLogCapture()
logging.getLogger("tifffile").addFilter(_LOG_CAPTURE)

#: tifffile log messages meaning that the file's structure points beyond its end or is broken
_FATAL_LOG = (
    "invalid page offset",
    "invalid offset to page",
    "invalid offset to first page",
    "corrupted tag list",
    "invalid value offset",
    "could not read all values",
    "invalid circular reference",
    "missing data offset",
)


def _fatal(messages: list[str]) -> str | None:
    """The first fatal tifffile message, without tifffile's object reprs, with a plain hint."""
    msg = next((m for m in messages if any(k in m for k in _FATAL_LOG)), None)
    if msg is None:
        return None
    msg = re.sub(r"<[^<>]*>\s*", "", msg).strip()
    return f"{msg} (the file ends before data its own index points to; was it copied completely?)"


def imagej_frame_interval(meta: dict[str, Any]) -> float | None:
    """Seconds between frames from ImageJ metadata (``finterval`` in ``tunit``, seconds by default)."""
    if meta.get("finterval") is None:
        return None
    return positive_um(meta["finterval"], time_factor(meta.get("tunit") or "s"))


def imagej_pixel_size(tif: tifffile.TiffFile, page: tifffile.TiffPage) -> PixelSize:
    """Pixel size (µm: X/YResolution, ``unit``, ``spacing``) and frame interval (s) of ImageJ metadata."""
    meta = tif.imagej_metadata or {}
    factor = unit_factor(meta.get("unit")) if meta.get("unit") else None
    t = imagej_frame_interval(meta)
    if factor is None:
        return PixelSize(t=t)

    def from_tag(tag_name: str) -> float | None:
        tag = page.tags.get(tag_name)
        if tag is None:
            return None
        try:
            num, den = tag.value
            per_unit = num / den
        except (TypeError, ValueError, ZeroDivisionError):
            return None
        if per_unit <= 0:
            return None
        return positive_um(1.0 / per_unit, factor)

    return PixelSize(
        x=from_tag("XResolution"),
        y=from_tag("YResolution"),
        z=positive_um(meta.get("spacing"), factor) if meta.get("spacing") is not None else None,
        t=t,
    )


def _ambiguous_message(name: str, native_axes: str, shape: tuple[int, ...]) -> str:
    unknown = [(a, n) for a, n in zip(native_axes, shape, strict=True) if a not in _KNOWN]
    dims = "x".join(str(n) for n in shape)
    letters = ", ".join(f"'{a}' (size {n})" for a, n in unknown)
    if len(unknown) == 1:
        a, n = unknown[0]
        ex_t = native_axes.replace(a, "T").replace("S", "")
        ex_z = native_axes.replace(a, "Z").replace("S", "")
        hint = (
            f"e.g. axes='{ex_t}' if the {n} planes are time points or axes='{ex_z}' if they are "
            f"Z slices (CLI: --axes {ex_t})"
        )
    else:
        hint = "one letter of P, T, C, Z, Y, X per dimension, ending in YX (CLI: --axes ...)"
    return (
        f"{name}: ambiguous axes: the file's dimensions are '{native_axes}' (shape {dims}) and "
        f"{letters} could be time, Z or channels. Say which with the axes option: {hint}"
    )


def _check_page_holds_its_pixels(name: str, index: int, page: Any) -> None:
    """Raise when an uncompressed page's strips or tiles hold fewer bytes than its declared size.

    A 768-byte file whose header claims 100,000 x 100,000 pixels is corrupt: said here, when it is
    opened, before any output space is reserved for it (the offsets against the file's size are
    checked by the caller).
    """
    kf = page.keyframe  # a TiffFrame has its shape, compression and bits there
    bits = int(kf.bitspersample)
    if int(kf.compression) != 1 or bits < 8 or bits % 8:  # (tifffile's COMPRESSION.NONE is falsy)
        return  # compressed data has no fixed size; packed bits are not whole bytes
    declared = int(kf.imagewidth) * int(kf.imagelength) * int(kf.imagedepth) * int(kf.samplesperpixel)
    declared = declared * bits // 8
    held = sum(int(b) for b in page.databytecounts)
    if held < declared:
        raise InputError(
            f"{name}: truncated or corrupt TIFF: page {index} declares {kf.imagelength} x "
            f"{kf.imagewidth} pixels ({declared:,} bytes of uncompressed data) but its strips or "
            f"tiles hold only {held:,} bytes"
        )


class TiffSource(ImageSource):
    """A TIFF, OME-TIFF or ImageJ-TIFF file, read one plane at a time.

    The :class:`tifffile.TiffFile` stays open until :meth:`close`.

    Parameters
    ----------
    path
        The file.
    axes
        Optional override of the file's axes (see :func:`~.reader.open_source`).
    checked
        ``True`` when the caller has already run :func:`~.formats.check_file` on ``path`` and found
        TIFF content (as :func:`~.reader.open_source` does); the file's first bytes are then not read
        again.
    """

    def __init__(self, path: str | Path, axes: str | None = None, *, checked: bool = False) -> None:
        self.path = Path(path)
        self._name = self.path.name
        self._lock = threading.Lock()
        self._tif: tifffile.TiffFile | None = None
        found = "tiff" if checked else check_file(self.path, "tiff")
        if found != "tiff":
            raise InputError(f"{self._name}: not a TIFF file (its content is {found.upper()})")
        override = parse_axes(axes, self.path)
        with _LOG_CAPTURE.capture() as messages:
            try:
                try:
                    self._tif = tifffile.TiffFile(self.path)
                    series = self._tif.series
                except _TIFF_ERRORS as exc:
                    raise InputError(f"{self._name}: truncated or corrupt TIFF: {exc}") from exc
                fatal = _fatal(messages)
                if fatal:
                    raise InputError(f"{self._name}: truncated or corrupt TIFF: {fatal}")
                self._setup(series, override)
                fatal = _fatal(messages)
                if fatal:
                    raise InputError(f"{self._name}: truncated or corrupt TIFF: {fatal}")
            except InputError:
                self.close()
                raise
            except Exception as exc:  # any other failure of tifffile on a broken file
                self.close()
                raise InputError(
                    f"{self._name}: truncated or corrupt TIFF: {describe(exc)}"
                ) from exc
        if messages:
            self.info.extra["tiff_warnings"] = list(messages)

    # ------------------------------------------------------------------ setup

    def _setup(self, all_series: list[tifffile.TiffPageSeries], override: str | None) -> None:
        tif = self._tif
        assert tif is not None
        if not all_series:
            raise InputError(f"{self._name}: the TIFF holds no images")
        s0 = all_series[0]
        if s0.is_multifile:
            raise InputError(
                f"{self._name}: multi-file OME-TIFF (planes stored in other files) is not supported; "
                "convert it to a single file first"
            )
        # OME files with several images of the first's shape: those images are positions (others, e.g. a
        # label image or an overview of another shape, are left out and said; before, one of them made
        # the file one position, the first)
        series = [s0]
        if tif.is_ome and len(all_series) > 1:
            series = [
                s for s in all_series
                if s.shape == s0.shape and s.axes == s0.axes and s.dtype == s0.dtype
                and not s.is_multifile
            ]
        self._series = series

        native_axes = s0.axes
        shape = tuple(int(n) for n in s0.shape)
        kf = s0.keyframe
        page_shape = tuple(int(n) for n in kf.shape)
        n_lead = len(shape) - len(page_shape)
        if n_lead < 0 or shape[n_lead:] != page_shape:
            raise InputError(
                f"{self._name}: unsupported TIFF layout (series shape {shape}, page shape "
                f"{page_shape})"
            )
        page_axes = native_axes[n_lead:]
        if "Y" not in page_axes or "X" not in page_axes:
            raise InputError(f"{self._name}: unsupported TIFF layout (page axes '{page_axes}')")
        self._native_axes = native_axes
        self._shape = shape
        self._n_lead = n_lead
        self._lead_shape = shape[:n_lead]
        self._page_shape = page_shape
        self._page_dtype = np.dtype(kf.dtype)
        n_pages_needed = math.prod(self._lead_shape)

        # ---- map native axes to canonical letters
        mapping = self._map_axes(native_axes, shape, override, multi_series=len(series) > 1)
        self._mapping = mapping
        sizes = {a: 1 for a in "PTCZYX"}
        for letter, n in zip(mapping, shape, strict=True):
            sizes[letter] = sizes[letter] * n if letter == "C" else n
        if len(series) > 1:
            sizes["P"] = len(series)
        self._c_axes = [i for i, letter in enumerate(mapping) if letter == "C"]

        # ---- how pages are reached: through the series, or by offset for truncated ImageJ files
        self._contiguous_offset: int | None = None
        for s in series:
            if len(s) != n_pages_needed:
                offset = s.dataoffset
                if len(series) == 1 and offset is not None and kf.is_contiguous:
                    self._contiguous_offset = int(offset)
                else:
                    raise InputError(
                        f"{self._name}: truncated or corrupt TIFF: metadata describes "
                        f"{n_pages_needed} pages but {len(s)} were found"
                    )
        self._check_not_truncated(series, n_pages_needed)
        self._check_declared_planes(s0)

        # ---- metadata
        pixel_size = PixelSize()
        channel_names: list[str] = []
        extra: dict[str, Any] = {
            "tiff_series_kind": s0.kind,
            "tiff_series_count": len(all_series),
        }
        position_names: list[str] = []
        fmt = "tiff"
        if tif.is_ome and tif.ome_metadata:
            fmt = "ome-tiff"
            extra["ome_xml"] = tif.ome_metadata
            images = ome_images(tif.ome_metadata)
            pixels = ome_pixels(images[0]) if images else None
            if pixels is not None:
                pixel_size = ome_pixel_size(pixels)
                channel_names = self._ome_channels(pixels, sizes["C"])
            if len(series) > 1:
                position_names = [s.name or f"P{i}" for i, s in enumerate(series)]
        elif tif.is_imagej:
            pixel_size = imagej_pixel_size(tif, tif.pages.first)
            extra["imagej_description"] = tif.pages.first.description
        rgb_only = "S" in native_axes and self._c_axes == [native_axes.index("S")]
        if (
            not channel_names
            and rgb_only
            and sizes["C"] in (3, 4)
            and kf.photometric == tifffile.PHOTOMETRIC.RGB
        ):
            channel_names = list("RGBA"[: sizes["C"]])
        if override is not None:
            extra["axes_override"] = override
        # images left out (said by info and the run's plan); not a thumbnail (a reduced-resolution copy)
        others = [s for s in all_series if all(s is not t for t in series) and not s.keyframe.is_reduced]
        if others:
            shapes = ", ".join("x".join(map(str, s.shape)) for s in others[:3])
            shapes += ", ..." if len(others) > 3 else ""
            first = "x".join(map(str, s0.shape))
            read = (f"only its first ({first}) is read" if len(series) == 1 else
                    f"only the {len(series)} of its first's shape and type ({first}) are read, as positions")
            total = len(series) + len(others)
            extra["left_out"] = f"{len(others)} of its {total} images ({shapes}) left out: {read}"
        self.info = SourceInfo(
            path=self.path,
            sizes=sizes,
            dtype=self._page_dtype,
            channel_names=channel_names,
            pixel_size=pixel_size,
            native_axes=native_axes,
            position_names=position_names,
            format=fmt,
            extra=extra,
        )

    def _map_axes(
        self, native: str, shape: tuple[int, ...], override: str | None, multi_series: bool
    ) -> list[str]:
        dims = "x".join(str(n) for n in shape)
        if override is None:
            if any(a not in _KNOWN for a in native):
                raise AmbiguousAxesError(_ambiguous_message(self._name, native, shape))
            mapping = [_KNOWN[a] for a in native]
        else:
            non_s = [i for i, a in enumerate(native) if a != "S"]
            if len(override) == len(non_s):
                mapping = ["C"] * len(native)  # S -> C
                for i, letter in zip(non_s, override, strict=True):
                    mapping[i] = letter
            elif len(override) == len(native) and not native.endswith("S"):
                mapping = list(override)
            else:
                n_s = len(native) - len(non_s)
                extra = (
                    f" ({len(non_s)} without the RGB/sample axis 'S', which always becomes C)"
                    if n_s else ""
                )
                raise InputError(
                    f"{self._name}: axes={override!r} has {len(override)} letters but the file has "
                    f"{len(native)} dimensions{extra}: '{native}' (shape {dims})"
                )
            if [mapping[i] for i, a in enumerate(native) if a in "YX"] != ["Y", "X"]:
                raise InputError(
                    f"{self._name}: axes={override!r} does not put Y and X on the file's rows and "
                    f"columns ('{native}', shape {dims})"
                )
            if multi_series and "P" in mapping:
                raise InputError(
                    f"{self._name}: axes={override!r} uses P but the file's images already are "
                    "the positions"
                )
        seen = [m for m in mapping if m != "C"]
        if len(set(seen)) != len(seen) or sum(1 for m in mapping if m == "C") > 2:
            raise AmbiguousAxesError(
                f"{self._name}: axes '{native}' (shape {dims}) map to repeated axes "
                f"{''.join(mapping)}; pass axes=... to say what each dimension is"
            )
        return mapping

    def _ome_channels(self, pixels: ET.Element, n_channels: int) -> list[str]:
        chans = ome_channel_names(pixels)
        if not chans or not any(name for name, _ in chans):
            return []
        names = [name or f"C{i}" for i, (name, _) in enumerate(chans)]
        if len(names) == n_channels:
            return names
        spp = chans[0][1]
        if spp > 1 and len(names) * spp == n_channels:
            suffix = "RGBA" if spp in (3, 4) else [str(i) for i in range(spp)]
            return [f"{n} {suffix[k]}" for n in names for k in range(spp)]
        return []

    def _check_not_truncated(self, series: list[tifffile.TiffPageSeries], n_pages: int) -> None:
        """Raise if the image data of the first/last page of any series lies beyond the file's end."""
        tif = self._tif
        assert tif is not None
        size = tif.filehandle.size
        if self._contiguous_offset is not None:
            end = self._contiguous_offset + n_pages * self._page_nbytes()
            if end > size:
                raise InputError(
                    f"{self._name}: truncated or corrupt TIFF: image data needs {end} bytes but the "
                    f"file has {size}"
                )
            return
        for s in series:
            if s.kind == "ome" and any(p is None for p in s):
                missing = sum(1 for p in s if p is None)
                raise InputError(
                    f"{self._name}: truncated or corrupt TIFF: {missing} of {len(s)} planes are "
                    "missing from the file"
                )
            for index in {0, len(s) - 1}:
                page = s[index]
                if page is None:
                    continue
                ends = [
                    int(o) + int(b)
                    for o, b in zip(page.dataoffsets, page.databytecounts, strict=False)
                    if o and b
                ]
                if ends and max(ends) > size:
                    raise InputError(
                        f"{self._name}: truncated or corrupt TIFF: page {index} needs data up to "
                        f"byte {max(ends)} but the file has only {size} bytes"
                    )
                _check_page_holds_its_pixels(self._name, index, page)

    def _check_declared_planes(self, s0: tifffile.TiffPageSeries) -> None:
        """Raise if ImageJ / tifffile metadata declare more planes than tifffile could find.

        When the declared layout does not fit the pages (typically a truncated file), tifffile logs a
        warning and falls back to a generic series of the pages it found; reading that silently would
        lose planes.
        """
        tif = self._tif
        assert tif is not None
        yx = s0.shape[s0.axes.index("Y")] * s0.shape[s0.axes.index("X")]
        samples = s0.shape[s0.axes.index("S")] if "S" in s0.axes else 1
        found = math.prod(s0.shape) // max(1, yx * samples)
        declared = 0
        if tif.is_imagej and s0.kind != "imagej":
            with contextlib.suppress(TypeError, ValueError):
                declared = int((tif.imagej_metadata or {}).get("images", 0))
        elif tif.is_shaped and s0.kind != "shaped":
            with contextlib.suppress(TypeError, ValueError, IndexError):
                shape = (tif.shaped_metadata or ())[0]["shape"]
                declared = math.prod(shape) // max(1, yx * samples)
        if declared > found:
            raise InputError(
                f"{self._name}: truncated or corrupt TIFF: its metadata describe {declared} planes "
                f"but only {found} could be found in the file"
            )

    def _page_nbytes(self) -> int:
        return math.prod(self._page_shape) * self._page_dtype.itemsize

    # ------------------------------------------------------------------ reading

    def _read_page(self, p: int, page_index: int) -> NDArray[Any]:
        tif = self._tif
        if tif is None or tif.filehandle.closed:
            raise InputError(f"{self._name}: the file was closed")
        if self._contiguous_offset is not None:
            fh = tif.filehandle
            fh.seek(self._contiguous_offset + page_index * self._page_nbytes())
            dtype = np.dtype(tif.byteorder + self._page_dtype.char)
            data = fh.read_array(dtype, math.prod(self._page_shape))
            return data.reshape(self._page_shape).astype(self._page_dtype, copy=False)
        page = self._series[p][page_index]
        if page is None:  # missing page in an OME series: tifffile fills such planes with zeros
            return np.zeros(self._page_shape, self._page_dtype)
        return page.asarray()

    def read_plane(self, p: int, t: int, c: int, z: int) -> NDArray[Any]:
        """Return plane ``(p, t, c, z)`` as a 2D ``(Y, X)`` array, reading only its TIFF page."""
        self._check_index(p, t, c, z)
        coords = [0] * len(self._mapping)
        canon = {"P": p, "T": t, "Z": z}
        for i, letter in enumerate(self._mapping):
            if letter in canon:
                coords[i] = canon[letter]
        if self._c_axes:
            c_coords = np.unravel_index(c, tuple(self._shape[i] for i in self._c_axes))
            for i, ci in zip(self._c_axes, c_coords, strict=True):
                coords[i] = int(ci)
        series_index = p if len(self._series) > 1 else 0
        lead = coords[: self._n_lead]
        page_index = int(np.ravel_multi_index(lead, self._lead_shape)) if lead else 0
        in_page = tuple(
            slice(None) if letter in "YX" else coords[self._n_lead + k]
            for k, letter in enumerate(self._mapping[self._n_lead:])
        )
        where = f"plane P={p} T={t} C={c} Z={z} (page {page_index})"
        with self._lock, _LOG_CAPTURE.capture() as messages:
            try:
                data = self._read_page(series_index, page_index)
            except InputError:
                raise
            except Exception as exc:
                raise InputError(
                    f"{self._name}: truncated or corrupt TIFF: cannot read {where}: "
                    f"{describe(exc)}"
                ) from exc
            fatal = _fatal(messages)
            if fatal:
                raise InputError(f"{self._name}: truncated or corrupt TIFF: {where}: {fatal}")
        plane = data[in_page]
        if plane.shape == data.shape:
            return np.ascontiguousarray(plane)
        return np.array(plane, copy=True)  # do not keep the whole page alive through a view

    def close(self) -> None:
        """Close the TIFF file (idempotent)."""
        lock = getattr(self, "_lock", None)
        with lock if lock is not None else contextlib.nullcontext():  # never under a running read
            tif, self._tif = self._tif, None
            if tif is not None:
                tif.close()

    def __repr__(self) -> str:
        info = getattr(self, "info", None)
        return f"TiffSource({str(self.path)!r}, {info.describe() if info else 'closed'})"
