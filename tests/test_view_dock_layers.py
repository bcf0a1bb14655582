"""Following a dock's layers, on stand-in layers and events (Qt-free: view.dock_layers)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from napari_batchseg.view.dock_layers import LayerWatch, content_key, layer_id, shown_output, watch_mask_edits
from napari_batchseg.view.layer_files import META_KEY


class Event:
    """A napari event emitter: connect, disconnect, emit."""

    def __init__(self) -> None:
        self.slots: list[Any] = []

    def connect(self, slot: Any) -> None:
        self.slots.append(slot)

    def disconnect(self, slot: Any) -> None:
        self.slots.remove(slot)

    def __call__(self, **kwargs: Any) -> None:
        for slot in list(self.slots):
            slot(SimpleNamespace(**kwargs))


class Labels:
    """A stand-in Labels layer (told apart by its class name, as napari's)."""

    def __init__(self, name: str, meta: dict[str, Any] | None = None, unique_id: Any = None) -> None:
        self.name, self.unique_id = name, unique_id
        self.metadata = {META_KEY: dict(meta or {})}
        self.events = SimpleNamespace(data=Event(), paint=Event())


def test_a_layer_is_told_apart_by_its_unique_id_and_shows_its_output() -> None:
    assert layer_id(Labels("a", unique_id=7)) == 7
    assert layer_id(Labels("a")) == "a"  # no unique_id: the name
    assert shown_output(Labels("a", {"task_key": "t", "mask_path": "m.ome.tif"})) == ("t", "m.ome.tif")
    assert shown_output(None) == (None, None)


def test_a_layer_pointed_at_the_next_output_holds_other_content() -> None:
    layer = Labels("a.tif", {"task_key": "a", "mask_path": "a_vSM.ome.tif"}, unique_id=7)
    before = content_key(layer)
    assert before == (7, "a", "a_vSM.ome.tif")
    layer.name = "renamed"
    assert content_key(layer) == before  # a rename is the same content
    layer.metadata[META_KEY] = {"task_key": "b", "mask_path": "b_vSM.ome.tif"}  # the run's next file
    assert content_key(layer) != before


def test_layer_watch_follows_one_layer_at_a_time() -> None:
    seen: list[str] = []
    watch = LayerWatch(data=lambda _e: seen.append("data"), paint=lambda _e: seen.append("paint"))
    first, second = Labels("a", unique_id=1), Labels("b", unique_id=2)
    watch.watch(first)
    watch.watch(Labels("a proxy", unique_id=1))  # the same layer through another proxy: nothing changes
    assert watch.layer is first and len(first.events.data.slots) == 1
    first.events.data()
    watch.watch(second)
    first.events.paint()  # no longer followed
    second.events.paint()
    assert seen == ["data", "paint"] and not first.events.paint.slots
    watch.close()
    assert watch.layer is None and not second.events.data.slots and not second.events.paint.slots


def test_brush_edits_mark_a_mask_files_labels_layer_edited_once() -> None:
    mask, plain = Labels("m", {"mask_path": "m_vSM.ome.tif"}, unique_id="dl-1"), Labels("p", unique_id="dl-2")
    watch_mask_edits([mask, plain])
    watch_mask_edits([mask])  # again (another layer inserted): one connection per layer
    assert len(mask.events.paint.slots) == 1 and not plain.events.paint.slots
    mask.events.paint()
    assert mask.metadata[META_KEY]["dirty"] and mask.name.endswith("(edited)")
