"""An output's first input frame, read for display while the run computes its mask (without Qt).

The engine hands the prepared input over with the mask (``FrameDone``): a single image (or a movie's
first frame) that takes seconds to segment left the canvas black all that time (GUI trial 45). The
streamer (:meth:`~napari_batchseg.view.streamer.Streamer.task_started`) reads that frame again in a
worker with this function, prepared as the run prepares it, and shows it until the frame comes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..events import Task
from ..io.reader import open_source
from ..params import SegmentationParams
from ..prepare import prepare_frame, resolve_channels

__all__ = ["read_first_input"]


def read_first_input(task: Task, params: SegmentationParams) -> NDArray[Any]:
    """The prepared first frame of ``task``'s output (channel chosen, Z projected), as float32.

    Reads the input file (run in a worker). Several channels (Cellpose 4): the first one handed to the
    network, as a reopened result shows it.
    """
    frames = task.frame_indices(params)
    source = open_source(task.input, task.axes(params), dataset=params.dataset)
    try:
        resolved = resolve_channels(source.info, params.channel)
        channel = resolved if isinstance(resolved, int) else resolved[0]
        frame = prepare_frame(source, task.position, frames[0], channel, params.zrange, params.z_projection)
        return np.asarray(frame.image, np.float32)
    finally:
        source.close()
