"""The file list: files named one by one pass the filters (as on the command line); files that cannot
start at the first frame asked for are marked before Run."""

from __future__ import annotations

from qtpy.QtCore import QMimeData, QPointF, Qt, QUrl
from qtpy.QtGui import QDropEvent


def _drop(widget, paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    widget.dropEvent(QDropEvent(QPointF(5, 5), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))


def test_a_file_added_by_name_is_taken_whatever_the_filters(widget, data_folder, qtbot):
    """QA s18: Add file… with a name lacking _BF: the file vanished and Run was disabled without a reason."""
    files = widget.files
    nuclei = data_folder / "nuclei_BF.tif"
    plain = data_folder / "nuclei.tif"
    plain.write_bytes(nuclei.read_bytes())
    assert files.add_paths([plain]) == 1
    assert files.files() == [plain.resolve()]
    assert "1 of 1 file(s) pass the filters" in files.count.text()
    qtbot.waitUntil(lambda: not widget.infos.busy, timeout=20000)
    assert widget.run_btn.isEnabled()
    # the filters still apply to what folders hold; the file named by itself stays
    files.add_paths([data_folder])
    assert [p.name for p in files.files()] == ["nuclei.tif", "nuclei_BF.tif", "timelapse_BF.nd2",
                                               "zstack_BF.nd2"]
    files.not_contains.setText("nuclei")
    assert [p.name for p in files.files()] == ["nuclei.tif", "timelapse_BF.nd2", "zstack_BF.nd2"]
    files.not_contains.setText("")
    # a file found in a folder, then named by itself: taken from then on
    assert files.add_paths([data_folder / "zstack.nd2"]) == 0
    assert "zstack.nd2" in [p.name for p in files.files()]
    # removed, then found again in its folder only: the filters apply to it again
    files.list.clearSelection()
    files.select_file((data_folder / "zstack.nd2").resolve())
    files.list.currentItem().setSelected(True)
    files.remove_selected()
    files.add_paths([data_folder])
    assert "zstack.nd2" not in [p.name for p in files.files()]
    files.clear()
    # dropped files are named one by one too (searched in a thread)
    _drop(files, [plain])
    qtbot.waitUntil(lambda: not files.busy, timeout=10000)
    assert files.files() == [plain.resolve()]


def test_nothing_passes_the_filters_says_so(widget, data_folder, qtbot):
    """QA s1: a folder whose files all lack _BF: the count says nothing can run and the filters unfold."""
    files = widget.files
    folder = data_folder / "plain"
    folder.mkdir()
    (folder / "dsb.tif").write_bytes((data_folder / "nuclei_BF.tif").read_bytes())
    assert not files.filters_box.isExpanded()
    files.add_paths([folder])
    assert files.files() == []
    assert files.count.text() == "0 of 1 file(s) pass the filters (1 hidden): nothing to run; change the " \
                                 "Filters above"
    assert files.filters_box.isExpanded()
    assert not widget.run_btn.isEnabled()
    assert widget.minimumSizeHint().width() <= 440  # the longer line wraps in the narrow dock
    files.contains.setText("")
    assert [p.name for p in files.files()] == ["dsb.tif"]


def test_a_file_shorter_than_the_first_frame_is_marked(widget, data_folder, qtbot):
    """QA s7: frames 40-44 with a single-frame TIFF in the batch: marked before Run (the end is clipped)."""
    files = widget.files
    files.add_paths([data_folder])
    qtbot.waitUntil(lambda: not widget.infos.busy and len(widget.infos.infos(files.files())) == 3,
                    timeout=30000)
    form = widget.form
    form.end_frame.setValue(1000)  # only the end: clipped to each file, nothing to flag
    assert files.problems() == {}
    form.start_frame.setValue(40)
    form.end_frame.setValue(44)
    nuclei = (data_folder / "nuclei_BF.tif").resolve()
    zstack = (data_folder / "zstack_BF.nd2").resolve()
    assert files.problems() == {nuclei: "no frame 40 (the file has 1 frame(s))",
                                zstack: "no frame 40 (the file has 1 frame(s))"}
    texts = [files.list.item(i).text() for i in range(files.list.count())]
    assert "nuclei_BF.tif  ⚠ no frame 40 (the file has 1 frame(s))" in texts
    assert "timelapse_BF.nd2" in texts  # 53 frames: it can
    form.start_frame.setValue(0)
    assert files.problems() == {}



def test_marks_follow_metadata_settings_and_files_listed_again(widget, data_folder, qtbot):
    """A long list is re-checked only where something changed: the marks must still be right.

    Metadata arriving marks its own file; a changed setting re-marks every file; a file listed again
    (its metadata known already: no metadata event) is marked at once.
    """
    files = widget.files
    files.add_paths([data_folder])
    qtbot.waitUntil(lambda: not widget.infos.busy and len(widget.infos.infos(files.files())) == 3,
                    timeout=30000)
    nuclei = (data_folder / "nuclei_BF.tif").resolve()

    def texts() -> list[str]:
        return [files.list.item(i).text() for i in range(files.list.count())]

    widget.form.start_frame.setValue(40)
    qtbot.waitUntil(lambda: "nuclei_BF.tif  ⚠ no frame 40 (the file has 1 frame(s))" in texts(), timeout=5000)
    assert not files.remove_marked_btn.isHidden()
    files.clear()
    assert files.files() == [] and files.remove_marked_btn.isHidden()
    files.add_paths([nuclei])  # listed again: its metadata is known, no worker reads it
    assert not widget.infos.busy
    assert texts() == ["nuclei_BF.tif  ⚠ no frame 40 (the file has 1 frame(s))"]
    assert not files.remove_marked_btn.isHidden()
    widget.form.start_frame.setValue(0)
    assert texts() == ["nuclei_BF.tif"] and files.remove_marked_btn.isHidden()

def test_files_named_that_cannot_be_inputs_are_said(widget, data_folder, qtbot):
    """QA r6: a text file and one of the plugin's own masks, added by name, vanished without a word."""
    files = widget.files
    notes = data_folder / "notes.txt"
    notes.write_text("not an image")
    own = data_folder / "a_BF_vSM.ome.tif"
    own.write_bytes((data_folder / "nuclei_BF.tif").read_bytes())
    assert files.add_paths([notes, own, data_folder / "gone_BF.tif"]) == 0
    text = files.count.text()
    assert "not added" in text and "notes.txt: not a supported image" in text
    assert "a_BF_vSM.ome.tif: a mask made by this plugin" in text and "gone_BF.tif: no such file" in text
    files.clear()  # an emptied list says nothing more of them either (the line stayed)
    assert files.count.text() == "no files: add files or folders, or drop them here"
    files.add_paths([notes])
    # a later add that takes everything says nothing more of them
    assert files.add_paths([data_folder / "nuclei_BF.tif"]) == 1
    assert "not added" not in files.count.text()


def test_the_extension_filter_offers_the_installed_formats(widget, data_folder, qtbot, monkeypatch):
    """The default filter is io.formats.supported_extensions(): HDF5 files in a folder are listed,
    and a format whose reader is not installed is not offered."""
    import sys

    import h5py
    import tifffile

    from napari_batchseg._napari._files import FileListPanel, InfoCache
    from napari_batchseg.io.formats import supported_extensions

    files = widget.files
    assert files.extensions.text().split() == list(supported_extensions())
    assert {".h5", ".czi"} <= set(files.extensions.text().split())  # every format is installed here
    assert files.extensions.cursorPosition() == 0  # QA: it showed its end ("f .tif .nd2 …")
    with h5py.File(data_folder / "nuclei_BF.h5", "w") as h5:
        h5["image"] = tifffile.imread(data_folder / "nuclei_BF.tif")
    files.add_paths([data_folder])
    assert "nuclei_BF.h5" in [p.name for p in files.files()]
    monkeypatch.setitem(sys.modules, "bioio_czi", None)  # as find_spec sees a missing bioio-czi
    panel = FileListPanel(InfoCache())
    qtbot.addWidget(panel)
    offered = panel.extensions.text().split()
    assert ".czi" not in offered and ".lif" in offered and ".h5" in offered
