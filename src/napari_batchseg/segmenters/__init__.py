"""Segmentation methods behind one protocol; :func:`load_segmenter` builds the one a run asks for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Segmenter, SegmenterBase, SegmentOutput

if TYPE_CHECKING:
    from ..params import SegmentationParams

__all__ = ["SegmentOutput", "Segmenter", "SegmenterBase", "check_model", "load_segmenter"]


def load_segmenter(params: SegmentationParams) -> Segmenter:
    """Build and load the segmenter that ``params.method`` names (loads the model once)."""
    if params.method == "cellpose":
        from .cellpose import load_cellpose

        return load_cellpose(params)
    if params.method == "sam":
        from .microsam import MicroSamSegmenter

        return MicroSamSegmenter.from_params(params)
    raise ValueError(f"unknown method {params.method!r}")


def check_model(params: SegmentationParams) -> list[str]:
    """Check the model files ``params`` names as :func:`load_segmenter` finds them; loads, fetches nothing.

    What ``segment --dry-run`` checks: a mistyped or not yet trained ``--model`` (or a micro-sam
    ``--checkpoint``, or a Cellpose 3 ``--restore`` model, that does not exist or is not what it should
    be) raises the run's own :class:`~napari_batchseg.errors.ModelError` ("... not found ..."), as does
    a missing built-in model with ``BATCHSEG_OFFLINE`` set (the run would fail). A built-in model that
    is missing otherwise is not downloaded (nothing is written): the lines returned say what the run
    would download (it needs internet), from where, and into which folder. A built-in model whose files
    are all there gets one line saying so, and where (:meth:`.on_disk.OnDisk.note`).
    """
    from ._weights import checking_only

    with checking_only() as notes:
        if params.method == "sam":
            from .microsam.weights import check_weights

            check_weights(params)
        elif params.method == "cellpose":
            from .catalog import cellpose_major

            if cellpose_major() >= 4:
                from .cellpose.v4 import Cellpose4Segmenter

                Cellpose4Segmenter.resolve_weights(params)
            else:
                from .cellpose import CellposeSegmenter

                CellposeSegmenter.resolve_weights(params)
                if params.restore:  # the restore model is resolved as Restorer.load resolves it
                    from .cellpose.restore import restore_weights

                    restore_weights(params.restore)
    from .on_disk import builtin_on_disk

    found = builtin_on_disk(params.method, str(params.model), sam_mode=str(params.sam_mode),
                            diameter=params.diameter, checkpoint=params.checkpoint)
    if found is not None and found.present:
        notes.insert(0, found.note())
    return notes
