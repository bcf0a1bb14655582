"""Operations on the streamed layers, on stand-in layer objects (Qt-free: view.layer_ops)."""

from __future__ import annotations

from typing import Any

import numpy as np

from napari_batchseg.view.layer_files import META_KEY
from napari_batchseg.view.layer_ops import (
    extent,
    mark_edited,
    mark_saved,
    release,
    retarget,
    selection_kept,
    set_contrast,
    set_units,
    unitless,
)


class FakeLayer:
    """What the operations use of a napari layer; every attribute set is logged, in order."""

    def __init__(self, data: Any, name: str = "a", meta: dict[str, Any] | None = None) -> None:
        ndim = np.ndim(data)
        init = {"data": data, "name": name, "scale": (1.0,) * ndim, "translate": (0.0,) * ndim,
                "metadata": {META_KEY: dict(meta or {})}, "visible": True, "units": ("pixel",) * ndim,
                "axis_labels": ()}
        object.__setattr__(self, "log", [])
        for key, value in init.items():
            object.__setattr__(self, key, value)

    @property
    def ndim(self) -> int:
        return int(np.ndim(self.data))

    def __setattr__(self, key: str, value: Any) -> None:
        self.log.append(key)
        object.__setattr__(self, key, value)


class Lazy:
    """A lazily read array: its file is closed when a layer no longer shows it."""

    ndim = 3
    closed = False

    def close(self) -> None:
        self.closed = True


def test_retarget_sets_only_what_changes_units_first():
    data = np.zeros((2, 4, 4))
    layer = FakeLayer(data, "out", {"role": "mask", "units": ("pixel",) * 3})
    retarget(layer, data, (1.0, 1.0, 1.0), "out", {"role": "mask"})
    assert layer.log == ["metadata"]  # the same data, scale, name and visibility: untouched
    lazy, new = Lazy(), np.ones((2, 4, 4))
    object.__setattr__(layer, "data", lazy)
    layer.log.clear()
    units = ("s", "µm", "µm")  # (as the stream layers' caller gives them: one per axis)
    retarget(layer, new, (1.0, 0.5, 0.5), "next", {"role": "mask", "task_key": "k"}, units, (3.0, 0, 0),
             False)
    assert layer.log == ["units", "data", "scale", "translate", "metadata", "name", "visible"]
    assert lazy.closed and layer.data is new and layer.units == units
    assert layer.metadata[META_KEY] == {"role": "mask", "task_key": "k", "units": units}


def test_a_new_dimension_gets_its_axis_labels_and_units_after_the_data():
    layer = FakeLayer(np.zeros((2, 4, 4)), meta={"units": ("pixel",) * 3})
    retarget(layer, np.zeros((2, 3, 4, 4)), (1.0,) * 4, "a", {}, "µm")
    assert layer.log[:3] == ["data", "axis_labels", "units"]
    assert layer.axis_labels == ("T", "Z", "Y", "X") and layer.units == ("µm",) * 4
    kept = FakeLayer(np.zeros((2, 4, 4)), meta={"units": ("s", "µm", "µm")})
    retarget(kept, np.zeros((2, 4, 4)), (1.0,) * 3, "a", {})  # no units given: the layer's stay recorded
    assert kept.metadata[META_KEY]["units"] == ("s", "µm", "µm")


def test_units_are_set_on_every_axis_unless_there_already():
    layer = FakeLayer(np.zeros((2, 4, 4)))
    set_units(layer, ("s", "µm", "µm"))
    assert layer.units == ("s", "µm", "µm") and layer.metadata[META_KEY]["units"] == ("s", "µm", "µm")
    layer.log.clear()
    object.__setattr__(layer, "units", ("s", "micrometer", "micrometer"))  # as napari's pint units read
    set_units(layer, ("s", "µm", "µm"))
    assert layer.log == []
    unitless(layer, None)
    assert layer.units == ("pixel",) * 3 and layer.metadata[META_KEY]["units"] == ("pixel",) * 3


def test_only_a_lazy_array_is_closed_when_released():
    lazy = Lazy()
    release(lazy)
    assert lazy.closed
    release(np.zeros(3))  # (an ndarray has no close; nothing to do)
    release(None)


def test_edit_marks_name_the_layer_once():
    layer = FakeLayer(np.zeros((4, 4)), "cells", {"dirty": False})
    mark_edited(layer)
    mark_edited(layer)
    assert layer.name == "cells (edited)" and layer.metadata[META_KEY]["dirty"] is True
    mark_saved(layer)
    mark_saved(layer)
    assert layer.name == "cells" and layer.metadata[META_KEY]["dirty"] is False
    foreign = FakeLayer(np.zeros((4, 4)), "theirs")
    object.__setattr__(foreign, "metadata", {})  # not one of ours: named, no metadata added
    mark_edited(foreign)
    assert foreign.name == "theirs (edited)" and foreign.metadata == {}


def test_contrast_and_extent():
    layer = FakeLayer(np.zeros((2, 6, 8)))
    set_contrast(layer, (5.0, 5.5))
    assert layer.contrast_limits_range == (0.0, 6.0) and layer.contrast_limits == (5.0, 5.5)
    set_contrast(layer, (-2.0, 30.0))
    assert layer.contrast_limits_range == (-2.0, 30.0)
    assert extent(None) is None
    assert extent(layer) == (6, 8, 1.0, 1.0)


class _Selection(set):
    active: object = None


class _LayerList(list):
    """napari's layer list as it selects a layer added (unless told not to through a private attribute)."""

    def __init__(self, private: bool) -> None:
        super().__init__()
        self.selection = _Selection()
        if private:
            self._activate_on_insert = True

    def append(self, layer: object) -> None:
        super().append(layer)
        if getattr(self, "_activate_on_insert", True):
            self.selection.clear()
            self.selection.add(layer)
            self.selection.active = layer


def test_layers_added_keep_the_user_s_selection() -> None:
    for private in (True, False):  # napari 0.8-0.9 (told not to select), else put back after
        layers = _LayerList(private)
        mine = FakeLayer(np.zeros((2, 2)), "mine")
        layers.append(mine)
        with selection_kept(layers):
            layers.append(FakeLayer(np.zeros((2, 2)), "added"))
            assert (layers.selection == {mine}) is private
        assert layers.selection == {mine} and layers.selection.active is mine
        assert getattr(layers, "_activate_on_insert", True)  # told again to select what the user adds
