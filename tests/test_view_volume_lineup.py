"""A 3-D Labels layer beside a ``(T, Z, Y, X)`` image is one time point's volume only when its metadata says.

A review: a 2D time-lapse result ``(T, Y, X)`` whose frame count equals its ``(T, Z, Y, X)`` input's Z size
was taken as ONE volume ``(Z, Y, X)`` of time point 0: Measure took its intensities from that time point's
Z slices, Train trained those slices against the label frames. Its shape alone does not tell: the reader
records whether a mask file is a volume mask (``volume``, :func:`~napari_batchseg.view.layer_files.
is_volume_result`); not said, no intensities and Train refuses with the reason.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from napari_batchseg.io.masks import write_mask
from napari_batchseg.io.sources import PixelSize
from napari_batchseg.training import frames_from_arrays
from napari_batchseg.view.dock_jobs import SOURCE_LAYERS
from napari_batchseg.view.layer_files import META_KEY, is_volume_result, mask_layer_data
from napari_batchseg.view.measure_form import (
    intensity_frames,
    intensity_of,
    measure_args,
    measure_layer,
    planes_beside_volumes,
)
from napari_batchseg.view.training_form import layer_frames, training_inputs


def _layer(name: str, data: np.ndarray, **meta: object) -> SimpleNamespace:
    return SimpleNamespace(name=name, data=data, metadata={META_KEY: meta}, rgb=False, multiscale=False)


def test_the_reviewers_cases_a_2d_time_lapse_is_not_one_volume() -> None:
    assert intensity_frames((5, 5, 32, 32), (5, 32, 32), 0) is None  # was slice(0, 1): time point 0's slices
    assert intensity_frames((5, 4, 32, 32), (5, 32, 32), 0) is None
    assert planes_beside_volumes((5, 5, 32, 32), (5, 32, 32), False)
    frames, note = intensity_of(_layer("movie", np.zeros((5, 5, 32, 32))), (5, 32, 32))
    assert frames is None and "not a volume result" in note and note.endswith("no intensities.")
    # said to be a volume result (its metadata): one time point's (Z, Y, X)
    assert intensity_frames((5, 5, 32, 32), (5, 32, 32), 2, volume=True) == slice(2, 3)
    assert intensity_frames((5, 5, 32, 32), (5, 32, 32), 5, volume=True) is None  # past its end
    assert intensity_frames((5, 4, 32, 32), (5, 32, 32), 0, volume=True) is None  # other Z
    assert not planes_beside_volumes((5, 5, 32, 32), (5, 32, 32), True)
    # ... and a volume is not lined up with a time series' frames
    assert intensity_frames((10, 32, 32), (5, 32, 32), 2, volume=True) is None
    assert intensity_frames((10, 32, 32), (5, 32, 32), 2) == slice(2, 7)


def test_what_worked_still_does() -> None:
    """2a8c760 (frames of a time series) and 89940c3 (time points of a volume run's (T, Z, Y, X) result)."""
    assert intensity_frames((53, 64, 64), (6, 64, 64), 3) == slice(3, 9)
    assert intensity_frames((53, 64, 64), (64, 64), 5) == slice(5, 6)  # one frame (Y, X)
    assert intensity_frames((53, 64, 64), (53, 64, 64)) == slice(None)
    for volume in (False, True):  # a 4-D Labels layer is volumes (the reader, the run's layers: T Z Y X)
        assert intensity_frames((6, 5, 8, 8), (2, 5, 8, 8), 2, volume) == slice(2, 4)
        assert intensity_frames((6, 5, 8, 8), (2, 5, 8, 8), 5, volume) is None
        assert intensity_frames((5, 8, 8), (1, 5, 8, 8), 0, volume) == slice(None)  # one time point's input


def test_the_reader_records_whether_a_mask_is_a_volume_mask(tmp_path: Path) -> None:
    log = "2026-12-07 05:00:00.000 | segmentation | INFO | frames: 2-2 (1 of 5)\n"
    movie = write_mask(tmp_path / "movie_vSM.ome.tif", np.ones((5, 16, 16), np.uint16), PixelSize(), log)
    stack = write_mask(tmp_path / "stack_vSM.ome.tif", np.ones((1, 5, 16, 16), np.uint16), PixelSize(z=2.0),
                       log, volume=True)
    (m_data, m_kwargs, _), = mask_layer_data(movie)
    (s_data, s_kwargs, _), = mask_layer_data(stack)
    assert m_data.shape == (5, 16, 16) and not is_volume_result(m_kwargs["metadata"][META_KEY])
    assert s_data.shape == (1, 5, 16, 16) and is_volume_result(s_kwargs["metadata"][META_KEY])
    assert not is_volume_result({}) and not is_volume_result({"volume": None})
    # the 2D time lapse of 5 frames beside a (T=5, Z=5) input: no intensities, Train refuses
    movie_layer = _layer(m_kwargs["name"], m_data, **m_kwargs["metadata"][META_KEY])
    image = _layer("input", np.zeros((5, 5, 16, 16), np.float32))
    args, note = measure_args(movie_layer, image)
    assert args[1] is None and "not a volume result" in note
    with pytest.raises(ValueError, match="not a volume result.*train from its mask file"):
        training_inputs(True, image, movie_layer, "")
    # the volume of time point 2 beside the same input: its slices
    stack_layer = _layer(s_kwargs["name"], s_data, **s_kwargs["metadata"][META_KEY])
    args, note = measure_args(stack_layer, image)
    assert note == "" and args[1] is image.data and args[5] == slice(2, 3) and args[10] is True


def test_measure_takes_no_intensities_from_another_time_point() -> None:
    """The reviewer's Measure: a T=5 2D time lapse beside a (T=5, Z=5) image of distinct time points."""
    image = _layer("movie", np.arange(5 * 5 * 8 * 8, dtype=np.float32).reshape(5, 5, 8, 8))
    labels = _layer("movie_vSM", np.zeros((5, 8, 8), np.uint16), mask_path="/r/movie_vSM.ome.tif",
                    first_frame=0, volume=False)
    labels.data[:, 2:5, 2:5] = 1
    args, note = measure_args(labels, image)
    assert args[1] is None and "movie" in note
    table = measure_layer(*args)
    assert list(table["frame"]) == [0, 1, 2, 3, 4] and table["mean_intensity"].isna().all()


def test_a_volume_result_of_one_time_point_is_measured_as_one_volume() -> None:
    image = _layer("stack", np.arange(4 * 3 * 8 * 8, dtype=np.float32).reshape(4, 3, 8, 8))
    labels = _layer("stack_vSM", np.zeros((3, 8, 8), np.uint16), first_frame=2, volume=True,
                    pixel_size={"y": 0.5, "x": 0.5, "z": 2.0})
    labels.data[1:3, 2:4, 2:6] = 7
    args, note = measure_args(labels, image)
    assert note == "" and args[5] == slice(2, 3)
    table = measure_layer(*args)
    assert list(table["frame"]) == [2] and list(table["label"]) == [7]  # one volume, at time point 2
    assert table["mean_intensity"].iloc[0] == pytest.approx(image.data[2][labels.data == 7].mean())


def test_train_refuses_a_2d_time_lapse_beside_a_volume_input_with_the_reason() -> None:
    """The reviewer's Train: layer_frames(...) named 'movie (T=5,Z=5) [frames 0]' and trained time point 0's
    Z slices against the 5 label frames."""
    image = _layer("movie (T=5,Z=5)", np.zeros((5, 5, 32, 32), np.float32))
    labels = _layer("movie_vSM", np.zeros((5, 32, 32), np.uint16), first_frame=0)
    with pytest.raises(ValueError, match=r"not a volume result") as err:
        layer_frames(image, labels)
    assert "mask file" not in str(err.value)  # no mask file to advise
    drawn = _layer("drawn", np.zeros((5, 32, 32), np.uint16))  # no first frame: refused alike, with why
    with pytest.raises(ValueError, match=r"is 4-D \(5, 5, 32, 32\)"):
        training_inputs(True, image, drawn, "")


def test_train_lines_up_a_volume_result_of_one_time_point() -> None:
    stack = np.random.default_rng(0).random((4, 3, 32, 32), np.float32)
    image = _layer("stack", stack)
    masks = np.zeros((3, 32, 32), np.uint16)
    masks[:, 4:12, 4:12], masks[:, 16:28, 16:28] = 1, 2
    labels = _layer("stack_vSM", masks, first_frame=1, volume=True)
    source, arrays, _ = training_inputs(True, image, labels, "")
    assert source == SOURCE_LAYERS and arrays is not None and arrays[2] == "stack [frames 1] + stack_vSM"
    pairs = frames_from_arrays(np.asarray(arrays[0]), np.asarray(arrays[1]), arrays[2], "all", 1)
    assert len(pairs.frames) == 3  # its XY slices
    for z, frame in enumerate(pairs.frames):
        assert np.array_equal(np.squeeze(frame.image), stack[1, z])
