"""The pool of stream layers on a stand-in viewer (Qt-free: view.layer_pool; napari's own in
tests/_napari/test_layer_pool_turns.py): which layers show an output, placed where, in which turns."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from napari_batchseg.io.sources import PixelSize, SourceInfo
from napari_batchseg.params import SegmentationParams
from napari_batchseg.view.buffers import TaskView
from napari_batchseg.view.layer_files import META_KEY, layer_meta
from napari_batchseg.view.layer_pool import LayerPool
from napari_batchseg.view.stream_layers import PLACEHOLDER
from test_view_layer_ops import FakeLayer


class _Layer(FakeLayer):
    def __init__(self, data: Any, name: str, metadata: dict[str, Any], **kw: Any) -> None:
        super().__init__(data, name, metadata[META_KEY])
        for key, value in {**kw, "events": SimpleNamespace(paint=SimpleNamespace(connect=id))}.items():
            object.__setattr__(self, key, value)


class _Selection(set):
    active: object = None


class _Layers(list):
    def __init__(self) -> None:
        super().__init__()
        self.selection = _Selection()

    @contextlib.contextmanager
    def batched_update(self) -> Iterator[None]:
        yield


class _Dims:
    def __init__(self) -> None:
        self.point = (0.0, 0.0)

    @property
    def ndim(self) -> int:
        return len(self.point)

    @ndim.setter
    def ndim(self, n: int) -> None:  # a new axis comes first
        self.point = (0.0,) * max(n - len(self.point), 0) + self.point

    @property
    def displayed(self) -> tuple[int, int]:
        return self.ndim - 2, self.ndim - 1

    def set_point(self, axis: int, value: float) -> None:
        point = list(self.point)
        point[axis] = value
        self.point = tuple(point)


class _Viewer:
    """napari's viewer as the pool uses it: a layer added on top and selected, dims growing, view resets."""

    def __init__(self) -> None:
        self.layers = _Layers()
        self.dims = _Dims()
        self.resets = 0

    def _add(self, data: Any, **kw: Any) -> _Layer:
        layer = _Layer(data, **kw)
        self.layers.append(layer)
        self.layers.selection.clear()  # (napari without the private attribute the pool unsets)
        self.layers.selection.add(layer)
        self.layers.selection.active = layer
        self.dims.ndim = max(self.dims.ndim, layer.ndim)
        return layer

    add_image = add_labels = _add

    def reset_view(self) -> None:
        self.resets += 1


def _view(key: str, shape: tuple[int, ...], **kw: Any) -> TaskView:
    scale = (10.0, 2.0, 0.5, 0.5) if len(shape) == 4 else (10.0, 0.5, 0.5)
    return TaskView(key, key, shape[0], np.zeros(shape, np.uint16), np.zeros(shape, np.float32), scale,
                    PixelSize(x=0.5, y=0.5, z=2.0, t=10.0), **kw)


def test_a_first_volume_pair_takes_three_turns_over_its_input_s_frames_and_slices() -> None:
    viewer = _Viewer()
    pool = LayerPool(viewer)
    assert pool.show(_view("k", (2, 5, 8, 8), first_frame=1, first_z=2), None, (0.0, 9.0))
    assert not viewer.layers and viewer.dims.ndim == 4  # the new axes' sliders first
    assert pool.next_part() == (None, True)
    [image] = viewer.layers
    assert image.name == "k (input)" and image.contrast_limits == (0.0, 9.0)
    assert pool.next_part() == ("k", False)
    labels = viewer.layers[1]
    for layer in (labels, image):  # frame 1 (10 s), slice 2 (2 µm)
        assert layer.translate == (10.0, 4.0, 0.0, 0.0) and layer.axis_labels == ("T", "Z", "Y", "X")
    assert layer_meta(labels)["first_frame"] == 1 and viewer.resets == 1
    assert viewer.dims.point[1] == 4.0 + 2 * 2.0  # napari's Z slider on the middle slice


def test_the_next_output_retargets_the_labels_now_and_the_image_a_turn_later() -> None:
    viewer = _Viewer()
    pool = LayerPool(viewer)
    pool.show(_view("a", (3, 8, 8)), None)
    pool.finish_image()
    image, labels = viewer.layers
    nxt = _view("b", (3, 8, 8), first_frame=4)
    assert pool.show(nxt, "a", later_contrast=lambda: (1.0, 2.0))  # the image's change left for later
    assert labels.data is nxt.labels and image.data is not nxt.image
    assert labels.translate == (40.0, 0.0, 0.0) and layer_meta(labels)["task_key"] == "b"
    assert pool.finish_image() == "b"
    assert image.data is nxt.image and image.translate == (40.0, 0.0, 0.0) and image.contrast_limits == (1, 2)
    layer_meta(labels)["dirty"] = True  # edited: the next output gets layers of its own
    pool.show(_view("c", (3, 8, 8)), "b")
    pool.finish_image()
    assert len(viewer.layers) == 4 and labels.data is nxt.labels and layer_meta(labels)["task_key"] == "b"


def test_placeholders_are_added_in_later_turns_without_selecting_them() -> None:
    viewer = _Viewer()
    pool = LayerPool(viewer)
    mine = viewer.add_image(np.zeros((4, 4)), name="mine", metadata={META_KEY: {}})
    viewer.layers.selection.add(mine)
    viewer.layers.selection.active = mine
    first = SourceInfo(Path("movie.tif"), {"T": 3, "Y": 8, "X": 8}, np.dtype(np.uint16), ["BF"])
    assert pool.placeholders(first, None, None) is True
    assert [lay.name for lay in viewer.layers] == ["mine"]  # none added in Run's own turn
    assert pool.next_part() == (None, True)  # the image layer
    assert [lay.name for lay in viewer.layers] == ["mine", f"{PLACEHOLDER} (input)"]
    assert pool.next_part() == (PLACEHOLDER, False)  # the labels layer, the last part
    assert [lay.name for lay in viewer.layers][1:] == [f"{PLACEHOLDER} (input)", PLACEHOLDER]
    assert all(lay.visible for lay in pool.layers_for(PLACEHOLDER))
    assert viewer.layers.selection == {mine} and viewer.layers.selection.active is mine
    pool.remove_placeholders()
    assert [lay.name for lay in viewer.layers] == ["mine"]
    volume = SegmentationParams(z_mode="3d", z_range="1-2")
    stack = SourceInfo(Path("stack.tif"), {"T": 3, "Z": 4, "Y": 8, "X": 8}, np.dtype(np.uint16), ["BF"])
    pool.placeholders(stack, volume, None)
    pool.finish_image()
    labels, _ = pool.layers_for(PLACEHOLDER)
    assert labels.name == PLACEHOLDER and labels.data.shape == (3, 2, 8, 8) and labels.translate[1] == 1.0
    pool.remove_placeholders()
    assert [lay.name for lay in viewer.layers] == ["mine"]
