"""Lazy Nikon ND2 reader (:class:`ND2Source`) built on the ``nd2`` package.

An ND2 file is a sequence of frames; each frame holds all channels (and RGB components) of one
combination of the experiment loops (positions ``P``, time ``T``, Z ``Z``). :meth:`ND2Source.read_plane`
reads exactly one frame with :meth:`nd2.ND2File.read_frame` and returns one channel of it.
"""

from __future__ import annotations

import contextlib
import math
import threading
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import AmbiguousAxesError, InputError, describe
from .formats import check_file, parse_axes
from .sources import ImageSource, PixelSize, SourceInfo

_FRAME_AXES = ("C", "Y", "X", "S")  # axes stored inside one ND2 frame
_LOOP_AXES = ("P", "T", "Z")  # axes an ND2 experiment loop can stand for


def _explain(exc: BaseException) -> str:
    """A short, plain description of an error raised by the nd2 package."""
    msg = str(exc)
    if "ChunkMap" in msg or "chunk" in msg.lower():
        return (
            "its index (chunk map) at the end of the file is missing or damaged; "
            "was the file copied completely?"
        )
    text = describe(exc)  # one line: the type and the message's first line
    return text if len(text) <= 200 else text[:200] + "..."


def _loop_name(axis: str) -> str:
    return {"U": "unknown (custom loop)"}.get(axis, axis)


class ND2Source(ImageSource):
    """A Nikon ND2 file, read one frame at a time. The file stays open until :meth:`close`.

    Parameters
    ----------
    path
        The file.
    axes
        Optional override of the file's axes (see :func:`~.reader.open_source`).
    checked
        ``True`` when the caller has already run :func:`~.formats.check_file` on ``path`` and found
        ND2 content (as :func:`~.reader.open_source` does); the file's first bytes are then not read
        again.
    """

    def __init__(self, path: str | Path, axes: str | None = None, *, checked: bool = False) -> None:
        self.path = Path(path)
        self._name = self.path.name
        self._lock = threading.Lock()
        self._f: Any = None
        found = "nd2" if checked else check_file(self.path, "nd2")
        if found != "nd2":
            raise InputError(f"{self._name}: not an ND2 file (its content is {found.upper()})")
        override = parse_axes(axes, self.path)
        try:
            import nd2
        except ImportError as exc:  # pragma: no cover - nd2 is a hard dependency
            raise InputError(f"{self._name}: reading ND2 files needs the 'nd2' package") from exc
        try:
            self._f = nd2.ND2File(self.path)
            self._setup(override)
        except InputError:
            self.close()
            raise
        except Exception as exc:
            self.close()
            raise InputError(f"{self._name}: truncated or corrupt ND2 file: {_explain(exc)}") from exc

    # ------------------------------------------------------------------ setup

    def _setup(self, override: str | None) -> None:
        f = self._f
        nd2_sizes = {str(k): int(v) for k, v in f.sizes.items()}
        native_axes = "".join(nd2_sizes)
        loop_axes = [a for a in nd2_sizes if a not in _FRAME_AXES]
        dims = "x".join(str(n) for n in nd2_sizes.values())

        # canonical letter of each loop axis
        if override is None:
            unknown = [a for a in loop_axes if a not in _LOOP_AXES]
            if unknown:
                listed = [a for a in nd2_sizes if a != "S"]
                example = "".join("T" if a in unknown else a for a in listed)
                raise AmbiguousAxesError(
                    f"{self._name}: ambiguous axes: the file's dimensions are '{native_axes}' "
                    f"(shape {dims}) and loop(s) {', '.join(_loop_name(a) for a in unknown)} could "
                    f"be time, Z or positions. Say which with the axes option, e.g. "
                    f"axes='{example}' (CLI: --axes {example})"
                )
            loop_map = {a: a for a in loop_axes}
        else:
            listed = [a for a in nd2_sizes if a != "S"]
            if len(override) != len(listed):
                raise InputError(
                    f"{self._name}: axes={override!r} has {len(override)} letters but the file has "
                    f"{len(listed)} dimensions: '{''.join(listed)}' (shape "
                    f"{'x'.join(str(nd2_sizes[a]) for a in listed)})"
                )
            loop_map = {}
            for native, new in zip(listed, override, strict=True):
                if native in _FRAME_AXES and new != native:
                    raise InputError(
                        f"{self._name}: axes={override!r} would turn the file's '{native}' axis "
                        f"into '{new}'; in an ND2 file only the loop axes "
                        f"({''.join(loop_axes) or 'none'}) can be renamed, to P, T or Z"
                    )
                if native not in _FRAME_AXES:
                    if new not in _LOOP_AXES:
                        raise InputError(
                            f"{self._name}: axes={override!r} would turn the loop axis '{native}' "
                            f"into '{new}'; loop axes can only be P, T or Z"
                        )
                    loop_map[native] = new
        self._loop_axes = loop_axes
        self._loop_shape = tuple(nd2_sizes[a] for a in loop_axes)
        self._loop_canon = [loop_map[a] for a in loop_axes]

        attrs = f.attributes
        self._n_chan = int(attrs.channelCount or 1)
        self._n_comp = int(f.components_per_channel)
        self._height = int(attrs.heightPx)
        self._width = int(attrs.widthPx or nd2_sizes.get("X", 0))
        sizes = {a: 1 for a in "PTCZYX"}
        for a, canon in zip(loop_axes, self._loop_canon, strict=True):
            sizes[canon] = nd2_sizes[a]
        sizes["C"] = self._n_chan * self._n_comp
        sizes["Y"] = self._height
        sizes["X"] = self._width
        self._n_frames = int(math.prod(self._loop_shape))
        frame_count = getattr(f, "_frame_count", None)
        if isinstance(frame_count, int) and frame_count and frame_count < self._n_frames:
            raise InputError(
                f"{self._name}: truncated or corrupt ND2 file: its loops describe "
                f"{self._n_frames} frames but it holds {frame_count}"
            )

        channel_names = self._channel_names()
        pixel_size = self._pixel_size()
        position_names = self._position_names(sizes["P"])
        extra: dict[str, Any] = {"nd2_sizes": nd2_sizes}
        if override is not None:
            extra["axes_override"] = override
        self.info = SourceInfo(
            path=self.path,
            sizes=sizes,
            dtype=np.dtype(f.dtype),
            channel_names=channel_names,
            pixel_size=pixel_size,
            native_axes=native_axes,
            position_names=position_names,
            format="nd2",
            extra=extra,
        )

    def _channel_names(self) -> list[str]:
        try:
            chans = self._f.metadata.channels or []
            names = [str(ch.channel.name or f"C{i}") for i, ch in enumerate(chans)]
        except Exception:
            names = []
        if len(names) != self._n_chan:
            names = [f"C{i}" for i in range(self._n_chan)]
        if self._n_comp == 1:
            return names
        comps = "RGBA" if self._n_comp in (3, 4) else [str(k) for k in range(self._n_comp)]
        if self._n_chan == 1:
            return [str(comps[k]) for k in range(self._n_comp)]
        return [f"{n} {comps[k]}" for n in names for k in range(self._n_comp)]

    def _pixel_size(self) -> PixelSize:
        """Voxel size from ``voxel_size()``; axes the file marks as uncalibrated are ``None``."""
        f = self._f
        try:
            vx = f.voxel_size()
        except Exception:
            return PixelSize()
        calibrated: tuple[bool, ...] = (True, True, True)
        try:
            chans = f.metadata.channels or []
            if chans:
                calibrated = tuple(bool(v) for v in chans[0].volume.axesCalibrated)
        except Exception:
            pass

        def ok(value: Any, flag: bool) -> float | None:
            try:
                v = float(value)
            except (TypeError, ValueError):
                return None
            return v if flag and math.isfinite(v) and v > 0 else None

        return PixelSize(
            x=ok(vx.x, calibrated[0]), y=ok(vx.y, calibrated[1]), z=ok(vx.z, calibrated[2]),
            t=self._time_increment(),
        )

    def _time_increment(self) -> float | None:
        """Seconds between time points: the time loop's measured mean period, else its set period.

        A loop run "as fast as possible" has a set period of 0; the mean of the intervals the
        microscope recorded (``periodDiff.avg``) is then the only true figure. ``None`` without a
        time loop or any positive period.
        """
        try:
            loops = [lp for lp in self._f.experiment if lp.type in ("TimeLoop", "NETimeLoop")]
        except Exception:
            return None
        if len(loops) != 1:
            return None  # no time loop, or several phases with different periods
        params = loops[0].parameters
        for value in (getattr(getattr(params, "periodDiff", None), "avg", None),
                      getattr(params, "periodMs", None)):
            try:
                ms = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                continue
            if math.isfinite(ms) and ms > 0:
                return ms / 1000.0
        return None

    def _position_names(self, n_positions: int) -> list[str]:
        if n_positions <= 1:
            return []
        try:
            for loop in self._f.experiment:
                if loop.type == "XYPosLoop":
                    points = list(loop.parameters.points)
                    if len(points) == n_positions:
                        return [
                            str(getattr(pt, "name", "") or f"P{i}") for i, pt in enumerate(points)
                        ]
        except Exception:
            pass
        return []

    # ------------------------------------------------------------------ reading

    def seq_index(self, p: int, t: int, z: int) -> int:
        """Frame number in the file of loop coordinates ``(p, t, z)``."""
        if not self._loop_shape:
            return 0
        canon = {"P": p, "T": t, "Z": z}
        coords = [canon[c] for c in self._loop_canon]
        return int(np.ravel_multi_index(coords, self._loop_shape))

    def read_plane(self, p: int, t: int, c: int, z: int) -> NDArray[Any]:
        """Return plane ``(p, t, c, z)`` as a 2D ``(Y, X)`` array, reading only its ND2 frame."""
        self._check_index(p, t, c, z)
        index = self.seq_index(p, t, z)
        with self._lock:
            if self._f is None or self._f.closed:
                raise InputError(f"{self._name}: the file was closed")
            try:
                frame = self._f.read_frame(index)
                # read_frame returns (channels, Y, X, components) squeezed; restore all four axes
                frame = np.reshape(frame, (self._n_chan, self._height, self._width, self._n_comp))
                ch, comp = divmod(c, self._n_comp)
                plane = np.array(frame[ch, :, :, comp], copy=True)  # detach from the memory map
            except Exception as exc:
                raise InputError(
                    f"{self._name}: truncated or corrupt ND2 file: cannot read frame {index} "
                    f"(P={p} T={t} Z={z}): {_explain(exc)}"
                ) from exc
        return plane

    def close(self) -> None:
        """Close the ND2 file (idempotent)."""
        lock = getattr(self, "_lock", None)
        with lock if lock is not None else contextlib.nullcontext():  # never under a running read
            f, self._f = self._f, None
            if f is not None:
                f.close()

    def __repr__(self) -> str:
        info = getattr(self, "info", None)
        return f"ND2Source({str(self.path)!r}, {info.describe() if info else 'closed'})"
