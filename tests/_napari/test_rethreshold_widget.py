"""The Re-threshold dock on a real ``--keep-flows`` run of the project's Cellpose 3 model.

Two crops of the real DSB2018 nuclei image are segmented with ``keep_flows``; the dock previews the
first one's frame with the sliders' thresholds (computed off the GUI thread; must equal
``rethreshold_frame``), applies them to both runs (must equal ``batchseg rethreshold``), and a viewer
closed while a batch job runs does not crash.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.api import segment_files
from napari_batchseg.cli import main
from napari_batchseg.io.masks import read_mask
from napari_batchseg.params import SegmentationParams
from napari_batchseg.rethreshold_run import read_kept_flows
from napari_batchseg.segmenters.cellpose.rethreshold import Thresholds, rethreshold_frame

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "examples" / "models" / "batchseg_nuclei_cp3"
NEW = Thresholds(cellprob_threshold=-1.0, flow_threshold=0.9, min_size=40)


@pytest.fixture(scope="module")
def kept_logs(tmp_path_factory, dsb2018) -> list[Path]:
    """Two crops of the DSB2018 image segmented with keep_flows; their logs."""
    folder = tmp_path_factory.mktemp("rt_widget")
    image = np.asarray(tifffile.imread(dsb2018[0]))
    tifffile.imwrite(folder / "a.tif", image[:160, :192])
    tifffile.imwrite(folder / "b.tif", image[96:224, 64:224])
    params = SegmentationParams(model=str(MODEL), diameter=0, keep_flows=True, output_dir=str(folder))
    summary = segment_files([folder / "a.tif", folder / "b.tif"], params)
    assert summary.ok, summary.reports
    return [folder / "a_vSM.log", folder / "b_vSM.log"]


def _dock(make_napari_viewer):
    from napari_batchseg._napari._rethreshold_widget import RethresholdWidget

    viewer = make_napari_viewer()
    w = RethresholdWidget(viewer)
    viewer.window.add_dock_widget(w, name="Re-threshold")
    return viewer, w


@pytest.mark.cp3
def test_sliders_preview_and_apply_to_the_batch(make_napari_viewer, qtbot, kept_logs, tmp_path) -> None:
    from napari_batchseg._napari._rethreshold_widget import LAYER_NAME

    viewer, w = _dock(make_napari_viewer)
    # the run of a selected result layer (its metadata names the mask)
    mask = kept_logs[0].with_name("a_vSM.ome.tif")
    layer = viewer.add_labels(read_mask(mask).labels[0], metadata={"batchseg": {"mask_path": str(mask)}})
    viewer.layers.selection.active = layer
    w.add_selected_layer()
    assert w.log_paths() == [str(kept_logs[0])]
    w.add_logs([kept_logs[1]])
    qtbot.waitUntil(lambda: w.last_preview is not None, timeout=120000)
    original = read_mask(kept_logs[0].with_name("a_vSM.ome.tif")).labels[0]
    assert np.array_equal(viewer.layers[LAYER_NAME].data, original)  # default thresholds: the run's masks
    # move the sliders several times: only the last settings are shown
    w.cellprob.setValue(-20)
    w.flow.setValue(2)
    w.set_thresholds(NEW)
    assert w.thresholds == NEW
    qtbot.waitUntil(lambda: w.last_preview is not None and w.last_preview.key[2] == NEW
                    and w._running is None, timeout=120000)
    (_t, niter, dp, cellprob), = list(read_kept_flows(kept_logs[0]).frame_flows())
    expected = rethreshold_frame(dp, cellprob, NEW, niter=niter)
    shown = viewer.layers[LAYER_NAME].data
    assert np.array_equal(shown, expected) and not np.array_equal(shown, original)
    if os.environ.get("BATCHSEG_SCREENSHOT"):
        from qtpy.QtWidgets import QApplication

        QApplication.processEvents()
        w.grab().save(os.environ["BATCHSEG_SCREENSHOT"])
    # apply to both runs with a suffix; the CLI with the same thresholds gives the same outputs
    w.suffix.setText("wt")
    w.apply()
    qtbot.waitUntil(lambda: w._applying is None, timeout=180000)
    assert w.apply_status.text().startswith("2/2"), w.apply_status.text()
    args = ["--cellprob-threshold", "-1", "--flow-threshold", "0.9", "--min-size", "40", "--suffix", "cli"]
    assert main(["rethreshold", *map(str, kept_logs), *args]) == 0
    for log in kept_logs:
        stem = log.name[: -len("_vSM.log")]
        got = read_mask(log.with_name(f"{stem}_vSM-wt.ome.tif")).labels
        cli = read_mask(log.with_name(f"{stem}_vSM-cli.ome.tif")).labels
        assert got.dtype == cli.dtype and np.array_equal(got, cli)
    # a failing file is one line, the others still run
    w.add_logs([tmp_path / "missing_vSM.log"])
    w.suffix.setText("wt2")
    w.apply()
    qtbot.waitUntil(lambda: w._applying is None, timeout=180000)
    lines = w.apply_status.text().splitlines()
    assert lines[0] == "3/3" and any(x.startswith("missing_vSM.log: failed:") for x in lines), lines
    assert kept_logs[1].with_name("b_vSM-wt2.ome.tif").is_file()


@pytest.mark.cp3
def test_closing_the_viewer_mid_job_does_not_crash(make_napari_viewer, qtbot, kept_logs) -> None:
    viewer, w = _dock(make_napari_viewer)
    w.add_logs(kept_logs)
    w.suffix.setText("closed")
    w.apply()
    w.set_thresholds(NEW)  # a preview job too
    job = w._applying
    assert job is not None and job.alive
    viewer.close()
    qtbot.waitUntil(lambda: not job.alive, timeout=180000)
    assert job.cancel.is_set()
    # a cancelled run leaves no half-written file
    for log in kept_logs:
        stem = log.name[: -len("_vSM.log")]
        partial = [p for p in log.parent.iterdir() if p.name.startswith(f"{stem}_vSM-closed")
                   and not p.name.endswith((".ome.tif", ".log"))]
        assert partial == []


@pytest.mark.cp3
def test_resting_sliders_compute_the_neighbouring_cell_probability_ahead(make_napari_viewer, qtbot,
                                                                            kept_logs) -> None:
    from napari_batchseg._napari._rethreshold_widget import LAYER_NAME
    from napari_batchseg.segmenters.cellpose.rethreshold import cellpose_labels

    viewer, w = _dock(make_napari_viewer)
    w.add_logs([kept_logs[1]])
    qtbot.waitUntil(lambda: w.last_preview is not None and w._running is None, timeout=120000)
    frame = w._cache.frame(str(kept_logs[1]), 0)
    assert frame is not None
    # at rest: the values one and two steps either side are computed ahead (nearest first)
    qtbot.waitUntil(lambda: all(frame.cached(v) for v in (0.1, -0.1, 0.2, -0.2)), timeout=120000)
    assert not frame.cached(0.3)
    (_t, niter, dp, cellprob), = list(read_kept_flows(kept_logs[1]).frame_flows())
    # a step lands on a value computed ahead, and shows Cellpose's labels for it
    for value, th in ((-2, Thresholds(-0.2, 0.4, 15)), (-3, Thresholds(-0.3, 0.4, 15))):
        w.cellprob.setValue(value)
        qtbot.waitUntil(lambda th=th: w.last_preview is not None and w.last_preview.key[2] == th
                        and w._running is None, timeout=120000)
        assert np.array_equal(viewer.layers[LAYER_NAME].data, cellpose_labels(dp, cellprob, th, niter=niter))
    # after moving down, the values below come first
    qtbot.waitUntil(lambda: frame.cached(-0.4), timeout=120000)
    # a move cancels the job computing ahead
    w.flow.setValue(10)
    assert w._ahead is None or w._ahead.cancel.is_set()


@pytest.mark.cp3
def test_a_log_made_again_with_kept_flows_is_previewed_when_clicked(make_napari_viewer, qtbot, tmp_path,
                                                                    dsb2018) -> None:
    """QA: after the run was made again with kept flows, the dock went on saying "the run kept no flows"
    (and a log rewritten by a new run would have shown the old run's flows, held in the cache)."""
    image = np.asarray(tifffile.imread(dsb2018[0]))[:128, :128]
    tifffile.imwrite(tmp_path / "c.tif", image)
    params = SegmentationParams(model=str(MODEL), diameter=0, output_dir=str(tmp_path))
    assert segment_files([tmp_path / "c.tif"], params).ok
    log = tmp_path / "c_vSM.log"
    viewer, w = _dock(make_napari_viewer)
    w.add_logs([log])
    qtbot.waitUntil(lambda: "keep flows for re-thresholding" in w.preview_status.text(), timeout=60000)
    assert "--keep-flows" not in w.preview_status.text()
    assert segment_files([tmp_path / "c.tif"], params.replace(keep_flows=True, existing="overwrite")).ok
    w.logs.itemClicked.emit(w.logs.item(0))
    qtbot.waitUntil(lambda: w.last_preview is not None, timeout=120000)
    assert "objects" in w.preview_status.text()
    # the dock computes neighbouring values ahead once the preview rests: let that job end here, so that
    # no thread of this test runs on into the next ones (a later test counts the objects gc.freeze holds)
    qtbot.waitUntil(lambda: w._running is None and w._ahead is None, timeout=120000)


@pytest.mark.cp3
def test_the_preview_sits_on_the_mask_of_a_run_with_a_pixel_size(make_napari_viewer, qtbot, tmp_path,
                                                                dsb2018) -> None:
    """A walk: the preview layer was added at scale 1 over a mask (and input) in µm: drawn 3x too large,
    away from the cells, and napari warned of inconsistent units."""
    from napari_batchseg._napari._rethreshold_widget import LAYER_NAME
    from napari_batchseg.view.layer_files import mask_layer_data

    image = np.asarray(tifffile.imread(dsb2018[0]))[:128, :128]
    path = tmp_path / "um.ome.tif"
    tifffile.imwrite(path, image, ome=True, metadata={"axes": "YX", "PhysicalSizeX": 0.325,
                                                      "PhysicalSizeY": 0.325})
    params = SegmentationParams(model=str(MODEL), diameter=0, keep_flows=True)
    assert segment_files([path], params).ok
    viewer, w = _dock(make_napari_viewer)
    (data, kwargs, _kind), = mask_layer_data(tmp_path / "um_vSM.ome.tif")  # as File > Open shows it
    viewer.add_labels(data, **kwargs)
    w.add_logs([tmp_path / "um_vSM.log"])
    qtbot.waitUntil(lambda: w.last_preview is not None, timeout=120000)
    preview = viewer.layers[LAYER_NAME]
    assert np.allclose(preview.scale, kwargs["scale"]) and np.allclose(preview.scale, (0.325, 0.325))
    assert [str(u) for u in preview.units] == [str(u) for u in viewer.layers[kwargs["name"]].units]
    assert np.array_equal(preview.data, data)  # the run's thresholds: its own mask, on its pixels
    # a walk: a bad suffix was only said at Apply; Apply with Overwrite left the open mask layer saving
    # into the new mask (its corrections would silently replace it); Remove left the last preview's status
    w.suffix.setText("no spaces")
    assert not w.apply_btn.isEnabled() and "'no spaces'" in w.apply_status.text()
    w.suffix.setText("")
    assert not w.apply_btn.isEnabled() and w.apply_status.text().startswith("Give a suffix")
    w.overwrite.setChecked(True)
    assert w.apply_btn.isEnabled() and w.apply_status.text() == ""
    w.set_thresholds(NEW)
    w.apply()
    qtbot.waitUntil(lambda: w._applying is None, timeout=180000)
    opened = viewer.layers[kwargs["name"]]
    assert "shows the mask before" in w.apply_status.text() and kwargs["name"] in w.apply_status.text()
    meta = opened.metadata["batchseg"]
    assert meta["mask_path"] is None and meta["stale"] == "Re-threshold rewrote um_vSM.ome.tif"
    assert not np.array_equal(read_mask(tmp_path / "um_vSM.ome.tif").labels[0], data)  # it was rewritten
    qtbot.waitUntil(lambda: w._running is None, timeout=120000)
    w.logs.takeItem(0)
    assert w.preview_status.text() == "Add a run log to preview." and LAYER_NAME not in viewer.layers
    qtbot.waitUntil(lambda: w._running is None and w._ahead is None, timeout=120000)
