"""The Settings tab's per-method options: Cellpose 3 restoration and kept flows, micro-sam's mode.

Each was reachable from the widget only through a parameters file; here they are controls, and a run
from the widget with a restore network the test builds (as tests/test_restore.py does) and kept flows
shows that they reach the engine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.io.masks import read_mask
from napari_batchseg.params import SegmentationParams
from test_restore import MODEL, _restore_net


def test_method_options_show_for_their_method_and_reach_the_params(widget):
    form = widget.form
    form.method.setCurrentIndex(form.method.findData("cellpose"))
    assert form.sam_mode.isHidden() and not form.advanced.isHidden()
    form.restore.setCurrentIndex(form.restore.findData("denoise_cyto3"))
    form.keep_flows.setChecked(True)
    params = widget.params()
    assert (params.restore, params.keep_flows, params.sam_mode) == ("denoise_cyto3", True, "auto")
    if form.method.model().item(1).isEnabled():  # micro-sam installed
        form.method.setCurrentIndex(form.method.findData("sam"))
        assert not form.sam_mode.isHidden() and form.advanced.isHidden()
        form.sam_mode.setCurrentIndex(form.sam_mode.findData("apg"))
        params = widget.params()  # the Cellpose-only options shown before are not sent to micro-sam
        assert (params.method, params.sam_mode) == ("sam", "apg")
        assert (params.restore, params.keep_flows) == (None, False)
        form.method.setCurrentIndex(form.method.findData("cellpose"))
        assert widget.params().restore == "denoise_cyto3"  # still shown for Cellpose


def test_a_restore_file_from_a_parameters_file_is_kept(widget, tmp_path):
    weights = tmp_path / "my_restore_net"
    widget.set_params(SegmentationParams(model="cyto3", restore=str(weights)))
    assert widget.form.restore.currentData() == str(weights)
    assert widget.params().restore == str(weights)


@pytest.mark.cp3
def test_a_widget_run_restores_keeps_flows_and_logs_both(widget, tmp_path, dsb2018, qtbot):
    from napari_batchseg.rethreshold_run import read_kept_flows

    crop = tmp_path / "crop.tif"
    tifffile.imwrite(crop, np.asarray(tifffile.imread(dsb2018[0]))[:96, :112])
    weights = _restore_net(tmp_path / "denoise_mine")
    widget.set_params(SegmentationParams(model=str(MODEL), diameter=17, restore=str(weights)))
    widget.form.keep_flows.setChecked(True)
    assert widget.files.add_paths([crop]) == 1
    qtbot.waitUntil(lambda: not widget.infos.busy, timeout=20000)
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running, timeout=300000)
    key = widget.status.keys()[0]
    assert widget.status.status(key) == "done", widget.message.text()
    mask = read_mask(tmp_path / "crop_vSM.ome.tif")
    assert mask.labels.max() > 0
    log = Path(tmp_path / "crop_vSM.log")
    assert f'"restore_model": "{weights}"' in log.read_text("utf-8")
    kept = read_kept_flows(log)  # refuses a run without kept flows
    assert sum(1 for _ in kept.frame_flows()) == 1


def test_a_builtin_restore_model_without_weights_fails_the_file_with_a_clear_line(widget, data_folder, qtbot,
                                                                                  tmp_path, monkeypatch):
    monkeypatch.setenv("CELLPOSE_LOCAL_MODELS_PATH", str(tmp_path / "no_models"))
    widget.set_params(SegmentationParams(model=str(MODEL), diameter=17, output_dir=str(tmp_path / "out")))
    widget.form.restore.setCurrentIndex(widget.form.restore.findData("denoise_cyto3"))
    assert widget.files.add_paths([data_folder / "nuclei_BF.tif"]) == 1
    qtbot.waitUntil(lambda: not widget.infos.busy, timeout=20000)
    if not widget.run():
        pytest.fail(widget.message.text())
    qtbot.waitUntil(lambda: not widget.running, timeout=300000)
    key = widget.status.keys()[0]
    assert widget.status.status(key) == "failed"
    said = widget.message.text() + " " + widget.status.table.item(0, 4).toolTip()
    assert "denoise_cyto3" in said, said
    assert not list((tmp_path / "out").glob("*_vSM*"))  # nothing half-written
