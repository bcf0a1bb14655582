"""Array-likes that read 2D planes on demand, so a viewer shows big files without loading them whole.

:class:`PlaneArray` is the generic one: leading axes (any of P, T, Z, ...) index planes that a function
reads; the last two axes are ``Y, X``. A viewer (napari) only ever asks for the plane(s) on screen.
:func:`source_channel_array` gives one channel of a file this way; prepared frames (channel chosen,
Z projected) are :func:`napari_batchseg.results.prepared_array`.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .sources import ImageSource


class PlaneArray:
    """A read-only ``(*lead, Y, X)`` array whose planes come from ``read(lead_index)``.

    Supports integer, slice, list and ``Ellipsis`` indexing, ``np.asarray`` and the attributes napari
    needs (``shape``, ``dtype``, ``ndim``, ``size``). The last few planes read are cached.
    """

    def __init__(
        self,
        lead_shape: Sequence[int],
        plane_shape: tuple[int, int],
        dtype: np.dtype[Any] | type,
        read: Callable[[tuple[int, ...]], NDArray[Any]],
        cache: int = 8,
        close: Callable[[], None] | None = None,
    ) -> None:
        self._lead = tuple(int(s) for s in lead_shape)
        self._plane = tuple(int(s) for s in plane_shape)
        self.dtype = np.dtype(dtype)
        self._read = read
        self._cache: OrderedDict[tuple[int, ...], NDArray[Any]] = OrderedDict()
        self._cache_size = cache
        self._lock = threading.Lock()
        self._close = close

    def close(self) -> None:
        """Release the file this array reads from (when it owns it); reading afterwards fails."""
        if self._close is not None:
            self._close()
            self._close = None

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape, leading axes then ``(Y, X)``."""
        return self._lead + self._plane

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(np.prod(self.shape))

    def __len__(self) -> int:
        return self.shape[0]

    def plane(self, lead: tuple[int, ...]) -> NDArray[Any]:
        """The ``(Y, X)`` plane at a full leading index (cached)."""
        with self._lock:
            hit = self._cache.get(lead)
            if hit is not None:
                self._cache.move_to_end(lead)
                return hit
        data = np.asarray(self._read(lead), dtype=self.dtype)
        with self._lock:
            self._cache[lead] = data
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return data

    def _normalize(self, key: Any) -> tuple[Any, ...]:
        if not isinstance(key, tuple):
            key = (key,)
        if any(k is Ellipsis for k in key):
            i = next(i for i, k in enumerate(key) if k is Ellipsis)
            fill = self.ndim - (len(key) - 1)
            key = key[:i] + (slice(None),) * fill + key[i + 1:]
        if len(key) > self.ndim:
            raise IndexError(f"too many indices for array of shape {self.shape}")
        full: tuple[Any, ...] = key + (slice(None),) * (self.ndim - len(key))
        return full

    def __getitem__(self, key: Any) -> NDArray[Any]:
        key = self._normalize(key)
        n_lead = len(self._lead)
        lead_lists: list[list[int]] = []
        keep: list[bool] = []
        for k, n in zip(key[:n_lead], self._lead, strict=True):
            if isinstance(k, slice):
                lead_lists.append(list(range(*k.indices(n))))
                keep.append(True)
            elif isinstance(k, (int, np.integer)):
                i = int(k) + (n if k < 0 else 0)
                if not 0 <= i < n:
                    raise IndexError(f"index {int(k)} out of range for axis of size {n}")
                lead_lists.append([i])
                keep.append(False)
            else:
                idx = [int(v) + (n if v < 0 else 0) for v in np.asarray(k).ravel()]
                lead_lists.append(idx)
                keep.append(True)
        yx_key = key[n_lead:]
        planes = [self.plane(tuple(lead))[yx_key] for lead in itertools.product(*lead_lists)]
        sizes = [len(v) for v in lead_lists]
        if planes:
            out = np.stack(planes).reshape(*sizes, *planes[0].shape)
        else:
            probe = np.empty(self._plane, self.dtype)[yx_key]
            out = np.empty((*sizes, *probe.shape), self.dtype)
        squeeze = tuple(i for i, k in enumerate(keep) if not k)
        result: NDArray[Any] = out.squeeze(axis=squeeze) if squeeze else out
        return result

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> NDArray[Any]:
        out = self[...]
        return out if dtype is None else out.astype(dtype)


def shared(source: ImageSource) -> Owner:
    """Wrap a source for several :func:`source_channel_array` calls (closed after the last array)."""
    return Owner(source)


class Owner:
    """Keeps a source open while any array reading from it is alive, and closes it after."""

    def __init__(self, source: ImageSource) -> None:
        self.source = source

    def __del__(self) -> None:
        try:
            self.source.close()
        except Exception:  # noqa: BLE001, S110 - best effort at garbage collection
            pass


def source_channel_array(source: ImageSource | Owner, channel: int, lead_axes: str) -> PlaneArray:
    """The planes of one channel of ``source``, with leading axes ``lead_axes`` (subset of ``PTZ``).

    Axes not in ``lead_axes`` are fixed at index 0. Pass the same :func:`shared` source to several
    arrays so that it is closed when the last of them is gone.
    """
    owner = source if isinstance(source, Owner) else Owner(source)
    info = owner.source.info
    lead_shape = [info.sizes[a] for a in lead_axes]

    def read(lead: tuple[int, ...]) -> NDArray[Any]:
        at = dict(zip(lead_axes, lead, strict=True))
        return owner.source.read_plane(at.get("P", 0), at.get("T", 0), channel, at.get("Z", 0))

    return PlaneArray(lead_shape, (info.sizes["Y"], info.sizes["X"]), info.dtype, read)
