"""A result in other units than the edited layers kept in the viewer is not drawn beside them (GUI trial 45).

The user edits a run's output (OME-TIFF, µm) mid-run; the run moves on to a TIFF without pixel size. The
edited layers stay (``… (edited)``, µm); showing the next output in pixels beside them made napari warn
"Inconsistent units across layers" and draw the two at unrelated sizes (its units fallback is the raw
scale numbers). No pixel size is made up and the edited layers are not touched: the output is written
but not shown, the dock's message says why, and once the edited layers are closed it shows in pixels.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import tifffile

from napari_batchseg.view.layer_files import layer_meta

from ._fakes import held_factory
from .test_run_stream import _units_watch

PIXEL_UM = 0.325
SHOTS = os.environ.get("BATCHSEG_S46_SHOTS")  # a folder: the test saves its screenshots there


def _files(tmp_path, nuclei):
    folder = tmp_path / "in"
    folder.mkdir()
    image = tifffile.imread(nuclei)
    image = image if image.ndim == 2 else image[..., 0]
    tifffile.imwrite(folder / "a_BF.ome.tif", np.stack([image, image]), ome=True,
                     metadata={"axes": "TYX", "PhysicalSizeX": PIXEL_UM, "PhysicalSizeY": PIXEL_UM,
                               "PhysicalSizeXUnit": "µm", "PhysicalSizeYUnit": "µm"})
    shutil.copy(nuclei, folder / "b_BF.tif")  # a plain TIFF: no pixel size
    return folder


def _mask(viewer, name):
    return next(lay for lay in viewer.layers if lay.name == name)


def _shot(viewer, name):
    if SHOTS:
        viewer.window._qt_window.grab().save(os.path.join(SHOTS, name))


def test_edited_layers_in_um_keep_the_next_output_in_pixels_out(widget, example_files, tmp_path, qtbot):
    from napari.utils.notifications import notification_manager

    viewer = widget.viewer
    folder = _files(tmp_path, example_files["nuclei"])
    said: list[str] = []
    notification_manager.notification_ready.connect(lambda n: said.append(str(n.message)))
    widget.files.add_paths([folder])
    made: list = []  # a_BF's second frame is held: its first is on screen, and the user edits it
    widget.controller.segmenter_factory = held_factory(0.0, 1, made)
    assert widget.run()
    qtbot.waitUntil(lambda: bool(widget.session.tasks) and widget.session.tasks[0].frames_done >= 1,
                    timeout=60000)
    qtbot.waitUntil(lambda: widget.streamer.settled, timeout=20000)
    edited = _mask(viewer, "a_BF.ome.tif")
    assert [str(u) for u in edited.units][-2:] == ["micrometer", "micrometer"]
    viewer.dims.set_current_step(0, 0)
    edited.paint((0, 20, 20), 999, refresh=True)  # a brush stroke on its finished first frame
    assert edited.name == "a_BF.ome.tif (edited)"
    kept = np.array(edited.data[0])
    at_change: list = []
    _units_watch(viewer, at_change)
    made[0].release.set()
    qtbot.waitUntil(lambda: not widget.running and widget.streamer.settled, timeout=60000)
    qtbot.wait(300)
    _shot(viewer, "s46_units_after_run.png")
    assert [s.status for s in widget.session.tasks] == ["done", "done"]
    assert (folder / "b_BF_vSM.ome.tif").is_file()  # written whatever is shown
    # the viewer never held layers whose units napari cannot draw together
    assert all(u is not None for u in at_change), [str(u) for u in at_change]
    assert viewer.layers.extent.units is not None
    assert not [t for t in said if "Inconsistent units" in t], said
    # the edited layers are as the user left them: µm, their edits, their calibration
    assert any(lay is edited for lay in viewer.layers)
    assert [str(u) for u in edited.units][-2:] == ["micrometer", "micrometer"]
    assert tuple(edited.scale[-2:]) == pytest.approx((PIXEL_UM, PIXEL_UM))
    np.testing.assert_array_equal(edited.data[0], kept)  # (its second frame came after the stroke)
    assert edited.data[0][20, 20] == 999
    assert not any(lay.name.startswith("b_BF.tif") for lay in viewer.layers)  # no made-up pixel size
    text = widget.message.text()
    assert "b_BF.tif" in text and "not shown" in text and "a_BF.ome.tif (edited)" in text, text
    # the user closes the edited layers: the output shows, in pixels (the file's own units)
    for layer in [lay for lay in viewer.layers if lay.name.startswith("a_BF.ome.tif")]:
        viewer.layers.remove(layer)
    widget.status.table.cellDoubleClicked.emit(1, 0)
    qtbot.waitUntil(lambda: widget.streamer.settled and any(
        lay.name == "b_BF.tif" for lay in viewer.layers), timeout=20000)
    qtbot.wait(300)
    _shot(viewer, "s46_units_after_close.png")
    shown = _mask(viewer, "b_BF.tif")
    assert [str(u) for u in shown.units][-2:] == ["pixel", "pixel"]
    assert tuple(shown.scale[-2:]) == (1.0, 1.0)
    assert layer_meta(shown)["pixel_size"]["x"] is None
    assert viewer.layers.extent.units is not None
    assert not [t for t in said if "Inconsistent units" in t], said
