"""Stream layers holding edits are set apart from their output, on stand-in layers (view.layer_ops)."""

from __future__ import annotations

from types import SimpleNamespace

from napari_batchseg.view.layer_files import META_KEY
from napari_batchseg.view.layer_ops import set_apart


def layer(name: str, key: str | None, role: str, **meta: object) -> SimpleNamespace:
    return SimpleNamespace(name=name, metadata={META_KEY: {"task_key": key, "role": role, "stream": True,
                                                           **meta}})


def test_an_output_s_other_layers_are_set_apart_and_named_edited() -> None:
    labels = layer("a.tif", "a", "mask", mask_path="/out/a_vSM.tif")
    image = layer("a.tif (input)", "a", "prepared")
    kept, other = layer("a.tif", "a", "mask"), layer("b.tif", "b", "mask", mask_path="/out/b_vSM.tif")
    set_apart([labels, image, kept, other], "a", keep=(kept,))
    assert labels.name == "a.tif (edited)" and image.name == "a.tif (edited) (input)"
    for apart in (labels, image):
        assert apart.metadata[META_KEY]["task_key"] is None and apart.metadata[META_KEY]["stream"] is False
    assert labels.metadata[META_KEY]["mask_path"] == "/out/a_vSM.tif"  # not stale: still saved there
    assert kept.name == "a.tif" and kept.metadata[META_KEY]["task_key"] == "a"
    assert other.name == "b.tif" and other.metadata[META_KEY]["task_key"] == "b"


def test_a_stale_mask_loses_its_file_and_says_why() -> None:
    labels = layer("a.tif (edited)", "a", "mask", mask_path="/out/a_vSM.tif")
    image = layer("a.tif (input)", "a", "prepared")
    set_apart([labels, image], "a", stale="a later run rewrote a_vSM.tif")
    meta = labels.metadata[META_KEY]
    assert meta["mask_path"] is None and meta["stale"] == "a later run rewrote a_vSM.tif"
    assert labels.name == "a.tif (edited)"  # marked once
    assert "stale" not in image.metadata[META_KEY]
