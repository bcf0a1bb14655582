"""Segment several equal-shape frames with one Cellpose 3 ``eval`` call, with the same masks as one by one.

:func:`cellpose_eval_batch` stacks the frames as a ``(N, Y, X)`` array and evaluates them with
``z_axis=0`` and no stitching, so that Cellpose (3.1) normalises each plane on its own, cuts every
plane into 224x224 tiles and runs the tiles of ``batch_size // tiles_per_frame`` frames together
through the network (``core.run_net``), then computes each plane's masks on the model's device (GPU
when the model is there). Per plane this is the same arithmetic as a single-frame ``eval``; on CPU the
flows and masks are bit-identical (checked by the tests). On a GPU, cuDNN may pick a different
convolution algorithm for a different batch size, so the network outputs can differ in the last bits;
masks are compared in the tests where a GPU is present.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["cellpose_eval_batch"]


class _DropStackWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "masks are made per plane only" not in record.getMessage()


@contextlib.contextmanager
def _quiet_stack_warning() -> Iterator[None]:
    """Silence Cellpose's "3D stack used, but ... per plane only" warning: per plane is the point."""
    logger = logging.getLogger("cellpose.models")
    flt = _DropStackWarning()
    logger.addFilter(flt)
    try:
        yield
    finally:
        logger.removeFilter(flt)


def cellpose_eval_batch(
    model: Any,
    images: Sequence[NDArray[Any]],
    *,
    channels: Sequence[int] | None = (0, 0),
    **eval_kwargs: Any,
) -> tuple[list[NDArray[Any]], list[list[NDArray[Any]]]]:
    """Segment equal-shape 2D ``images`` with one Cellpose 3 ``CellposeModel.eval`` call.

    Parameters
    ----------
    model
        A ``cellpose.models.CellposeModel`` (its ``net`` on CPU, CUDA or MPS).
    images
        ``(Y, X)`` planes of one shape.
    channels
        As for ``eval`` (``[0, 0]``: grayscale).
    **eval_kwargs
        The single-frame ``eval`` arguments (``batch_size``, ``diameter``, ``flow_threshold``,
        ``cellprob_threshold``, ``niter``, ``normalize``, ...). ``diameter`` must be one number for
        the whole group (estimate it per frame beforehand and group equal values). ``z_axis``,
        ``do_3D`` and ``stitch_threshold`` are fixed here.

    Returns
    -------
    masks, flows
        One ``(Y, X)`` label image per input, and per input Cellpose's ``[rgb_flow, dP, cellprob]``
        (``dP`` is ``(2, Y, X)``), exactly as a single-image ``eval`` returns them.
    """
    if not images:
        return [], []
    shape = np.shape(images[0])
    if len(shape) != 2 or any(np.shape(im) != shape for im in images):
        raise ValueError("cellpose_eval_batch needs 2D images of one shape")
    for fixed in ("z_axis", "do_3D", "stitch_threshold", "channel_axis"):
        if fixed in eval_kwargs:
            raise ValueError(f"{fixed} is set by cellpose_eval_batch")
    diameter = eval_kwargs.get("diameter")
    if diameter is not None and np.ndim(diameter) != 0:
        raise ValueError("one diameter for the whole group (group frames by estimated diameter)")
    normalize = eval_kwargs.pop("normalize", True)
    invert = bool(eval_kwargs.pop("invert", False))
    if isinstance(normalize, bool):
        # a dict keeps Cellpose from switching its module-wide default ``norm3D`` off in place;
        # per-plane normalisation is what a stack without stitching gets anyway
        normalize = {"normalize": normalize, "norm3D": False, "invert": invert}
    else:
        normalize = {"invert": invert, **normalize, "norm3D": False}
    n = len(images)
    stack = np.stack([np.asarray(im, dtype=np.float32) for im in images])
    with _quiet_stack_warning():
        masks, flows, _styles = model.eval(
            stack,
            channels=list(channels) if channels is not None else None,
            z_axis=0,
            do_3D=False,
            stitch_threshold=0.0,
            normalize=normalize,
            **eval_kwargs,
        )
    from cellpose import plot

    masks = np.asarray(masks).reshape(n, *shape)
    dp = np.asarray(flows[1]).reshape(2, n, *shape)
    cellprob = np.asarray(flows[2]).reshape(n, *shape)
    # the RGB flow picture is scaled by percentiles of its input: made per frame, as eval does for one
    per_image_flows = [[plot.dx_to_circ(dp[:, i]), dp[:, i], cellprob[i]] for i in range(n)]
    return [masks[i] for i in range(n)], per_image_flows
