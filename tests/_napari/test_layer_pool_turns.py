"""The stream layers' pool adds a pair into an empty viewer one part per event-loop turn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_batchseg.io.sources import PixelSize
from napari_batchseg.view.buffers import TaskView
from napari_batchseg.view.layer_pool import LayerPool


@pytest.mark.parametrize("visible", [True, False])
def test_a_first_pair_takes_three_turns_new_axes_first(make_napari_viewer, visible):
    # each part is one of napari's long steps (dims sliders of the new T axis, an image layer, a labels
    # layer: ~0.1 s each under software OpenGL); in one turn they were one stall of 0.25 s (Run clicked
    # right after opening, bench_ui --early)
    viewer = make_napari_viewer()
    pool = LayerPool(viewer)
    labels = np.zeros((3, 40, 50), np.uint32)
    image = np.zeros((3, 40, 50), np.float32)
    left = pool.show(TaskView("k", "movie", 3, labels, image, (1.0, 1.0, 1.0), PixelSize()), None,
                     visible=visible)
    assert left and len(viewer.layers) == 0 and viewer.dims.ndim == 3  # the sliders only
    assert pool.next_part() == (None, True)
    assert [lay.name for lay in viewer.layers] == ["movie (input)"]
    assert pool.next_part() == ("k", False)
    assert [lay.name for lay in viewer.layers] == ["movie (input)", "movie"]
    assert all(lay.visible is visible for lay in viewer.layers)


def test_the_placeholder_pair_goes_in_one_full_collection(make_napari_viewer):
    # napari runs a full garbage collection after each layer removal (a Windows OpenGL fix): 0.25-0.45 s
    # with torch and Cellpose in memory. The pair is removed (list emptied, dock closed) as one batch of
    # napari's layer list: one collection, not one per layer in the same turn
    import gc

    from napari_batchseg.io.sources import SourceInfo
    from napari_batchseg.view.stream_layers import PLACEHOLDER

    viewer = make_napari_viewer()
    pool = LayerPool(viewer)
    first = SourceInfo(Path("movie.tif"), {"T": 3, "Y": 40, "X": 50}, np.dtype(np.uint16), ["BF"])
    assert pool.placeholders(first, None, None)
    while pool.next_part()[1]:
        pass
    assert sum(lay is not None for lay in pool.layers_for(PLACEHOLDER)) == 2
    full = []

    def count(phase: str, info: dict) -> None:
        if phase == "start" and info.get("generation") == 2:
            full.append(info)

    automatic = gc.isenabled()
    gc.disable()  # only explicit collections (napari's) are counted
    gc.callbacks.append(count)
    try:
        pool.remove_placeholders()
    finally:
        gc.callbacks.remove(count)
        if automatic:
            gc.enable()
    assert len(viewer.layers) == 0
    assert len(full) == 1
