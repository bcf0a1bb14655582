"""Where napari's slider stands along a stream layer's frames, on stand-in dims and layers (view.slider)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from napari_batchseg.view.slider import displayed_index, middle_z_point, slider_slot, t_point


def dims(point: tuple[float, ...], displayed: tuple[int, ...] = ()) -> SimpleNamespace:
    return SimpleNamespace(ndim=len(point), point=point, displayed=displayed or (len(point) - 2,
                                                                                  len(point) - 1))


def layer(shape: tuple[int, ...], t0: float = 0.0, dt: float = 1.0, z0: float = 0.0,
          dz: float = 1.0) -> SimpleNamespace:
    ndim = len(shape)
    return SimpleNamespace(ndim=ndim, data=np.zeros(shape), translate=(t0, z0)[: ndim - 2] + (0.0,) * 2,
                           scale=(dt, dz)[: ndim - 2] + (1.0,) * 2)


def test_the_slider_slot_counts_frames_from_the_layer_s_translate_and_scale() -> None:
    movie = layer((5, 8, 8), t0=40.0, dt=2.0)  # frames 40, 42, ... of its input
    assert slider_slot(dims((44.0, 0.0, 0.0)), movie) == 2
    assert slider_slot(dims((0.0, 44.0, 0.0, 0.0)), movie) == 2  # a 4th axis of another layer first
    assert slider_slot(dims((0.0, 0.0)), movie) is None  # fewer axes than the layer
    assert slider_slot(dims((3.0, 0.0, 0.0)), None) is None


def test_the_frame_on_screen_is_none_when_t_is_drawn_or_the_layer_is_2d() -> None:
    movie = layer((5, 8, 8))
    assert displayed_index(dims((3.0, 0.0, 0.0)), movie) == 3
    assert displayed_index(dims((3.0, 0.0, 0.0), displayed=(0, 1, 2)), movie) is None  # 3D view of T Y X
    assert displayed_index(dims((0.0, 0.0)), layer((8, 8))) is None
    volume = layer((5, 4, 8, 8))
    assert displayed_index(dims((1.0, 2.0, 0.0, 0.0), displayed=(1, 2, 3)), volume) == 1  # one time point


def test_points_for_a_frame_and_the_middle_z_slice() -> None:
    movie = layer((5, 8, 8), t0=40.0, dt=2.0)
    assert t_point(dims((0.0, 0.0, 0.0)), movie, 3) == (0, 46.0)
    assert t_point(dims((0.0, 0.0, 0.0, 0.0)), movie, 0) == (1, 40.0)
    assert t_point(dims((0.0, 0.0)), movie, 1) is None and t_point(dims((0.0,) * 3), None, 1) is None
    volume = layer((2, 7, 8, 8), z0=10.0, dz=0.5)
    assert middle_z_point(dims((0.0,) * 4), volume) == (1, 11.5)  # slice 3 of 7
    assert middle_z_point(dims((0.0,) * 3), movie) is None  # no Z
    assert middle_z_point(dims((0.0,) * 3), volume) is None  # napari's dims lack the volume's Z
