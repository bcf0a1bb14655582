"""The display buffers of an output: shape, scale, contents, placement (Qt-free: view.buffers)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from napari_batchseg.events import FrameDone, Task
from napari_batchseg.io.naming import output_names
from napari_batchseg.io.sources import PixelSize, SourceInfo
from napari_batchseg.params import SegmentationParams
from napari_batchseg.results import quick_range
from napari_batchseg.view.buffers import (
    LABELS_DTYPE,
    STACK_LIMIT_BYTES,
    TaskView,
    display_scale,
    display_shape,
    frame_translate,
    latest_contrast,
    new_buffers,
    place,
    placeholder_geometry,
    same_buffers,
    store_frame,
    take_over,
)
from napari_batchseg.view.layer_files import META_KEY


def _info(t: int, z: int, y: int, x: int) -> SourceInfo:
    return SourceInfo(Path("stack.ome.tif"), {"T": t, "Z": z, "Y": y, "X": x}, np.dtype(np.uint16), ["BF"],
                      pixel_size=PixelSize(x=0.5, y=0.5, z=2.0, t=30.0))


def test_a_projected_movie_is_shown_frame_by_frame_until_the_stack_limit():
    info = _info(6, 5, 70, 110)
    assert display_shape(info, 6, SegmentationParams()) == ((6, 70, 110), False)
    assert display_shape(info, 6, None) == ((6, 70, 110), False)  # no plan known: the 2D frames
    huge = _info(2, 1, 20_000, 20_000)  # two frames of labels + image over the limit: the latest only
    assert 2 * 20_000 * 20_000 * 8 > STACK_LIMIT_BYTES
    assert display_shape(huge, 2, SegmentationParams()) == ((1, 20_000, 20_000), True)


def test_a_volume_run_is_shown_with_its_z_slices():
    info = _info(3, 5, 70, 110)
    assert display_shape(info, 3, SegmentationParams(z_mode="3d")) == ((3, 5, 70, 110), False)


def test_scale_along_time_and_space():
    pixel = PixelSize(x=0.5, y=0.5, z=2.0, t=30.0)
    assert display_scale(pixel, 3) == (30.0, 0.5, 0.5)
    assert display_scale(pixel, 4) == (30.0, 2.0, 0.5, 0.5)
    assert display_scale(PixelSize(), 4) == (1.0, 1.0, 1.0, 1.0)  # unknown: 1


def test_reused_buffers_are_cleared_in_place():
    """A run reusing the shown layers' buffers starts from zeros, in the same arrays (no layer data set)."""
    labels, image = np.zeros((4, 30, 40), np.uint16), np.zeros((4, 30, 40), np.float32)
    labels[1, 3:9, 4:7] = 5
    labels[3, -1, -1] = 70
    image[2] = 0.25
    got = new_buffers((4, 30, 40), (labels, image))
    assert got[0] is labels and got[1] is image
    assert not labels.any() and not image.any()
    fresh = new_buffers((2, 5, 5), None)
    assert [b.dtype for b in fresh] == [labels.dtype, image.dtype] and not any(b.any() for b in fresh)


def _view(n: int = 3, shape: tuple[int, int] = (6, 8)) -> TaskView:
    return TaskView("k", "out", n, np.zeros((n, *shape), LABELS_DTYPE), np.zeros((n, *shape), np.float32),
                    (2.0, 0.5, 0.5), PixelSize(x=0.5, y=0.5, t=2.0))


def _frame(index: int, labels: np.ndarray, image: np.ndarray | None = None) -> FrameDone:
    task = Task(Path("in.tif"), 0, 1, output_names(Path("in.tif")))
    return FrameDone(task, index, index, 3, labels, image, int(labels.max()), [], None, {})


def test_a_frame_is_stored_in_its_slot_and_ids_over_65535_widen_the_buffer():
    view = _view()
    layer = SimpleNamespace(data=view.labels)
    store_frame(view, _frame(1, np.full((6, 8), 7, np.int32), np.ones((6, 8), np.float32)), layer)
    assert view.labels[1].max() == 7 and view.image[1].min() == 1 and not view.labels[0].any()
    assert view.labels.dtype == LABELS_DTYPE and layer.data is view.labels
    big = np.zeros((6, 8), np.uint32)
    big[0, 0] = 70_000
    store_frame(view, _frame(2, big), layer)
    assert view.labels.dtype == np.uint32 and layer.data is view.labels  # the layer shows the wider buffer
    assert int(view.labels[2, 0, 0]) == 70_000 and int(view.labels[1, 0, 0]) == 7
    store_frame(view, _frame(0, np.ones((2, 6, 8), np.uint16)), layer)  # a volume it was not made for
    assert view.volume and not view.labels[0].any()


def test_an_output_that_waited_moves_into_the_shown_buffers():
    view = _view()
    view.labels[0], view.last_index = 4, 0
    shown = (np.full((3, 6, 8), 9, LABELS_DTYPE), np.full((3, 6, 8), 0.5, np.float32))
    take_over(view, shown)
    assert view.labels is shown[0] and view.image is shown[1]
    assert (view.labels[0] == 4).all() and not view.labels[1:].any() and not view.image.any()


def test_layers_are_placed_at_the_outputs_first_frame_along_t():
    view = _view()
    view.t_offset = 1.0
    layers = tuple(SimpleNamespace(translate=(0.0, 0.0, 0.0), metadata={META_KEY: {"role": role}})
                   for role in ("mask", "prepared"))
    place(view, (*layers, None), 5)
    assert view.first_frame == 5
    for layer in layers:  # 5 frames of 2 s after the input's frame 0 at T = 1
        assert layer.translate == (11.0, 0.0, 0.0) and layer.metadata[META_KEY]["first_frame"] == 5


def test_placeholder_geometry_fits_the_first_output() -> None:
    assert placeholder_geometry(None, None) == ((1, 1, 1), (1.0, 1.0, 1.0), 0, 0)  # no file listed
    info = _info(6, 1, 70, 110)
    assert placeholder_geometry(info, None) == ((6, 70, 110), (30.0, 0.5, 0.5), 0, 0)  # default parameters
    shape, scale, first, _ = placeholder_geometry(info, SegmentationParams(start_frame=2, end_frame=3))
    assert (shape, scale, first) == ((2, 70, 110), (30.0, 0.5, 0.5), 2)  # frames 2-3, placed at T=2
    shape, scale, _, _ = placeholder_geometry(_info(3, 5, 70, 110), SegmentationParams(z_mode="3d"))
    assert shape == (3, 5, 70, 110) and scale == (30.0, 2.0, 0.5, 0.5)  # a volume: T, Z, Y, X


def test_the_contrast_of_an_output_shown_late_is_its_newest_frame_s():
    assert latest_contrast(None) is None  # no buffers (dropped meanwhile)
    view = _view()
    assert latest_contrast(view) is None  # no frame stored yet
    view.image[1] = np.linspace(10.0, 200.0, view.image[1].size).reshape(view.image[1].shape)
    view.frames_seen, view.last_index = 2, 1
    assert latest_contrast(view) == quick_range(view.image[1])
    assert latest_contrast(view) != quick_range(view.image[0])


def test_a_volume_of_a_z_range_is_placed_at_its_first_input_slice():
    """A walk: a volume run of slices 2-4 showed its layers at Z 0-2, not over the input's slices 2-4."""
    info = _info(3, 5, 70, 110)
    params = SegmentationParams(z_mode="stitch", z_range="2-4", start_frame=1)
    shape, scale, first, first_z = placeholder_geometry(info, params)
    assert (shape, scale, first, first_z) == ((2, 3, 70, 110), (30.0, 2.0, 0.5, 0.5), 1, 2)
    assert placeholder_geometry(info, SegmentationParams(z_mode="3d"))[3] == 0  # every slice
    assert placeholder_geometry(info, SegmentationParams(z_range="2-4"))[3] == 0  # projected: no Z axis
    view = TaskView("k", "out", 2, np.zeros(shape, LABELS_DTYPE), np.zeros(shape, np.float32), scale,
                    info.pixel_size, first_z=2)
    layers = tuple(SimpleNamespace(translate=(0.0,) * 4, metadata={META_KEY: {"role": role}})
                   for role in ("mask", "prepared"))
    place(view, layers, 1)
    assert all(layer.translate == (30.0, 4.0, 0.0, 0.0) for layer in layers)  # frame 1, slice 2 (2 µm)
    assert frame_translate(view) == (30.0, 4.0, 0.0, 0.0)
    assert frame_translate(_view()) == (0.0, 0.0, 0.0)  # a 2D output: no Z


def test_the_layers_of_an_output_or_the_unedited_ones_shown_are_reused_with_their_buffers():
    def layer(key: str, role: str, data: np.ndarray, dirty: bool = False) -> SimpleNamespace:
        meta = {"task_key": key, "role": role, "dirty": dirty}
        return SimpleNamespace(data=data, metadata={META_KEY: meta})

    labels, image = np.zeros((3, 6, 8), LABELS_DTYPE), np.zeros((3, 6, 8), np.float32)
    shown = [layer("a", "mask", labels), layer("a", "prepared", image)]
    assert same_buffers(shown, "b", "a", (3, 6, 8)) == (labels, image)  # the unedited layers shown
    assert same_buffers(shown, "b", "a", (2, 6, 8)) is None  # another shape: new buffers
    assert same_buffers(shown, "b", None, (3, 6, 8)) is None  # nothing shown to reuse
    edited = [layer("a", "mask", labels, dirty=True), layer("a", "prepared", image)]
    assert same_buffers(edited, "b", "a", (3, 6, 8)) is None  # edits stay apart
    assert same_buffers(edited, "a", None, (3, 6, 8)) is None  # its own edited layers too
    own = [*edited, layer("b", "mask", labels.astype(np.uint32)), layer("b", "prepared", image)]
    assert same_buffers(own, "b", "a", (3, 6, 8), np.uint32) is not None  # its own first (widened ids)
