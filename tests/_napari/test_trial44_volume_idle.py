"""Run in a volume Z mode where the stream layers were those of a projected run.

GUI trial 44 (under Xvfb): the Z stack listed (the hidden idle pair, made then, ``(T, Y, X)``; since trial
46 no layer is made before Run: the pair is made at Run, for the run's own mode), *Z: 3D volume* chosen,
Run: napari raised ``IndexError`` out of ``Run`` (it refreshes the extent of a shown layer only, so its
dims took the 4D image layer's axis labels with the 3D ranges); the message line stayed on "planning…"
and the canvas failed on every redraw.
"""

from __future__ import annotations

import pytest

from napari_batchseg.view.layer_files import layer_meta
from test_3d import write_crop

from .test_volume_run import set_up_volume_run


def _stream_layers(viewer) -> list:
    return [lay for lay in viewer.layers if layer_meta(lay).get("stream")]


@pytest.mark.cp3
def test_a_volume_run_reshapes_the_idle_pair_of_a_projected_one(widget, tmp_path, qtbot):
    viewer = widget.viewer
    qtbot.waitUntil(lambda: widget.startup_done, timeout=120000)
    set_up_volume_run(widget, write_crop(tmp_path / "stack.ome.tif"), qtbot, "project")
    qtbot.waitUntil(lambda: not widget.infos.busy and widget.run_btn.isEnabled(), timeout=20000)
    assert _stream_layers(viewer) == []  # no layer before Run (was the idle pair, projected)
    form = widget.form
    form.volume_mode.setCurrentIndex(form.volume_mode.findData("3d"))
    form.anisotropy.setValue(1.5)
    assert widget.run()  # raised IndexError from napari's dims
    qtbot.waitUntil(lambda: len(_stream_layers(viewer)) == 2, timeout=20000)  # made in turns after Run
    assert viewer.dims.ndim == 4
    assert [lay.ndim for lay in _stream_layers(viewer)] == [4, 4]
    qtbot.waitUntil(lambda: not widget.running and widget.streamer.settled, timeout=300000)
    assert widget.status.status(widget.status.keys()[0]) == "done", widget.status.table.item(0, 4).toolTip()
    labels = next(lay for lay in _stream_layers(viewer) if layer_meta(lay).get("role") == "mask")
    assert labels.data.shape[1] == 5 and labels.data.max() > 0


def test_a_hidden_pair_reshaped_while_idle_keeps_napari_dims_whole(make_napari_viewer):
    """The same napari trap for the idle pair itself (a volume mode chosen, then a file added)."""
    import numpy as np

    from napari_batchseg.view.layer_ops import retarget

    viewer = make_napari_viewer()
    image = viewer.add_image(np.zeros((1, 32, 32), np.float32), name="idle (input)", visible=False,
                             axis_labels=("T", "Y", "X"))
    labels = viewer.add_labels(np.zeros((1, 32, 32), np.uint16), name="idle", visible=False,
                               axis_labels=("T", "Y", "X"))
    for layer in (image, labels):
        retarget(layer, np.zeros((1, 5, 32, 32), layer.dtype), (1, 1, 1, 1), layer.name, {}, visible=False)
    assert not image.visible and not labels.visible
    assert viewer.dims.ndim == 4 and len(viewer.dims.axis_labels) == 4
    assert [tuple(lay.extent.data[1]) for lay in (image, labels)] == [(0, 4, 31, 31)] * 2
