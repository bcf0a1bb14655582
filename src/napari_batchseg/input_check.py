"""Whether an input still holds what was segmented: the identity a run's log records, checked again.

A run logs its input's size, modification time and the sha256 of every plane it read
(:class:`HashingSource`, in the order read). Tools that go back to the input of a mask (measure,
export, train) check it with :func:`check_input`: a different size is a different file; the same size
with another modification time (a copied folder, or a file replaced by one of the same size) is
settled by reading the planes again as the run read them (:func:`planes_digest`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ._volume_run import plan_volume
from .errors import AmbiguousAxesError, InputError
from .io.reader import open_source
from .io.sources import ImageSource
from .params import SegmentationParams
from .prepare import prepare_frame, resolve_channels

__all__ = ["HashingSource", "check_input", "planes_digest"]


class HashingSource:
    """An :class:`ImageSource` that hashes every plane it returns, in the order they are read.

    The digest identifies the input's content as used (no extra pass over the file): a repeated run
    with the same parameters reads the same planes in the same order and gets the same digest.
    """

    def __init__(self, source: ImageSource) -> None:
        self._source = source
        self.info = source.info
        self._digest = hashlib.sha256()

    def _add(self, key: tuple[Any, ...], arr: npt.NDArray[Any]) -> npt.NDArray[Any]:
        a = np.ascontiguousarray(arr)
        self._digest.update(repr((key, a.dtype.str, a.shape)).encode())
        self._digest.update(a.data.cast("B"))
        return arr

    def read_plane(self, p: int, t: int, c: int, z: int) -> npt.NDArray[Any]:
        """The source's plane, hashed."""
        return self._add(("plane", p, t, c, z), self._source.read_plane(p, t, c, z))

    def read_zstack(self, p: int, t: int, c: int, z_indices: list[int] | None = None) -> npt.NDArray[Any]:
        """The source's Z stack, hashed."""
        zs = None if z_indices is None else list(z_indices)
        return self._add(("zstack", p, t, c, zs), self._source.read_zstack(p, t, c, z_indices))

    def hexdigest(self) -> str:
        """The sha256 of everything read so far."""
        return self._digest.hexdigest()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._source, name)


def planes_digest(path: Path, params: SegmentationParams, position: int = 0) -> str:
    """The sha256 of the planes a run with ``params`` reads from ``path`` (as the engine reads them).

    The frames are prepared (projected, or a volume's planes read) without segmenting them.
    """
    try:
        source = open_source(path, None, dataset=params.dataset)
    except AmbiguousAxesError:
        source = open_source(path, params.axes, dataset=params.dataset)
    with source:
        src = HashingSource(source)
        info = source.info
        channel = resolve_channels(info, params.channel)
        volume = plan_volume(info, params, channel)
        n_t = info.sizes["T"]
        last = n_t - 1 if params.end_frame is None else min(params.end_frame, n_t - 1)
        for t in range(params.start_frame, last + 1):
            if volume is not None:
                volume.prepare(src, position, t)  # type: ignore[arg-type]
            else:
                prepare_frame(src, position, t, channel, params.zrange,  # type: ignore[arg-type]
                              params.z_projection)
        return src.hexdigest()


def _bad_identity(size: Any, planes: Any) -> str:
    """What is wrong with a logged size (a whole number of bytes) and planes' sha256 (64 hex), or ``""``."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        return f"size {size!r}, not a number of bytes"
    if planes is not None and not (isinstance(planes, str) and re.fullmatch(r"[0-9a-f]{64}", planes)):
        return f"planes_sha256 {planes!r}, not a sha256"
    return ""


#: digests already computed in this process: (path, size, mtime, parameters, position) -> digest
_DIGESTS: dict[tuple[str, int, int, str, int], str] = {}


def check_input(path: Path, identity: Mapping[str, Any], params: SegmentationParams | Mapping[str, Any],
                position: int, where: Path, advice: str = "segment it again",
                log: Path | None = None) -> None:
    """Refuse an input that no longer holds what was segmented, by the ``identity`` its log records.

    ``where``: the mask (named first in the error); ``advice``: what the user can do; ``log``: the log file
    ``identity`` was read from (``None``: the log embedded in ``where``), named when a value in it is
    not what a run writes (a log edited by hand). Nothing is
    checked when the log records no identity (an older log, an in-memory input). A folder input (Zarr)
    is always checked by its planes (a review: a copy elsewhere has another folder size, and chunks
    rewritten in place leave the folder's size and time as they were).

    Raises
    ------
    InputError
        The size differs, or the planes read as the run read them differ (a walk: training and
        measuring went on with an input replaced by another image of the same size); or the log
        records a size or planes' sha256 that is not one (a crash before: ``int("4.6 kB")``).
    """
    size = identity.get("size")
    if size is None:
        return
    expected = identity.get("planes_sha256")
    bad = _bad_identity(size, expected)
    if bad:
        source = f"its log {log}" if log is not None else "the log embedded in it"
        raise InputError(f"{where}: {source} records an input identity that no run writes ({bad}; edited by "
                         f"hand?): its input {path} cannot be checked; {advice}")
    try:
        st = path.stat()
    except OSError:
        return  # (opening it says what is wrong)
    changed = f"{where}: its input {path} changed since it was segmented"
    folder = path.is_dir()  # a Zarr store: its folder's own size and time say nothing of its chunks
    if not folder and st.st_size != size:
        raise InputError(f"{changed} ({st.st_size} bytes, {size} then): {advice}")
    if not expected or (not folder and identity.get("mtime_ns") in (None, st.st_mtime_ns)):
        return
    p = params if isinstance(params, SegmentationParams) else SegmentationParams.from_dict(dict(params))
    key = (str(path), st.st_size, st.st_mtime_ns, p.to_yaml(), int(position))
    if key not in _DIGESTS or folder:  # (a folder's time does not follow its chunks: never cached)
        _DIGESTS[key] = planes_digest(path, p, int(position))
    if _DIGESTS[key] != expected:
        raise InputError(f"{changed} (same size, other planes than those segmented): {advice}")
