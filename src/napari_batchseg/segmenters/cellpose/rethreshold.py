"""Masks from kept Cellpose 3 flows, without the network: :func:`rethreshold_frame`.

``CellposeModel.eval`` (Cellpose 3, ``resample=True``, 2D) runs the network, resizes its output to the
image's size, then computes the masks from the flows ``dP`` and the cell probability with
``dynamics.resize_and_compute_masks`` (``resize=None``: the flows already have the image's size). A run
with ``keep_flows`` saves exactly those two arrays (float32, losslessly) and the iterations used per
frame, so :func:`rethreshold_frame` with the same thresholds gives the same labels pixel for pixel,
and with other thresholds the labels a full run with those thresholds gives, in a fraction of the time.

On the CPU under Cellpose 3 the computation goes through :class:`~.frame_masks.FrameMasks` (the same
stages, two of them with exact numba kernels, several times faster; bit for bit the same labels); on
another device, or another Cellpose, through Cellpose's own ``resize_and_compute_masks``. The napari
widget's threshold sliders keep one :class:`~.frame_masks.FrameMasks` per shown frame, whose cached
stages make flow threshold and minimum size steps nearly free (no Qt here).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...params import CELLPROB_LIMIT, ParameterError, cellpose_major

__all__ = ["Thresholds", "cellpose_labels", "rethreshold_frame"]


@dataclass(frozen=True)
class Thresholds:
    """The settings that turn flows into masks (Cellpose's names and defaults).

    Attributes
    ----------
    cellprob_threshold
        Pixels whose cell probability (a logit) is above it take part, within +/-20.
    flow_threshold
        Objects whose flow error is above it are removed (``0``: no flow check).
    min_size
        Objects smaller than this many pixels are removed (``-1``: none).
    """

    cellprob_threshold: float = 0.0
    flow_threshold: float = 0.4
    min_size: int = 15

    def __post_init__(self) -> None:
        cp, flow = float(self.cellprob_threshold), float(self.flow_threshold)
        if not (math.isfinite(cp) and -CELLPROB_LIMIT <= cp <= CELLPROB_LIMIT):
            raise ParameterError(
                f"cellprob_threshold must be a finite number within +/-{CELLPROB_LIMIT:g}, got {cp}"
            )
        if not (math.isfinite(flow) and flow >= 0):
            raise ParameterError(f"flow_threshold must be a finite number >= 0, got {flow}")
        if isinstance(self.min_size, bool) or int(self.min_size) != self.min_size or self.min_size < -1:
            raise ParameterError(f"min_size must be an integer >= -1, got {self.min_size!r}")


def rethreshold_frame(
    dp: NDArray[Any],
    cellprob: NDArray[Any],
    thresholds: Thresholds,
    niter: int = 200,
    device: Any = None,
) -> NDArray[Any]:
    """Labels of one frame from its kept flows, as Cellpose 3's ``eval`` computes them.

    Parameters
    ----------
    dp
        ``(2, Y, X)`` float32 flows (``eval``'s ``flows[1]``).
    cellprob
        ``(Y, X)`` float32 cell probability (``flows[2]``).
    thresholds
        The thresholds and minimum size to apply.
    niter
        Dynamics iterations (the run recorded the number used per frame).
    device
        ``torch.device`` for the dynamics (default: the CPU). Not the CPU: Cellpose's own functions
        (a GPU's masks may differ from the CPU's in rare pixels).

    Returns
    -------
    labels
        ``(Y, X)`` integer labels (uint16, or uint32 beyond 65,535 objects), 0 = background.
    """
    dp = np.asarray(dp, dtype=np.float32)
    cellprob = np.asarray(cellprob, dtype=np.float32)
    if dp.ndim != 3 or dp.shape[0] != 2 or dp.shape[1:] != cellprob.shape:
        raise ValueError(f"flows {dp.shape} and cell probability {cellprob.shape} do not match "
                         "((2, Y, X) and (Y, X))")
    if (device is None or getattr(device, "type", None) == "cpu") and cellpose_major() == 3:
        from .frame_masks import FrameMasks

        return FrameMasks(dp, cellprob, niter, capacity=1).labels(
            thresholds.cellprob_threshold, thresholds.flow_threshold, thresholds.min_size)
    return cellpose_labels(dp, cellprob, thresholds, niter, device)


def cellpose_labels(dp: NDArray[Any], cellprob: NDArray[Any], thresholds: Thresholds, niter: int = 200,
                    device: Any = None) -> NDArray[Any]:
    """Labels from Cellpose's own ``dynamics.resize_and_compute_masks`` (the reference; any device).

    Same parameters and result as :func:`rethreshold_frame`.
    """
    import torch
    from cellpose import dynamics

    dp = np.asarray(dp, dtype=np.float32)
    cellprob = np.asarray(cellprob, dtype=np.float32)
    masks = dynamics.resize_and_compute_masks(
        dp, cellprob, niter=int(niter), cellprob_threshold=float(thresholds.cellprob_threshold),
        flow_threshold=float(thresholds.flow_threshold), interp=True, resize=None,
        min_size=int(thresholds.min_size), max_size_fraction=0.4,
        device=device if device is not None else torch.device("cpu"),
    )
    labels = np.asarray(masks)
    return labels.reshape(cellprob.shape) if labels.shape != cellprob.shape else labels
