"""napari image layers as engine inputs, without Qt (:mod:`napari_batchseg.view.layer_inputs`).

The layers here are plain objects with the attributes napari's layers have; the widget tests run the
same functions on real napari layers.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from napari_batchseg.io.reader import unregister_source
from napari_batchseg.params import SegmentationParams
from napari_batchseg.view.layer_files import META_KEY
from napari_batchseg.view.layer_inputs import (
    axes_choices,
    chosen_axes,
    described,
    guess_axes,
    layer_frame,
    layer_infos,
    layer_inputs,
    layer_pixel_size,
    layer_plan,
    layer_source_file,
)


def _layer(data, name="movie", axis_labels=(), units=None, scale=None, translate=None, rgb=False,
           source=None, metadata=None):
    ndim = data.ndim - (1 if rgb else 0)
    return SimpleNamespace(data=data, ndim=ndim, name=name, axis_labels=axis_labels, rgb=rgb,
                           units=units or ("pixel",) * ndim, scale=scale or (1.0,) * ndim,
                           translate=translate or (0.0,) * ndim, source=SimpleNamespace(path=source),
                           metadata=metadata or {})


def test_axes_from_napari_axis_labels_else_the_usual_default():
    assert guess_axes(_layer(np.zeros((3, 8, 9)), axis_labels=("z", "y", "x"))) == "ZYX"
    assert guess_axes(_layer(np.zeros((3, 8, 9)), axis_labels=("0", "1", "2"))) == "TYX"  # napari's default
    assert guess_axes(_layer(np.zeros((8, 9, 3)), rgb=True)) == "YXC"
    choices, guess = axes_choices(_layer(np.zeros((3, 8, 9)), axis_labels=("z", "y", "x")))
    assert guess == "ZYX" and choices == ["TYX", "ZYX", "CYX"]
    choices, guess = axes_choices(_layer(np.zeros((2, 3, 8, 9)), axis_labels=("c", "t", "y", "x")))
    assert guess == "CTYX" and choices[0] == "TZYX" and "CTYX" in choices
    # labels that are not axes letters, or repeat one: the default, and it is offered
    choices, guess = axes_choices(_layer(np.zeros((2, 3, 8, 9)), axis_labels=("t", "t", "y", "x")))
    assert guess == "TZYX" and choices[0] == "TZYX"


def test_pixel_size_only_from_micrometre_and_second_units():
    movie = np.zeros((4, 8, 9))
    calibrated = _layer(movie, units=("second", "micrometer", "micrometer"), scale=(30.0, 0.5, 0.25))
    size = layer_pixel_size(calibrated, "TYX")
    assert (size.t, size.y, size.x, size.z) == (30.0, 0.5, 0.25, None)
    uncalibrated = _layer(movie, scale=(2.0, 3.0, 3.0))  # pixel units: the scale is no physical size
    size = layer_pixel_size(uncalibrated, "TYX")
    assert (size.t, size.y, size.x) == (None, None, None)


def test_source_file_from_napari_else_from_the_plugins_metadata(tmp_path):
    assert layer_source_file(_layer(np.zeros((8, 9)), source=str(tmp_path / "a.tif"))) == tmp_path / "a.tif"
    meta = {META_KEY: {"source": str(tmp_path / "b.nd2")}}
    assert layer_source_file(_layer(np.zeros((8, 9)), metadata=meta)) == tmp_path / "b.nd2"
    assert layer_source_file(_layer(np.zeros((8, 9)))) is None


def test_plan_over_layers_names_outputs_after_them(tmp_path):
    data = np.arange(3 * 8 * 9, dtype=np.uint16).reshape(3, 8, 9)
    layer = _layer(data, name="cells", translate=(5.0, 0.0, 0.0))
    (inp,) = layer_inputs([(layer, "TYX")])
    assert inp.data is data and inp.axes == "TYX" and inp.t_translate == 5.0 and inp.folder is None
    with pytest.raises(ValueError, match="'cells' has no file"):
        layer_plan([(layer, "TYX")], SegmentationParams())
    plan = layer_plan([(layer, "TYX")], SegmentationParams(output_dir=str(tmp_path)))
    try:
        (task,) = plan.tasks
        assert task.error is None
        assert task.names.mask == tmp_path / "cells_vSM.ome.tif"
        assert task.info.sizes["T"] == 3 and (task.info.sizes["Y"], task.info.sizes["X"]) == (8, 9)
    finally:
        for task in plan.tasks:
            unregister_source(task.input)
    # a layer from a file: its outputs go beside that file without an output folder
    filed = _layer(data, name="cells", source=str(tmp_path / "sub" / "cells.tif"))
    assert layer_inputs([(filed, "TYX")])[0].folder == tmp_path / "sub"


def test_the_axes_chosen_go_to_the_layers_shaped_like_the_first():
    movie, other = _layer(np.zeros((3, 8, 9)), "movie"), _layer(np.zeros((4, 8, 9)), "other")
    rgb, plane = _layer(np.zeros((8, 9, 3)), "rgb", rgb=True), _layer(np.zeros((8, 9)), "plane")
    assert chosen_axes([], "ZYX") == []
    assert chosen_axes([movie, other, rgb, plane], "ZYX") == [(movie, "ZYX"), (other, "ZYX"), (rgb, "YXC"),
                                                             (plane, "YX")]
    assert chosen_axes([movie, other], "") == [(movie, "TYX"), (other, "TYX")]  # nothing chosen: guesses


def test_the_settings_describe_the_layers_whose_axes_fit_and_say_when_that_changes():
    movie = _layer(np.zeros((3, 8, 9), np.uint16), "my movie!", source="/d/movie.tif")
    infos = layer_infos([(movie, "TYX"), (_layer(np.zeros((8, 9))), "TYX")])  # the second: axes do not fit
    assert [(i.path.name, i.sizes["T"], i.dtype) for i in infos] == [("my_movie", 3, np.uint16)]
    assert layer_infos([(SimpleNamespace(name="x", data=None), "YX")]) == []  # data without a shape
    before = described([(movie, "TYX")])
    assert described([(movie, "TYX")]) == before and described([(movie, "ZYX")]) != before
    movie.data = np.zeros((5, 8, 9))
    assert described([(movie, "TYX")]) != before  # more frames


def test_the_frame_on_screen_in_the_layers_own_frames():
    movie = _layer(np.zeros((5, 8, 9)), translate=(10.0, 0.0, 0.0))
    movie.world_to_data = lambda point: np.asarray(point, float) - np.asarray(movie.translate)
    assert layer_frame(movie, "TYX", (0.0, 12.0, 1.0, 1.0)) == 2  # (the viewer's first dimension: another)
    assert layer_frame(movie, "TYX", (0.0, 99.0, 1.0, 1.0)) == 4  # clipped to its frames
    assert layer_frame(movie, "ZYX", (0.0, 12.0, 1.0, 1.0)) is None  # no T axis
