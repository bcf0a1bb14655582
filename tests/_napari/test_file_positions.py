"""The positions of multi-position files in the dock: a file's own (Files tab, This file), a loaded
parameter file's for all, checked as ``batchseg segment --positions`` checks them; the planned outputs
and the run hold only the chosen positions. And the Measure dock's export pattern read from positions.

Small synthetic OME-TIFF files of named series (positions); the threshold stand-in segments them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import tifffile

from napari_batchseg.io.naming import output_names
from napari_batchseg.params import SegmentationParams

from ._fakes import factory


def _plate(path, names=("A1", "A2", "B1")):
    """An OME-TIFF of one series per position, each named, with a bright square (objects to find)."""
    with tifffile.TiffWriter(path, ome=True) as tw:
        for k, name in enumerate(names):
            data = np.zeros((32, 32), np.uint16)
            data[4 + k:12 + k, 4:12] = 1000
            tw.write(data, metadata={"axes": "YX", "Name": name})
    return path


def _plate_data():
    data = np.zeros((32, 32), np.uint16)
    data[4:12, 4:12] = 1000
    return data


def _listed(widget, qtbot, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    plate = _plate(folder / "plate_BF.ome.tif")
    single = _plate(folder / "single_BF.ome.tif", names=("S",))
    widget.files.add_paths([folder])
    qtbot.waitUntil(lambda: len(widget.infos.infos(widget.files.files())) == 2, timeout=30000)
    widget.files.update_marks()
    return plate, single


def _masks(plate, positions):
    return [output_names(plate, "", None, position=p, n_positions=3).mask for p in positions]


def test_a_files_own_positions_are_checked_listed_and_run(widget, tmp_path, qtbot):
    plate, single = _listed(widget, qtbot, tmp_path)
    files, panel = widget.files, widget.files.file_settings
    files.select_file(single)
    assert panel.positions_row.isHidden()  # one position: nothing to choose
    files.select_file(plate)
    assert not panel.positions_row.isHidden() and panel.positions.placeholderText() == "all"
    panel.positions.setText("0-1,7")  # typed as for batchseg segment --positions
    assert files.problems() == {plate: "no position 7; the file has 3 position(s): 0 (A1), 1 (A2), 2 (B1)"}
    assert "⚠ no position 7" in files.list.item(0).text()
    assert not widget.run()
    assert widget.message.text().startswith("cannot run: 1 file(s)") and "plate_BF.ome.tif: no position 7" \
        in widget.message.text()
    panel.positions.setText("3-1")
    assert files.problems()[plate] == "positions '3-1': range '3-1' ends before it starts"
    panel.positions.setText("b1, 0")  # names in any case, as the engine takes them
    assert files.problems() == {} and files.list.item(0).text() == "plate_BF.ome.tif  (own positions b1, 0)"
    preview = widget.output.preview.text()
    assert [m.name in preview for m in _masks(plate, range(3))] == [True, False, True]  # not position 1
    widget.controller.segmenter_factory = factory()
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running and widget.streamer.settled, timeout=60000)
    assert [m.exists() for m in _masks(plate, range(3))] == [True, False, True]
    files.select_file(single)
    files.select_file(plate)
    assert panel.positions.text() == "b1, 0"  # its own choice, shown again


def test_loaded_positions_run_for_every_file_and_are_said(widget, tmp_path, qtbot, monkeypatch):
    from qtpy.QtWidgets import QFileDialog, QPushButton

    plate, single = _listed(widget, qtbot, tmp_path)
    saved = tmp_path / "params.yaml"
    SegmentationParams(positions="1").save(saved)  # as batchseg segment --positions 1 --save-config
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *_a, **_k: (str(saved), ""))
    load = next(b for b in widget.findChildren(QPushButton) if b.text() == "Load parameters…")
    load.click()  # (the file is read in the dock's worker)
    qtbot.waitUntil(lambda: widget.message.text().startswith("parameters loaded"), timeout=30000)
    said = widget.message.text()
    assert said.startswith(f"parameters loaded from {saved}; positions 1: only these of every file of "
                           "several run")
    assert widget.params().positions == [1]
    files, panel = widget.files, widget.files.file_settings
    files.select_file(plate)
    assert panel.positions.placeholderText() == "1" and panel.positions.text() == ""
    preview = widget.output.preview.text()
    assert [m.name in preview for m in _masks(plate, range(3))] == [False, True, False]
    # the one-position file has nothing to choose: not flagged, no field, run whole, and said once
    assert files.problems() == {} and output_names(single, "", None).mask.name in preview
    files.select_file(single)
    assert panel.positions_row.isHidden()
    widget.controller.segmenter_factory = factory()
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running and widget.streamer.settled, timeout=60000)
    assert [m.exists() for m in _masks(plate, range(3))] == [False, True, False]
    assert output_names(single, "", None).mask.exists()
    assert widget.session.notes == (
        "positions 1 apply to files with several positions; 1 file(s) with one position run whole",)


def test_loaded_positions_do_not_apply_to_image_layers(widget, tmp_path, qtbot):
    """A layer is one position: a loaded parameter file's positions (chosen for files) leave it whole."""
    widget.set_params(SegmentationParams(positions="1-2", output_dir=str(tmp_path)))
    layer = widget.viewer.add_image(_plate_data(), name="one")
    widget.viewer.layers.selection = {layer}
    widget.controller.segmenter_factory = factory()
    assert widget.run_layers()
    qtbot.waitUntil(lambda: not widget.running and widget.streamer.settled, timeout=60000)
    assert [s.status for s in widget.session.tasks] == ["done"], [s.reason for s in widget.session.tasks]
    assert widget.session.notes == ()  # (no word of positions: there are none to choose)
    assert widget.params().positions == [1, 2]  # still the files' default


def test_the_export_pattern_reads_position_names_when_asked(make_napari_viewer, qtbot, tmp_path):
    from napari_batchseg._napari._measure_widget import MeasureExportWidget
    from napari_batchseg.api import segment_files
    from napari_batchseg.testing import threshold_segmenter

    plate = _plate(tmp_path / "plate.ome.tif", names=("P1-B4", "P2-C5"))
    params = SegmentationParams(positions="1")
    segment_files([plate], params, segmenter=threshold_segmenter(params))
    mask = output_names(plate, "", None, position=1, n_positions=2).mask
    w = MeasureExportWidget(make_napari_viewer())
    w.kind.setCurrentText("outlines")
    w.mask_path.setText(str(mask))
    w.export_dir.setText(str(tmp_path / "out"))
    w.pattern.setText(r"(?P<well>[A-H]\d+)")
    assert w.pattern_on.currentData() == "file"  # the file names: 'plate' holds no well
    assert w.export()
    qtbot.waitUntil(lambda: not w.busy, timeout=30000)
    said = w.export_status.text()
    assert said.startswith("Export failed") and "pattern '(?P<well>" in said  # (the core's word)
    assert said.endswith("it matches the position name 'P2-C5': choose 'Pattern in: position names first' "
                         "to read it")  # the dock's field, not the command line's option
    w.pattern_on.setCurrentIndex(w.pattern_on.findData("position"))
    assert w.export()
    qtbot.waitUntil(lambda: not w.busy, timeout=30000)
    index = pd.read_csv(tmp_path / "out" / "outlines_metadata.csv", dtype=str, keep_default_na=False)
    assert list(index["well"]) == ["C5"] and list(index["position_name"]) == ["P2-C5"]
