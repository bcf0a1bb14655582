"""The npe2 reader's time axis: T in seconds (the input's time step), a mask over its own input frames."""

from __future__ import annotations

import numpy as np
import pytest

from _downstream import ND2
from _timelapse import FIRST, LAST, frames_10_13, nd2_time_increment
from napari_batchseg.view.layer_files import read_paths


def test_time_lapse_and_its_mask_share_one_time_axis_in_seconds():
    dt = nd2_time_increment()  # the nd2 library's own frame times
    [(movie, image_kw, image_kind)] = read_paths(str(ND2))
    [(labels, mask_kw, mask_kind)] = read_paths(str(frames_10_13()))
    assert (image_kind, mask_kind) == ("image", "labels")
    for kw in (image_kw, mask_kw):
        assert kw["axis_labels"] == ("T", "Y", "X")
        assert tuple(kw["units"]) == ("second", "µm", "µm")  # T is time, not micrometres
        assert kw["scale"][0] == pytest.approx(dt, rel=1e-9)
        assert tuple(kw["scale"][1:]) == (0.325, 0.325)
    assert mask_kw["translate"][0] == pytest.approx(FIRST * dt, rel=1e-9)
    assert labels.shape[0] == LAST - FIRST + 1
    # mask frame k lies at the world time of input frame FIRST + k
    for k in range(labels.shape[0]):
        world = mask_kw["translate"][0] + k * mask_kw["scale"][0]
        assert world / image_kw["scale"][0] == pytest.approx(FIRST + k)
    assert np.asarray(movie).shape[0] == 53


def test_layers_open_in_napari_with_their_units():
    from napari.components import ViewerModel

    viewer = ViewerModel()
    for path in (ND2, frames_10_13()):
        for data, kw, kind in read_paths(str(path)):
            viewer._add_layer_from_data(data, kw, kind)
    image, mask = viewer.layers
    for layer in (image, mask):
        assert [str(u) for u in layer.units] == ["second", "micrometer", "micrometer"]
    # the world time of mask frame 0 is input frame 10 of the image layer
    world_t = mask.data_to_world((0, 0, 0))[0]
    assert image.world_to_data((world_t, 0, 0))[0] == pytest.approx(FIRST)
