"""Axes chosen in the file list for ambiguous files reach the run, also when they are the only files."""

from __future__ import annotations

import numpy as np

from napari_batchseg.io.masks import read_mask

from ._fakes import factory


def test_single_ambiguous_file_runs_with_the_axes_chosen(widget, data_folder, qtbot):
    """QA: one ambiguous stack (tifffile: QYX), TYX chosen in the list: it ran with no axes and failed."""
    import tifffile

    from napari_batchseg.provenance import parse_log

    img = tifffile.imread(data_folder / "nuclei_BF.tif")[:64, :80]
    stack = np.stack([np.roll(img, 5 * k, axis=k % 2) for k in range(5)])  # 5 planes: not RGB
    tifffile.imwrite(data_folder / "ctc_BF.tif", stack, metadata=None)
    widget.files.contains.setText("ctc_")
    widget.files.add_paths([data_folder])
    qtbot.waitUntil(lambda: not widget.infos.busy and len(widget.files.files()) == 1, timeout=20000)
    path = (data_folder / "ctc_BF.tif").resolve()
    assert len(widget.files.problems()) == 1  # marked ambiguous before a choice
    widget.files.select_file(path)
    widget.files.axes.setCurrentText("TYX")
    assert widget.files.problems() == {}
    widget.controller.segmenter_factory = factory()
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running, timeout=60000)
    assert [s.status for s in widget.session.tasks] == ["done"], widget.message.text()
    mask = read_mask(data_folder / "ctc_BF_vSM.ome.tif")
    assert mask.labels.shape == (5, 64, 80)
    assert parse_log(mask.log_text).params.axes == "TYX"


def test_ambiguous_axes_message_names_the_widget_control(tmp_path):
    """The core's message tells CLI users about --axes; the widget's says where to choose them."""
    import tifffile

    from napari_batchseg.errors import InputError
    from napari_batchseg.io.reader import open_source
    from napari_batchseg.view.phrasing import for_widget

    path = tmp_path / "amb.tif"
    tifffile.imwrite(path, np.zeros((5, 16, 16), np.uint16), metadata=None)
    try:
        open_source(path)
    except InputError as exc:
        core = str(exc)
    else:  # pragma: no cover - the file must be ambiguous for this test
        raise AssertionError("a 5-plane TIFF without metadata should be ambiguous")
    said = for_widget(core)
    assert "--axes" in core and "amb.tif" in said and "ambiguous axes" in said
    assert "--axes" not in said and "axes option" not in said and "Files tab" in said


def test_axes_chosen_for_an_ambiguous_file_set_up_its_frames(widget, data_folder, qtbot):
    """QA: Frames stayed disabled after TYX was chosen for the only (ambiguous) file; ZYX offers Z instead."""
    import tifffile

    img = tifffile.imread(data_folder / "nuclei_BF.tif")[:64, :80]
    tifffile.imwrite(data_folder / "ctc_BF.tif", np.stack([img] * 5), metadata=None)
    widget.files.contains.setText("ctc_")
    widget.files.add_paths([data_folder])
    qtbot.waitUntil(lambda: not widget.infos.busy and len(widget.files.files()) == 1, timeout=20000)
    form = widget.form
    assert not form.end_frame.isEnabled() and not form.z_mode.isEnabled()  # nothing known yet
    widget.files.select_file((data_folder / "ctc_BF.tif").resolve())
    widget.files.axes.setCurrentText("TYX")
    qtbot.waitUntil(lambda: form.end_frame.isEnabled(), timeout=20000)
    assert "5 frame(s)" in form.frames_row.toolTip() and not form.z_mode.isEnabled()
    widget.files.axes.setCurrentText("ZYX")
    qtbot.waitUntil(lambda: form.z_mode.isEnabled(), timeout=20000)
    assert not form.end_frame.isEnabled() and "5 Z slice(s)" in form.z_note.text()
