"""Which layers the Measure dock measures with, and its table cells, without Qt (``view.measure_form``)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from napari_batchseg.view.layer_files import META_KEY
from napari_batchseg.view.measure_form import (
    UNSAVED_NOTE,
    cell_text,
    intensity_of,
    mask_file_layer,
    measure_args,
    measure_layer,
)


def _layer(name: str, shape: tuple[int, ...] = (4, 8, 8), **meta: object) -> SimpleNamespace:
    return SimpleNamespace(name=name, data=np.zeros(shape, np.uint8), metadata={META_KEY: meta})


def test_intensity_of_the_chosen_image_or_why_not() -> None:
    assert intensity_of(None, (4, 8, 8)) == (None, "")  # no image chosen: no note
    assert intensity_of(_layer("img"), (4, 8, 8)) == (slice(None), "")
    assert intensity_of(_layer("movie", (10, 8, 8)), (4, 8, 8), first_frame=3) == (slice(3, 7), "")
    frames, note = intensity_of(_layer("other", (4, 9, 9)), (4, 8, 8))
    assert frames is None and note == " other: its shape differs from the labels'; no intensities."
    # volumes: a (T, Z, Y, X) result of time points 2-3 of its 6-point input, and one time point's (Z, Y, X)
    assert intensity_of(_layer("stack", (6, 5, 8, 8)), (2, 5, 8, 8), first_frame=2) == (slice(2, 4), "")
    # (one time point's (Z, Y, X) only when its metadata says it is a volume result: a 2D time series of
    # 5 frames is not one (a review; tests/test_view_volume_lineup.py))
    one = intensity_of(_layer("stack", (6, 5, 8, 8)), (5, 8, 8), first_frame=4, volume=True)
    assert one == (slice(4, 5), "")
    assert intensity_of(_layer("stack", (6, 5, 8, 8)), (5, 8, 8), first_frame=4)[0] is None
    assert intensity_of(_layer("stack", (6, 5, 8, 8)), (2, 5, 8, 8), first_frame=5)[0] is None  # past its end
    assert intensity_of(_layer("stack", (6, 4, 8, 8)), (2, 5, 8, 8), first_frame=2)[0] is None  # other Z


def test_a_2d_result_beside_a_still_z_stack_takes_no_slice_as_its_frame() -> None:
    """A single-frame 2D result (e.g. of a max projection) beside the ``(Z, Y, X)`` stack it was made from:
    its frame is not the stack's slice 0 (a review: it got slice 0's intensities). Said by the image's axes
    (as the plugin's reader labels them); a ``(T, Y, X)`` movie's frames still line up."""
    stack = _layer("stack", (6, 8, 8))
    stack.axis_labels = ("Z", "Y", "X")
    for labels in ((1, 8, 8), (8, 8)):
        frames, note = intensity_of(stack, labels)
        assert frames is None and "a Z stack (6, 8, 8)" in note and "no intensities" in note
    assert intensity_of(stack, (6, 8, 8)) == (slice(None), "")  # labels drawn over every slice
    movie = _layer("movie", (6, 8, 8))
    movie.axis_labels = ("T", "Y", "X")
    assert intensity_of(movie, (1, 8, 8), first_frame=2) == (slice(2, 3), "")


def test_measure_args_take_the_layers_file_frames_pixel_size_and_position() -> None:
    labels = _layer("a (edited)", (4, 8, 8), mask_path="/r/a_vSM.ome.tif", first_frame=3, position=2,
                    position_name="P2", pixel_size={"y": 0.5, "x": 0.5, "t": 60.0})
    labels.data[:, 2:4, 2:4] = 1
    movie = _layer("movie", (10, 8, 8))
    args, note = measure_args(labels, movie)
    assert note == "" and args[0] is labels.data and args[1] is movie.data
    assert args[2:] == ((0.5, 0.5), "a_vSM.ome.tif", 3, slice(3, 7), 60.0, 2, "P2", None, False, 0)
    table = measure_layer(*args)
    assert list(table["frame"]) == [3, 4, 5, 6] and list(table["time_s"]) == [180.0, 240.0, 300.0, 360.0]
    args, note = measure_args(_layer("drawn"), _layer("other", (4, 9, 9)))  # no file, an image that differs
    assert args[1:] == (None, None, "drawn", 0, slice(None), None, 0, None, None, False, 0)
    assert "other" in note


def test_mask_file_layer_takes_the_table_unless_it_holds_corrections(tmp_path: Path) -> None:
    mask = tmp_path / "a_vSM.ome.tif"
    mine = _layer("a", mask_path=str(mask.resolve()))
    others = [_layer("user's"), _layer("b", mask_path=str(tmp_path / "b_vSM.ome.tif"))]
    assert mask_file_layer([*others, mine], mask) == (mine, "")
    assert mask_file_layer(others, mask) == (None, "")
    edited = _layer("a (edited)", mask_path=str(mask.resolve()), dirty=True)
    assert mask_file_layer([edited], str(mask)) == (None, UNSAVED_NOTE.format(name="a (edited)"))


def test_table_cells_show_numbers_to_four_digits_and_nan_as_empty() -> None:
    assert cell_text(123.456789) == "123.5" and cell_text(np.float32(0.000123456)) == "0.0001235"
    assert cell_text(float("nan")) == "" and cell_text(np.float64("nan")) == ""
    assert cell_text(7) == "7" and cell_text("a.tif") == "a.tif"  # integers and text as they are


def test_a_volume_layer_is_measured_as_volumes_as_batchseg_measure_does() -> None:
    """A user walk: a Z stack segmented as a volume in the main dock (a ``(T, Z, Y, X)`` Labels layer);
    the Measure dock's Measure said "Measure failed: labels must be 2D (Y, X), got shape (11, 128, 128)".
    Each time point is measured as one volume (voxels, µm³ with the layer's Z step, 3D centroids)."""
    from napari_batchseg.io.sources import PixelSize
    from napari_batchseg.measure_3d import measure_volume

    labels = _layer("stack", (2, 5, 16, 16), mask_path="/r/stack_vSM.ome.tif", first_frame=1,
                    pixel_size={"y": 0.5, "x": 0.5, "z": 2.0, "t": 10.0})
    labels.data[:, 1:4, 2:6, 3:9] = 1
    labels.data[1, 0:2, 10:14, 10:12] = 2
    image = _layer("stack (input)", (2, 5, 16, 16))
    image.data = np.arange(image.data.size, dtype=np.float32).reshape(image.data.shape)
    args, note = measure_args(labels, image)
    assert note == ""
    table = measure_layer(*args)
    size = PixelSize(x=0.5, y=0.5, z=2.0, t=10.0)
    expected = [measure_volume(labels.data[t], image.data[t], size, file="stack_vSM.ome.tif", frame=t + 1)
                for t in range(2)]
    assert list(table["frame"]) == [1, 2, 2] and list(table["label"]) == [1, 1, 2]
    assert list(table["volume_um3"]) == [3 * 4 * 6 * 0.5, 3 * 4 * 6 * 0.5, 2 * 4 * 2 * 0.5]
    for t, want in enumerate(expected):
        got = table[table["frame"] == t + 1].reset_index(drop=True)
        np.testing.assert_allclose(got[list(want.columns[4:])].to_numpy(float),
                                   want[want.columns[4:]].to_numpy(float))
        assert list(got.columns) == list(want.columns)
