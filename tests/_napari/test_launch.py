"""``batchseg gui``: napari opens with the dock set up from the command line, its start-up work done first."""

from __future__ import annotations

import gc
import re
from pathlib import Path

import pytest

from napari_batchseg._napari._launch import launch
from napari_batchseg.cli import build_parser
from napari_batchseg.cli_gui import gui_setup
from napari_batchseg.view.device_probe import detect_device, device_known


@pytest.fixture
def unfreeze():
    """The launcher freezes the process's objects (gc.freeze); a test process goes on afterwards."""
    yield
    gc.unfreeze()


def test_gui_lists_filtered_files_shows_options_and_runs(data_folder, trained_model, tmp_path, qtbot,
                                                         make_napari_viewer, unfreeze):
    out = tmp_path / "out"
    args = build_parser().parse_args(
        ["gui", str(data_folder), "--contains", "nuclei", "--model", str(trained_model),
         "--diameter", "21", "--output-dir", str(out), "--recursive"])
    params, file_filter = gui_setup(args)
    detect_device.cache_clear()  # (cached for the process: an earlier widget test may have run it)
    # the test's viewer (napari's fixture cleans it up); ``unfreeze`` is torn down before it
    steps: list[str] = []
    viewer, widget = launch(args.paths, params, file_filter, recursive=args.recursive, freeze=True,
                            viewer=make_napari_viewer(), say=steps.append)
    try:
        # the user is told each start-up step as it ends, with the device found and the time taken
        assert [re.sub(r" after \d+\.\d s", "", s) for s in steps] == [
            "napari's layers ready", f"torch and Cellpose ready; device: {detect_device()}"]
        assert gc.get_freeze_count() > 0  # the modules loaded before the window are never scanned again
        assert device_known()  # the device detection was done before the widget opened
        qtbot.waitUntil(lambda: widget.startup_done, timeout=10000)  # (its cheap rest: one worker turn)
        assert "looking for a GPU" not in widget.form.device_label.text()
        qtbot.waitUntil(lambda: not widget.files.busy and len(widget.files.files()) == 1, timeout=30000)
        assert [p.name for p in widget.files.files()] == ["nuclei_BF.tif"]  # --contains, not "_BF" alone
        assert widget.files.contains.text() == "nuclei" and widget.files.recursive.isChecked()
        shown = widget.params()
        assert (shown.model, shown.diameter, Path(shown.output_dir)) == (str(trained_model), 21.0, out)
        assert widget.run()
        qtbot.waitUntil(lambda: not widget.running, timeout=240000)
        assert sorted(p.name for p in out.iterdir()) == ["nuclei_BF_vSM.log", "nuclei_BF_vSM.ome.tif"]
    finally:
        if widget.running:
            widget.cancel()
            qtbot.waitUntil(lambda: not widget.running, timeout=60000)
