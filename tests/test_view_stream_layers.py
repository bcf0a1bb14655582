"""The stream layers' names and metadata without napari (:mod:`napari_batchseg.view.stream_layers`)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from napari_batchseg.io.sources import PixelSize
from napari_batchseg.view.layer_files import META_KEY
from napari_batchseg.view.stream_layers import (
    PLACEHOLDER,
    detached_name,
    image_meta,
    labels_meta,
    offered,
    pair_of,
    per_axis_units,
    reusable_pair,
    unit_name,
)


class Labels(SimpleNamespace):
    """Stands for napari's Labels layer (the docks tell layers apart by class name)."""


class Image(SimpleNamespace):
    """Stands for napari's Image layer."""


def test_placeholders_are_not_offered_to_the_docks() -> None:
    assert offered(Labels(metadata={META_KEY: {"task_key": "a.tif#0"}}), "Labels")
    assert offered(Labels(metadata={}), "Labels")  # a layer of the user's
    assert not offered(Labels(metadata={META_KEY: {"task_key": PLACEHOLDER}}), "Labels")
    assert not offered(Image(metadata={}), "Labels")


def test_stream_metadata_of_the_labels_and_the_image_layer() -> None:
    units = ("second", "µm", "µm")
    meta = labels_meta("a.tif#0", units, Path("/out/a_vSM.ome.tif"), PixelSize(x=0.5, y=0.5), 3)
    assert meta == {"role": "mask", "task_key": "a.tif#0", "stream": True, "mask_path": "/out/a_vSM.ome.tif",
                    "pixel_size": PixelSize(x=0.5, y=0.5).as_dict(), "dirty": False, "units": units,
                    "first_frame": 3, "volume": False, "first_z": 0}
    assert labels_meta("k", units, None, PixelSize(), 0)["mask_path"] is None  # not saved yet
    assert labels_meta("k", units, None, PixelSize(), 0, volume=True)["volume"] is True
    assert labels_meta("k", units, None, PixelSize(), 0, True, first_z=2)["first_z"] == 2  # a --z-range run's
    assert image_meta("k", units) == {"role": "prepared", "task_key": "k", "stream": True, "units": units}


def test_detached_layers_are_named_edited_once() -> None:
    assert detached_name("a.tif", "mask") == "a.tif (edited)"
    assert detached_name("a.tif (edited)", "mask") == "a.tif (edited)"
    assert detached_name("a.tif (input)", "prepared") == "a.tif (edited) (input)"  # beside its mask
    assert detached_name("a.tif (edited) (input)", "prepared") == "a.tif (edited) (input)"
    assert detached_name("renamed by the user", "prepared") == "renamed by the user"
    assert detached_name("a.tif", None) == "a.tif"


def test_units_per_axis_and_their_names() -> None:
    assert per_axis_units("µm", 3) == ("µm", "µm", "µm")
    assert per_axis_units(("second", "µm", "µm"), 3) == ("second", "µm", "µm")
    assert unit_name("micrometer") == "µm" and unit_name("pixel") == "pixel"


def test_an_output_s_pair_is_found_by_its_task_key_and_roles() -> None:
    def layer(key: str | None, role: str) -> SimpleNamespace:
        return SimpleNamespace(metadata={META_KEY: {"task_key": key, "role": role}})

    user = SimpleNamespace(metadata={})  # the user's own layer: no batchseg entry
    other, image, labels, second = layer("b", "mask"), layer("a", "prepared"), layer("a", "mask"), \
        layer("a", "mask")
    layers = [user, other, image, labels, second]
    found = pair_of(layers, "a")
    assert found[0] is labels and found[1] is image  # the first of each role
    assert pair_of(layers, "b")[0] is other and pair_of(layers, "b")[1] is None
    assert pair_of(layers, "c") == (None, None)
    assert pair_of([layer(None, "mask")], None) == (None, None)  # set-apart layers (no key) are no output's


def test_an_output_is_shown_in_its_own_layers_else_in_the_unedited_ones_shown() -> None:
    def layer(key: str | None, role: str, dirty: bool = False) -> SimpleNamespace:
        return SimpleNamespace(metadata={META_KEY: {"task_key": key, "role": role, "dirty": dirty}})

    shown = [layer("a", "mask"), layer("a", "prepared")]
    assert reusable_pair(shown, "b", "a") == tuple(shown)
    assert reusable_pair(shown, "b", None) == (None, None)
    own = [layer("b", "mask"), layer("b", "prepared")]
    assert reusable_pair(shown + own, "b", "a") == tuple(own)  # its own first
    edited = [layer("a", "mask", dirty=True), layer("a", "prepared")]
    assert reusable_pair(edited, "b", "a") == (None, None)  # edits are not overwritten
    orphan = [layer("a", "prepared")]  # its labels layer closed by the user: the input layer is reused
    assert reusable_pair(orphan, "a", None) == (None, orphan[0])
