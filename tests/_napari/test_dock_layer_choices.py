"""The docks' layer choices (Measure, Track, Train) beside a run of the Batch segmentation dock.

The stream layers made at Run are placeholders (empty) until the run's first output takes them: no dock
offers them. The first output points them at itself, renaming them: docks open meanwhile offer them
under their new names (before, they went on offering "batch segmentation: idle", a name no layer had any
more, and not the output).
"""

from __future__ import annotations

import shutil
import threading

from _timing import time_bound
from napari_batchseg.view.layer_files import layer_meta
from napari_batchseg.view.stream_layers import PLACEHOLDER

from ._fakes import ThresholdSegmenter


def _items(combo) -> list[str]:
    return [combo.itemText(i) for i in range(combo.count())]


def test_docks_offer_outputs_not_placeholders(widget, example_files, tmp_path, qtbot):
    from napari_batchseg._napari._measure_widget import MeasureExportWidget
    from napari_batchseg._napari._track_widget import TrackWidget
    from napari_batchseg._napari._train_widget import TrainWidget

    viewer = widget.viewer
    measure, track, train = MeasureExportWidget(viewer), TrackWidget(viewer), TrainWidget(viewer)
    for dock, name in ((measure, "Measure"), (track, "Track"), (train, "Train")):
        viewer.window.add_dock_widget(dock, name=name)

    def choices() -> set[str]:
        return {name for combo in (measure.labels_combo, measure.gt_combo, measure.image_combo,
                                   track.labels_combo, train.labels_layer, train.image_layer)
                for name in _items(combo)}

    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(example_files["nuclei"], folder / "nuclei_BF.tif")
    widget.files.add_paths([folder])
    qtbot.waitUntil(lambda: widget.startup_done and widget.run_btn.isEnabled(),
                    timeout=int(time_bound(10) * 1000))
    assert len(viewer.layers) == 0  # no layer before Run
    loaded = threading.Event()  # the model "loads" until the test lets it: the placeholders stay shown

    def held_model(_params):
        loaded.wait(60)
        return ThresholdSegmenter(0.0)

    widget.controller.segmenter_factory = held_model
    assert widget.run()
    qtbot.waitUntil(lambda: len(viewer.layers) == 2, timeout=int(time_bound(10) * 1000))  # made for the run
    placeholders = [lay.name for lay in viewer.layers]
    assert all(layer_meta(lay).get("task_key") == PLACEHOLDER for lay in viewer.layers)
    assert not choices() & set(placeholders)
    loaded.set()
    qtbot.waitUntil(lambda: not widget.running, timeout=60000)
    qtbot.wait(300)
    outputs = {lay.name: layer_meta(lay).get("role") for lay in viewer.layers}
    assert sorted(outputs.values()) == ["mask", "prepared"] and not set(outputs) & set(placeholders)
    mask = next(name for name, role in outputs.items() if role == "mask")
    image = next(name for name, role in outputs.items() if role == "prepared")
    assert _items(measure.labels_combo) == [mask] and _items(track.labels_combo) == [mask]
    assert _items(train.labels_layer) == [mask] and _items(train.image_layer) == [image]
    assert image in _items(measure.image_combo)
    assert not choices() & set(placeholders)


def test_docks_opened_from_the_plugins_menu_see_proxied_layers(make_napari_viewer, tmp_path):
    """QA: napari hands a plugin's dock a proxy of the viewer; its layers' ``type()`` is the proxy's.

    The Measure dock compared ``type(layer).__name__`` with "Labels": the layer selected in napari was
    never followed, and the first mask was measured and evaluated instead of the one chosen.
    """
    import numpy as np
    from napari.utils._proxies import PublicOnlyProxy

    from napari_batchseg._napari._measure_widget import MeasureExportWidget
    from napari_batchseg.view.stream_layers import offered

    viewer = make_napari_viewer()
    first = np.zeros((40, 40), np.uint16)
    first[5:15, 5:15] = 1
    second = first.copy()
    second[20:30, 20:30] = 2
    viewer.add_labels(first, name="first mask")
    viewer.add_labels(second, name="second mask")
    proxy = PublicOnlyProxy(viewer)
    assert all(offered(lay, "Labels") for lay in proxy.layers)
    assert not any(offered(lay, "Image") for lay in proxy.layers)
    measure = MeasureExportWidget(proxy)
    viewer.window.add_dock_widget(measure, name="Measure")
    viewer.layers.selection.active = viewer.layers["first mask"]
    assert measure.labels_combo.currentText() == "first mask"
    viewer.layers.selection.active = viewer.layers["second mask"]
    assert measure.labels_combo.currentText() == "second mask"
    assert measure.labels_layer is not None and measure.labels_layer.name == "second mask"
