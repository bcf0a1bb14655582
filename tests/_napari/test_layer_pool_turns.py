"""The stream layers' pool adds a pair into an empty viewer one part per event-loop turn."""

from __future__ import annotations

import numpy as np
import pytest

from napari_batchseg._napari._placeholders import LayerPool
from napari_batchseg.io.sources import PixelSize


@pytest.mark.parametrize("visible", [True, False])
def test_a_first_pair_takes_three_turns_new_axes_first(make_napari_viewer, visible):
    # each part is one of napari's long steps (dims sliders of the new T axis, an image layer, a labels
    # layer: ~0.1 s each under software OpenGL); in one turn they were one stall of 0.25 s (Run clicked
    # right after opening, bench_ui --early)
    viewer = make_napari_viewer()
    pool = LayerPool(viewer)
    labels = np.zeros((3, 40, 50), np.uint32)
    image = np.zeros((3, 40, 50), np.float32)
    left = pool.show("k", None, "movie", labels, image, (1.0, 1.0, 1.0), PixelSize(), None, None,
                     visible=visible)
    assert left and len(viewer.layers) == 0 and viewer.dims.ndim == 3  # the sliders only
    assert pool.next_part() == (None, True)
    assert [lay.name for lay in viewer.layers] == ["movie (input)"]
    assert pool.next_part() == ("k", False)
    assert [lay.name for lay in viewer.layers] == ["movie (input)", "movie"]
    assert all(lay.visible is visible for lay in viewer.layers)
