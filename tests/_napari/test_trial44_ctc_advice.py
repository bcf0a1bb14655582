"""The Measure dock's CTC export of an untracked mask says how to track it in napari.

GUI trial 44: Export (Kind: ctc) of a mask never tracked failed with "… missing): run batchseg track first",
the command line's advice, in a dock beside the Track cells dock that writes those files (Save tracks).
"""

from __future__ import annotations

import shutil

from _downstream import segmented


def test_ctc_export_of_an_untracked_mask_names_the_track_dock(make_napari_viewer, qtbot, tmp_path):
    from napari_batchseg._napari._measure_widget import MeasureExportWidget

    mask = segmented("nd2")
    folder = tmp_path / "masks"
    folder.mkdir()
    for path in (mask, mask.with_name(mask.name.replace(".ome.tif", ".log"))):
        shutil.copy(path, folder / path.name)
    dock = MeasureExportWidget(make_napari_viewer())
    qtbot.addWidget(dock)
    dock.mask_path.setText(str(folder / mask.name))
    dock.export_dir.setText(str(tmp_path / "ctc"))
    dock.kind.setCurrentText("ctc")
    assert dock.export()
    qtbot.waitUntil(lambda: not dock.busy, timeout=30000)
    text = dock.export_status.text()
    assert text.startswith("Export failed") and "no tracks" in text, text
    assert "run batchseg track first" not in text, text
    assert "Track cells" in text and "Save tracks" in text, text
