"""Segment several frames in one model call (GPU batching), with the same masks as one by one.

:class:`BatchedFrames` is an engine :data:`~..engine.FrameSegmenter`: it groups consecutive prepared
frames of equal shape (up to ``batch_frames``) and hands each group to
:meth:`Segmenter.segment_batch`. Frames keep their order; a group never mixes shapes.

:func:`cellpose_eval_batch` is how a Cellpose 3 model segments such a group in one go: the frames are
stacked as a ``(N, Y, X)`` array and evaluated with ``z_axis=0`` and no stitching, so that Cellpose
(3.1) normalises each plane on its own, cuts every plane into 224x224 tiles and runs the tiles of
``batch_size // tiles_per_frame`` frames together through the network (``core.run_net``), then
computes each plane's masks on the model's device (GPU when the model is there). Per plane this is
the same arithmetic as a single-frame ``eval``; on CPU the flows and masks are bit-identical
(checked by the tests). On a GPU, cuDNN may pick a different convolution algorithm for a different
batch size, so the network outputs can differ in the last bits; masks are compared in the tests where
a GPU is present.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..engine import Task
    from ..prepare import PreparedFrame
    from ..segmenters import Segmenter, SegmentOutput


class BatchedFrames:
    """A frame segmenter that calls ``segmenter.segment_batch`` on groups of equal-shape frames.

    Parameters
    ----------
    segmenter
        A loaded segmenter. Without a ``segment_batch`` method, or with a ``set_context`` method (a
        segmenter that caches per named frame, like micro-sam's), frames are segmented one by one.
    batch_frames
        Largest group (frames); ``1`` segments frame by frame.
    """

    def __init__(self, segmenter: Segmenter, batch_frames: int) -> None:
        self.segmenter = segmenter
        self.batch_frames = max(1, int(batch_frames))
        self._batch = getattr(segmenter, "segment_batch", None)
        self._set_context = getattr(segmenter, "set_context", None)

    def describe(self) -> dict[str, Any]:
        """The segmenter's own description (for the run log)."""
        return self.segmenter.describe()

    def __call__(
        self, task: Task, frames: Iterable[PreparedFrame]
    ) -> Iterator[tuple[PreparedFrame, SegmentOutput, float]]:
        """Segment ``frames`` of ``task`` in groups; yield ``(frame, output, seconds)`` in order."""
        from ..engine import file_key

        key = file_key(task)
        group: list[PreparedFrame] = []
        for frame in frames:
            if group and (len(group) >= self.batch_frames or frame.image.shape != group[0].image.shape):
                yield from self._run(key, group)
                group = []
            group.append(frame)
        if group:
            yield from self._run(key, group)

    def _run(
        self, key: str, group: list[PreparedFrame]
    ) -> Iterator[tuple[PreparedFrame, SegmentOutput, float]]:
        if len(group) == 1 or self._batch is None or self._set_context is not None:
            # segmenters that key caches by frame (micro-sam's embedding cache) see each frame named
            for frame in group:
                if self._set_context is not None:
                    self._set_context(key, f"T{frame.t}")
                t0 = time.perf_counter()
                out = self.segmenter.segment(frame.image)
                yield frame, out, time.perf_counter() - t0
            return
        t0 = time.perf_counter()
        outs = self._batch([f.image for f in group])
        each = (time.perf_counter() - t0) / len(group)
        if len(outs) != len(group):
            raise RuntimeError(f"segment_batch returned {len(outs)} results for {len(group)} frames")
        for frame, out in zip(group, outs, strict=True):
            yield frame, out, each


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
    images: Sequence[np.ndarray],
    *,
    channels: Sequence[int] | None = (0, 0),
    **eval_kwargs: Any,
) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
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


def cellpose_segment_batch(segmenter: Any, images: Sequence[np.ndarray]) -> list[SegmentOutput]:
    """:meth:`CellposeSegmenter.segment_batch` done with one ``eval`` call per group of frames.

    Frames are grouped by shape and by the diameter used (given, the training diameter, or estimated
    per frame by the size model, exactly as :meth:`~CellposeSegmenter.segment` does); each group of
    two or more goes through :func:`cellpose_eval_batch`, lone frames through ``segment``. Results
    come back in the input order, with the same labels, debug arrays and info as ``segment`` gives.
    """
    from ..segmenters.base import SegmentOutput

    arrays = [np.asarray(im) for im in images]
    if len(arrays) <= 1 or any(a.ndim != 2 for a in arrays):
        return [segmenter.segment(a) for a in arrays]
    t0 = time.perf_counter()
    chosen = [segmenter._diameter_for(a) for a in arrays]
    groups: dict[tuple, list[int]] = {}
    for i, (a, (diameter, _reported)) in enumerate(zip(arrays, chosen, strict=True)):
        key = (a.shape, None if diameter is None else float(np.asarray(diameter).item()))
        groups.setdefault(key, []).append(i)
    outs: list[SegmentOutput | None] = [None] * len(arrays)
    for (_shape, diameter), members in groups.items():
        if len(members) == 1:
            outs[members[0]] = segmenter.segment(arrays[members[0]])
            continue
        masks, flows = cellpose_eval_batch(
            segmenter.model, [arrays[i] for i in members],
            batch_size=segmenter.batch_size, diameter=diameter,
            flow_threshold=segmenter.flow_threshold, cellprob_threshold=segmenter.cellprob_threshold,
            niter=segmenter.niter,
        )
        seconds = (time.perf_counter() - t0) / len(arrays)
        for j, i in enumerate(members):
            labels = np.asarray(masks[j])
            debug: dict[str, np.ndarray] = {}
            if segmenter.debug:
                debug["flows"] = np.asarray(flows[j][0], dtype=np.uint8)
                debug["cellprob"] = np.asarray(flows[j][2], dtype=np.float32)
            info = {
                "diameter": round(float(chosen[i][1]), 3),
                "n_objects": int(labels.max()) if labels.size else 0,
                "seconds": round(seconds, 4),
                "batched": len(members),
            }
            outs[i] = SegmentOutput(labels=labels, debug=debug, info=info)
    return [o for o in outs if o is not None]
