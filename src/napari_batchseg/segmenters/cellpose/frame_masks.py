"""One frame's kept flows turned into labels by stages, each stage cached: :class:`FrameMasks`.

Cellpose 3's ``dynamics.resize_and_compute_masks`` (2-D, ``resize=None``, on the CPU) is a chain whose
stages depend on fewer and fewer settings:

1. *raw masks* (``cellprob_threshold``, ``niter``): the cell pixels ``cellprob > threshold`` follow the
   masked flows ``dP * cell / 5.`` for ``niter`` steps (``follow_flows``), and ``get_masks_torch``
   groups their end points into labels;
2. *flow errors* (same key): ``metrics.flow_error`` recomputes each raw object's flows; an object is
   removed when its error exceeds ``flow_threshold`` (``remove_bad_flow_masks``);
3. *final labels* (all three settings): ``utils.fill_holes_and_remove_small_masks(min_size)``.

A slider step on the flow threshold or the minimum size therefore reuses stages 1 and 2 (a few ms);
a step on the cell probability threshold recomputes them, with the exact numba kernels of
:mod:`.exact_kernels` for ``follow_flows``, ``get_masks_torch`` and the flow errors, and Cellpose's own
flow-error removal and ``fill_holes_and_remove_small_masks``. The labels are bit for bit Cellpose's
(``tests/test_rethreshold_exact.py``).

Thread-safe: a background thread may :meth:`FrameMasks.prepare` neighbouring cell probability
thresholds while another asks for :meth:`FrameMasks.labels`; a stage being computed by one thread is
waited for, not computed twice.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
from numpy.typing import NDArray

from .exact_kernels import flow_errors, follow_flows, get_masks

__all__ = ["FrameMasks", "StageCache"]

#: Cellpose's ``max_size_fraction`` (the only value ``eval`` uses)
MAX_SIZE_FRACTION = 0.4
#: memory the cached labels of one frame may take by default
CACHE_BYTES = 32 * 2**20

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class StageCache(Generic[K, V]):
    """A small thread-safe LRU whose missing values are computed once, outside the lock.

    Parameters
    ----------
    capacity
        Entries kept (least recently used dropped first).
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, int(capacity))
        self._values: OrderedDict[K, V] = OrderedDict()
        self._pending: dict[K, threading.Event] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._values

    def get(self, key: K, compute: Callable[[], V]) -> V:
        """The value for ``key``: cached, being computed by another thread (waited for), or computed."""
        while True:
            with self._lock:
                if key in self._values:
                    self._values.move_to_end(key)
                    self.hits += 1
                    return self._values[key]
                pending = self._pending.get(key)
                if pending is None:
                    pending = self._pending[key] = threading.Event()
                    self.misses += 1
                    break
            pending.wait()  # another thread computes it (or failed: then try ourselves)
        try:
            value = compute()
            with self._lock:
                self._values[key] = value
                self._values.move_to_end(key)
                while len(self._values) > self.capacity:
                    self._values.popitem(last=False)
            return value
        finally:
            with self._lock:
                del self._pending[key]
            pending.set()


@dataclass
class _Raw:
    """Stage 1's labels for one cell probability threshold, and stage 2's errors once asked for."""

    mask: NDArray[Any]
    errors: NDArray[np.float64] | None = None


class FrameMasks:
    """Cached stages of Cellpose 3's mask computation for one frame's flows (see the module notes).

    Parameters
    ----------
    dp
        ``(2, Y, X)`` float32 flows.
    cellprob
        ``(Y, X)`` float32 cell probability.
    niter
        Dynamics iterations (the run's).
    capacity
        Cell probability thresholds whose stages 1-2 are kept; final labels kept: 2x as many. Default:
        as many as fit in :data:`CACHE_BYTES` (12 for a 512 x 512 frame, 2 for a 4096 x 4096 one).
    """

    def __init__(self, dp: NDArray[Any], cellprob: NDArray[Any], niter: int,
                 capacity: int | None = None) -> None:
        self.dp = np.ascontiguousarray(dp, dtype=np.float32)
        self.cellprob = np.ascontiguousarray(cellprob, dtype=np.float32)
        if self.dp.ndim != 3 or self.dp.shape[0] != 2 or self.dp.shape[1:] != self.cellprob.shape:
            raise ValueError(f"flows {self.dp.shape} and cell probability {self.cellprob.shape} do not "
                             "match ((2, Y, X) and (Y, X))")
        self.niter = int(niter)
        if capacity is None:  # three label images per threshold (raw, and two final settings), uint16
            capacity = min(12, max(2, CACHE_BYTES // (3 * 2 * self.cellprob.size)))
        self._raw: StageCache[float, _Raw] = StageCache(capacity)
        self._errors_lock = threading.Lock()
        self._final: StageCache[tuple[float, float, int], NDArray[Any]] = StageCache(2 * capacity)

    def cached(self, cellprob_threshold: float) -> bool:
        """Whether stage 1 for this threshold is ready (a step to it costs only the later stages)."""
        return float(cellprob_threshold) in self._raw

    def labels(self, cellprob_threshold: float, flow_threshold: float, min_size: int) -> NDArray[Any]:
        """The labels Cellpose's ``resize_and_compute_masks`` gives with these settings (a new array)."""
        key = (float(cellprob_threshold), float(flow_threshold), int(min_size))
        return self._final.get(key, lambda: self._compute_final(*key)).copy()

    def prepare(self, cellprob_threshold: float, flow_threshold: float) -> None:
        """Compute ahead stages 1 (and 2 when ``flow_threshold > 0``) for ``cellprob_threshold``."""
        raw = self._stage1(float(cellprob_threshold))
        if flow_threshold > 0:
            self._stage2(raw)

    # -- stages -----------------------------------------------------------------------------------------
    def _stage1(self, threshold: float) -> _Raw:
        return self._raw.get(threshold, lambda: _Raw(self._raw_masks(threshold)))

    def _raw_masks(self, threshold: float) -> NDArray[Any]:
        """``compute_masks`` up to ``get_masks_torch`` (its empty cases give zeros, uint16)."""
        cell = self.cellprob > threshold
        if not cell.sum():
            return np.zeros(self.cellprob.shape, "uint16")
        ys, xs = np.nonzero(cell)
        inds = (ys, xs)
        p = follow_flows(self.dp * cell / 5., inds, self.niter)
        shape = (int(self.dp.shape[1]), int(self.dp.shape[2]))
        return get_masks(p, inds, shape, max_size_fraction=MAX_SIZE_FRACTION)

    def _stage2(self, raw: _Raw) -> NDArray[np.float64]:
        with self._errors_lock:  # computed once per raw mask (short: numba)
            if raw.errors is None:
                raw.errors = flow_errors(raw.mask, self.dp)
            return raw.errors

    def _compute_final(self, cellprob_threshold: float, flow_threshold: float, min_size: int) -> NDArray[Any]:
        from cellpose import utils

        raw = self._stage1(cellprob_threshold)
        mask = raw.mask.copy()
        if mask.max() > 0 and flow_threshold > 0:  # remove_bad_flow_masks with the errors computed once
            bad = 1 + (self._stage2(raw) > flow_threshold).nonzero()[0]
            mask[np.isin(mask, bad)] = 0
        if mask.max() < 2**16 and mask.dtype != "uint16":
            mask = mask.astype("uint16")
        return np.asarray(utils.fill_holes_and_remove_small_masks(mask, min_size=min_size))
