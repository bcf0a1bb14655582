"""OME-XML, length- and time-unit parsing: pixel sizes in micrometres, time steps in seconds, channel names.

Shared by the TIFF reader (:mod:`.tiff`) and the mask reader (:mod:`.masks`).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from typing import Any

from .sources import PixelSize

#: length units -> factor to micrometres (OME ``UnitsLength`` symbols and ImageJ spellings).
_UNIT_TO_UM = {
    "m": 1e6,
    "cm": 1e4,
    "mm": 1e3,
    "µm": 1.0,
    "μm": 1.0,  # Greek mu
    "um": 1.0,
    "micron": 1.0,
    "microns": 1.0,
    "micrometer": 1.0,
    "micrometre": 1.0,
    "\\u00b5m": 1.0,  # ImageJ writes the escape sequence literally
    "nm": 1e-3,
    "nanometer": 1e-3,
    "pm": 1e-6,
    "å": 1e-4,
    "angstrom": 1e-4,
}


#: time units -> factor to seconds (OME ``UnitsTime`` symbols and ImageJ spellings).
_UNIT_TO_S = {
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "ms": 1e-3,
    "msec": 1e-3,
    "millisecond": 1e-3,
    "µs": 1e-6,
    "μs": 1e-6,  # Greek mu
    "us": 1e-6,
    "microsecond": 1e-6,
    "ns": 1e-9,
    "min": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "hour": 3600.0,
    "hours": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
}


def time_factor(unit: str | None) -> float | None:
    """Factor converting time ``unit`` to seconds (``None`` if not a known time unit; no unit: s)."""
    if unit is None:
        return 1.0
    return _UNIT_TO_S.get(str(unit).strip().lower())


def unit_factor(unit: str | None) -> float | None:
    """Factor converting ``unit`` to micrometres (``None`` if not a known length unit)."""
    if unit is None:
        return 1.0
    return _UNIT_TO_UM.get(str(unit).strip().lower())


def positive_um(value: Any, factor: float | None = 1.0) -> float | None:
    """``value * factor`` as a float if it is a finite positive number, else ``None``."""
    if factor is None:
        return None
    try:
        v = float(value) * float(factor)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) and v > 0 else None


def local_name(tag: str) -> str:
    """An XML tag without its ``{namespace}`` prefix."""
    return tag.rsplit("}", 1)[-1]


def ome_images(xml: str) -> list[ET.Element]:
    """The ``Image`` elements of an OME-XML document (none when the XML does not parse)."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return []
    return [el for el in root if local_name(el.tag) == "Image"]


def ome_pixels(image: ET.Element) -> ET.Element | None:
    """The ``Pixels`` element of an OME ``Image`` element, if any."""
    return next((el for el in image if local_name(el.tag) == "Pixels"), None)


def ome_pixel_size(pixels: ET.Element) -> PixelSize:
    """Physical pixel size (µm) and time increment (s) of an OME ``Pixels`` element (units converted)."""
    values: dict[str, float | None] = {}
    for axis in ("X", "Y", "Z"):
        raw = pixels.get(f"PhysicalSize{axis}")
        factor = unit_factor(pixels.get(f"PhysicalSize{axis}Unit", "µm"))
        values[axis.lower()] = None if raw is None or factor is None else positive_um(raw, factor)
    raw_t = pixels.get("TimeIncrement")
    t_factor = time_factor(pixels.get("TimeIncrementUnit", "s"))
    values["t"] = plane_time_step(pixels) if raw_t is None else positive_um(raw_t, t_factor)
    return PixelSize(**values)


def _index(plane: ET.Element, name: str) -> int | None:
    try:
        return int(plane.get(name, "0"))
    except ValueError:
        return None


def plane_time_step(pixels: ET.Element) -> float | None:
    """Mean seconds between time points from the ``Plane`` elements' ``DeltaT`` (no ``TimeIncrement``).

    Bio-Formats and many acquisition programs state each plane's time since the start, not a step. The
    planes of the first Z slice and channel (``TheZ = TheC = 0``) give one time per ``TheT``; the step
    is (last - first) / (their T distance). ``None`` with fewer than two such time points, an unknown
    unit or times that do not increase.
    """
    at: dict[int, float] = {}
    for plane in pixels:
        if local_name(plane.tag) != "Plane" or plane.get("DeltaT") is None:
            continue
        the_t = _index(plane, "TheT")
        if the_t is None or _index(plane, "TheZ") != 0 or _index(plane, "TheC") != 0:
            continue
        factor = time_factor(plane.get("DeltaTUnit", "s"))
        try:
            seconds = float(plane.get("DeltaT", "")) * float(factor) if factor is not None else math.nan
        except ValueError:
            seconds = math.nan
        if math.isfinite(seconds):
            at.setdefault(the_t, seconds)
    if len(at) < 2:
        return None
    first, last = min(at), max(at)
    return positive_um((at[last] - at[first]) / (last - first))


def ome_channel_names(pixels: ET.Element) -> list[tuple[str | None, int]]:
    """``(name, samples_per_pixel)`` of each OME ``Channel`` of ``pixels``."""
    out: list[tuple[str | None, int]] = []
    for el in pixels:
        if local_name(el.tag) == "Channel":
            try:
                spp = int(el.get("SamplesPerPixel", "1"))
            except ValueError:
                spp = 1
            out.append((el.get("Name"), spp))
    return out
