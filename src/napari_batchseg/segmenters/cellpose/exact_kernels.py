"""Exact CPU re-implementations of two slow stages of Cellpose 3's mask computation (numba).

Cellpose 3's ``dynamics.compute_masks`` on the CPU spends nearly all its time in two places:

* ``follow_flows`` (``steps_interp``'s CPU branch): ``niter`` Euler steps of every cell pixel through
  the bilinearly interpolated flows, one NumPy pass over all pixels per step;
* ``remove_bad_flow_masks`` -> ``metrics.flow_error`` -> ``dynamics.masks_to_flows_cpu``: each object's
  flows recomputed by a NumPy diffusion (``_extend_centers``, ``2 (ly + lx)`` steps of fancy indexing);
* ``get_masks_torch``: integer work (a histogram of the end points, a 5 x 5 max filter, seeds grown in
  11 x 11 windows) in torch operations of a few microseconds each; with torch's thread pool on busy
  cores each of its ~50 operations may wait for the pool (measured: 19 ms of CPU with one torch thread,
  270 ms with two on a loaded 2-core machine).

:func:`follow_flows`, :func:`flow_errors` and :func:`get_masks` compute the same numbers with the same
floating-point operations in the same order and the same precision (the interpolation written as
Cellpose's numba kernel writes it, so that numba types each product alike: some in float32, some in
float64; float32 positions clamped to the image; float64 diffusion, gradients, normalisation by ``sqrt``
and per-object raster-order sums, as NumPy's ``** 0.5`` and ``np.bincount`` do), one point or one object
at a time. They are therefore bit-for-bit identical to Cellpose's functions, which
``tests/test_rethreshold_exact.py`` checks on real flows over a seeded sweep of thresholds.

:func:`follow_flows` also stops a point early when it provably cannot move any more: when a step
returns it to the position it had one or two steps before, the map being a function of the position
alone, the rest of its path repeats (fixed point or 2-cycle) and its end point is known exactly.

Only for Cellpose 3's 2-D CPU path (``interp=True``); everything else uses Cellpose's own functions.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["flow_errors", "follow_flows", "get_masks"]

#: ``get_masks_torch``'s histogram padding
RPAD = 20

_COMPILED: dict[str, Callable[..., Any]] = {}
_COMPILE_LOCK = threading.Lock()


def _compiled(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` compiled by numba (``nogil``: other threads run meanwhile; cached on disk by numba)."""
    kernel = _COMPILED.get(fn.__name__)
    if kernel is None:
        with _COMPILE_LOCK:
            kernel = _COMPILED.get(fn.__name__)
            if kernel is None:
                numba = importlib.import_module("numba")
                kernel = _COMPILED[fn.__name__] = numba.njit(nogil=True, cache=True)(fn)
    return kernel


def _follow(flows: Any, ys: Any, xs: Any, niter: int, out: Any) -> None:  # pragma: no cover - numba
    ly = flows.shape[1]
    lx = flows.shape[2]
    ymax = np.float32(ly - 1)
    xmax = np.float32(lx - 1)
    zero = np.float32(0.0)
    for j in range(ys.shape[0]):
        y = np.float32(ys[j])
        x = np.float32(xs[j])
        y1 = np.float32(-1.0)  # position one step before (none yet)
        x1 = np.float32(-1.0)
        y2 = np.float32(-1.0)  # two steps before
        x2 = np.float32(-1.0)
        t = 0
        while t < niter:
            yi = np.int32(y)
            xi = np.int32(x)
            # float32 fractions, as ``yc - yc_floor`` in Cellpose's kernel: with them numba computes
            # ``I * (1 - fy)`` in float64 but ``I * fy`` in float32; the same expression, same types
            fy = y - np.float32(yi)
            fx = x - np.float32(xi)
            yf = min(ly - 1, max(0, yi))
            xf = min(lx - 1, max(0, xi))
            yf1 = min(ly - 1, yf + 1)
            xf1 = min(lx - 1, xf + 1)
            dy = np.float32(flows[0, yf, xf] * (1 - fy) * (1 - fx) + flows[0, yf, xf1] * (1 - fy) * fx
                            + flows[0, yf1, xf] * fy * (1 - fx) + flows[0, yf1, xf1] * fy * fx)
            dx = np.float32(flows[1, yf, xf] * (1 - fy) * (1 - fx) + flows[1, yf, xf1] * (1 - fy) * fx
                            + flows[1, yf1, xf] * fy * (1 - fx) + flows[1, yf1, xf1] * fy * fx)
            ny = np.float32(y + dy)
            ny = zero if zero >= ny else ny
            ny = ymax if ymax <= ny else ny
            nx = np.float32(x + dx)
            nx = zero if zero >= nx else nx
            nx = xmax if xmax <= nx else nx
            y2, x2 = y1, x1
            y1, x1 = y, x
            y, x = ny, nx
            t += 1
            if y == y1 and x == x1:  # fixed point: every later step stays here
                break
            if y == y2 and x == x2:  # 2-cycle: positions alternate between (y, x) and (y1, x1)
                if (niter - t) % 2 == 1:
                    y, x = y1, x1
                break
        out[0, j] = y
        out[1, j] = x


def follow_flows(flows: NDArray[np.float32], inds: tuple[NDArray[Any], NDArray[Any]],
                 niter: int) -> NDArray[np.float32]:
    """End points of the pixels ``inds`` after ``niter`` steps, as Cellpose 3's ``steps_interp`` (CPU).

    Parameters
    ----------
    flows
        ``(2, Y, X)`` float32: the flows as ``compute_masks`` passes them
        (``dP * (cellprob > threshold) / 5.``).
    inds
        The starting pixels (``np.nonzero(cellprob > threshold)``).
    niter
        Number of steps.

    Returns
    -------
    p
        ``(2, N)`` float32 end points, equal bit for bit to ``dynamics.steps_interp(flows, inds, niter)``.
    """
    flows = np.ascontiguousarray(flows, dtype=np.float32)
    if flows.ndim != 3 or flows.shape[0] != 2:
        raise ValueError(f"flows must be (2, Y, X), got {flows.shape}")
    ys = np.ascontiguousarray(inds[0], dtype=np.float32)
    xs = np.ascontiguousarray(inds[1], dtype=np.float32)
    out = np.empty((2, ys.shape[0]), np.float32)
    _compiled(_follow)(flows, ys, xs, int(niter), out)
    return out


def _object_errors(masks: Any, net: Any, boxes: Any, out: Any) -> None:  # pragma: no cover - numba
    ninth = 1.0 / 9.0
    for k in range(boxes.shape[0]):
        label = boxes[k, 0]
        r0, r1, c0, c1 = boxes[k, 1], boxes[k, 2], boxes[k, 3], boxes[k, 4]
        if r1 <= r0:
            continue  # label absent (Cellpose's find_objects gives None: no flows, error NaN)
        ly = r1 - r0 + 2
        lx = c1 - c0 + 2
        n = 0
        for r in range(r0, r1):
            for c in range(c0, c1):
                if masks[r, c] == label:
                    n += 1
        ys = np.empty(n, np.int64)
        xs = np.empty(n, np.int64)
        i = 0
        sy = 0.0
        sx = 0.0
        for r in range(r0, r1):
            for c in range(c0, c1):
                if masks[r, c] == label:
                    ys[i] = r - r0 + 1
                    xs[i] = c - c0 + 1
                    sy += ys[i]  # integers: every partial sum is exact, as NumPy's mean's
                    sx += xs[i]
                    i += 1
        ymed = sy / n
        xmed = sx / n
        best = 0
        bestd = np.inf
        for i in range(n):
            d = (xs[i] - xmed) ** 2 + (ys[i] - ymed) ** 2
            if d < bestd:
                bestd = d
                best = i
        center = ys[best] * lx + xs[best]
        steps = 2 * (ly + lx)
        tt = np.zeros(ly * lx, np.float64)
        new = np.empty(n, np.float64)
        for _ in range(steps):
            tt[center] += 1
            for i in range(n):
                q = ys[i] * lx + xs[i]
                new[i] = ninth * (tt[q] + tt[q - lx] + tt[q + lx] + tt[q - 1] + tt[q + 1]
                                  + tt[q - lx - 1] + tt[q - lx + 1] + tt[q + lx - 1] + tt[q + lx + 1])
            for i in range(n):
                tt[ys[i] * lx + xs[i]] = new[i]
        s0 = 0.0
        s1 = 0.0
        for i in range(n):
            q = ys[i] * lx + xs[i]
            dy = tt[q + lx] - tt[q - lx]
            dx = tt[q + 1] - tt[q - 1]
            norm = 1e-60 + np.sqrt(dy * dy + dx * dx)
            r = ys[i] - 1 + r0
            c = xs[i] - 1 + c0
            e0 = dy / norm - np.float32(net[0, r, c] / np.float32(5.0))
            e1 = dx / norm - np.float32(net[1, r, c] / np.float32(5.0))
            s0 += e0 * e0
            s1 += e1 * e1
        out[label - 1] = (0.0 + s0 / np.float64(n)) + s1 / np.float64(n)


def flow_errors(masks: NDArray[Any], dp: NDArray[np.float32]) -> NDArray[np.float64]:
    """Per-object flow errors, as Cellpose 3's ``metrics.flow_error(masks, dp)[0]`` on the CPU.

    Parameters
    ----------
    masks
        ``(Y, X)`` labels ``1..N`` (0 = background), e.g. ``get_masks_torch``'s output.
    dp
        ``(2, Y, X)`` float32 network flows (not divided by 5).

    Returns
    -------
    errors
        ``(N,)`` float64: mean squared difference between the flows recomputed from each mask and
        ``dp / 5``, bit for bit Cellpose's (NaN for a label that is absent, as Cellpose's).
    """
    from scipy.ndimage import find_objects

    masks = np.ascontiguousarray(masks)
    dp = np.ascontiguousarray(dp, dtype=np.float32)
    if masks.ndim != 2 or dp.shape != (2, *masks.shape):
        raise ValueError(f"masks {masks.shape} and flows {dp.shape} do not match")
    top = int(masks.max()) if masks.size else 0
    out = np.full(top, np.nan, np.float64)
    if top == 0:
        return out
    boxes = np.zeros((top, 5), np.int64)
    for i, box in enumerate(find_objects(masks)):
        boxes[i, 0] = i + 1
        if box is not None:
            boxes[i, 1:] = (box[0].start, box[0].stop, box[1].start, box[1].stop)
    _compiled(_object_errors)(masks, dp, boxes, out)
    return out


def _seeds(hist: Any) -> Any:  # pragma: no cover - numba
    """Raster-order pixels equal to the max of their clipped 5 x 5 window and above 10."""
    hy, hx = hist.shape
    out = np.empty((hy * hx, 2), np.int64)
    n = 0
    for r in range(hy):
        for c in range(hx):
            v = hist[r, c]
            if v <= 10:
                continue
            top = True
            for rr in range(max(0, r - 2), min(hy, r + 3)):
                for cc in range(max(0, c - 2), min(hx, c + 3)):
                    if hist[rr, cc] > v:
                        top = False
            if top:
                out[n, 0] = r
                out[n, 1] = c
                n += 1
    return out[:n]


def _grow(hist: Any, seeds: Any, py: Any, px: Any, out: Any) -> None:  # pragma: no cover - numba
    """Grow each seed and read the label under each end point into ``out``.

    Each seed (in order) is grown 5 times by a clipped 3 x 3 dilation within its 11 x 11 window, kept
    where the histogram is above 2; its label ``1 + k`` is painted over earlier ones.
    """
    hy, hx = hist.shape
    painted = np.zeros((hy, hx), np.int64)
    grown = np.zeros((11, 11), np.bool_)
    wider = np.zeros((11, 11), np.bool_)
    for k in range(seeds.shape[0]):
        r0 = seeds[k, 0] - 5
        c0 = seeds[k, 1] - 5
        grown[:, :] = False
        grown[5, 5] = True
        for _ in range(5):
            for a in range(11):
                for b in range(11):
                    hit = False
                    for aa in range(max(0, a - 1), min(11, a + 2)):
                        for bb in range(max(0, b - 1), min(11, b + 2)):
                            if grown[aa, bb]:
                                hit = True
                    wider[a, b] = hit and hist[r0 + a, c0 + b] > 2
            grown[:, :] = wider
        for a in range(11):
            for b in range(11):
                if grown[a, b]:
                    painted[r0 + a, c0 + b] = k + 1
    for j in range(py.shape[0]):
        out[j] = painted[py[j], px[j]]


def get_masks(p: NDArray[np.float32], inds: tuple[NDArray[Any], NDArray[Any]],
              shape0: tuple[int, int], max_size_fraction: float = 0.4) -> NDArray[Any]:
    """Labels from the end points ``p``, as Cellpose 3's ``get_masks_torch`` (2-D) computes them.

    Parameters
    ----------
    p
        ``(2, N)`` float32 end points (:func:`follow_flows`); truncated to integers as ``compute_masks``
        does (``.to(torch.int)``).
    inds
        The starting pixels of the points.
    shape0
        ``(Y, X)``.
    max_size_fraction
        Objects larger than this fraction of the image are removed.

    Returns
    -------
    labels
        ``(Y, X)`` uint16 (uint32 from 65,536 seeds) labels, equal to
        ``dynamics.get_masks_torch(torch.from_numpy(p).int(), inds, shape0, max_size_fraction)``.
    """
    import fastremap
    import torch

    ly, lx = int(shape0[0]), int(shape0[1])
    pt = np.asarray(p, dtype=np.float32).astype(np.int32).astype(np.int64) + RPAD
    np.clip(pt[0], 0, ly + RPAD - 1, out=pt[0])
    np.clip(pt[1], 0, lx + RPAD - 1, out=pt[1])
    shape = (ly + 2 * RPAD, lx + 2 * RPAD)
    hist = np.zeros(shape, np.int32)
    np.add.at(hist, (pt[0], pt[1]), 1)
    seeds = _compiled(_seeds)(hist)
    if len(seeds) == 0:
        return np.zeros((ly, lx), dtype="uint16")
    # the seeds ordered by their counts with torch's own argsort (ties as Cellpose orders them)
    order = torch.from_numpy(np.ascontiguousarray(hist[seeds[:, 0], seeds[:, 1]])).argsort().numpy()
    seeds = np.ascontiguousarray(seeds[order])
    n_seeds = len(seeds)
    labels = np.empty(pt.shape[1], np.int64)
    _compiled(_grow)(hist, seeds, np.ascontiguousarray(pt[0]), np.ascontiguousarray(pt[1]), labels)
    masks = np.zeros((ly, lx), dtype="uint16" if n_seeds < 2**16 else "uint32")
    masks[inds] = labels
    # remove big masks and renumber: Cellpose's own statements
    uniq, counts = fastremap.unique(masks, return_counts=True)
    big = np.prod((ly, lx)) * max_size_fraction
    bigc = uniq[counts > big]
    if len(bigc) > 0 and (len(bigc) > 1 or bigc[0] != 0):
        masks = fastremap.mask(masks, bigc)
    fastremap.renumber(masks, in_place=True)
    return masks.reshape((ly, lx))
