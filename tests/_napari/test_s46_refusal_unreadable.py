"""GUI trial 46, in the dock: Run's refusal of unreadable files, and the output preview of files it
cannot name (unreadable, or metadata still being read).

The trial: "empty.tif: unreadable: empty.tif: file is empty (0 bytes) ... Select one to fix it (its own
channel or frames, its axes or dataset)", and a preview promising "text.tif → text_vSM.ome.tif"; a
28-position CZI being read was previewed as "WP96…czi → WP96_4Pos_B4-10_DAPI_vSM.ome.tif".
"""

from __future__ import annotations

import numpy as np
import tifffile


def test_unreadable_files_are_refused_once_named_and_get_no_output(widget, qtbot, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    tifffile.imwrite(folder / "good.tif", np.zeros((16, 16), np.uint16))
    (folder / "empty.tif").write_bytes(b"")
    (folder / "text.tif").write_text("this is not a tiff\n")
    widget.output.custom.setChecked(True)
    widget.output.folder.setText(str(tmp_path / "out"))
    widget.files.contains.setText("")  # (the default filter takes only names holding "_BF")
    widget.files.add_paths([folder])
    qtbot.waitUntil(lambda: not widget.files.busy and len(widget.files.problems()) == 2, timeout=30000)
    qtbot.waitUntil(lambda: "text.tif:" in widget.output.preview.text(), timeout=10000)
    preview = widget.output.preview.text()
    assert "good.tif → good_vSM.ome.tif" in preview
    assert "text.tif: unreadable: not run" in preview and "empty.tif: unreadable: not run" in preview
    assert "text_vSM" not in preview and "empty_vSM" not in preview, preview
    assert not widget.run()
    said = widget.message.text()
    assert said.startswith("cannot run: 2 file(s)") and said.count("empty.tif") == 1, said
    assert "Select one" not in said and "Remove the files marked ⚠" in said and "replace" in said


def test_a_file_being_read_is_not_given_a_name_without_its_position(widget, qtbot, tmp_path):
    czi = tmp_path / "WP96_4Pos.czi"  # its metadata not read yet (``None``): its outputs' names are unknown
    widget.output.update_preview([czi], {czi: None})
    preview = widget.output.preview.text()
    assert preview.startswith("WP96_4Pos.czi → (reading its metadata") and "_vSM" not in preview, preview
    assert not widget.output.checking  # no existing output is looked for under a name it will not have
