"""The dock keeps a channel chosen from named channels by name; a run's error leaves the run bar on a change.

GUI trial s6 (session 46): choosing "1: DAPI" of ``example-multichannel.nd2`` set ``channel: 1``, so the
yeast file was segmented on FITC and the LIF file on Yellow, with no warning; after saving and loading the
parameters the list showed "1: Yellow". Trial s4: a failed run's error stayed red in the run bar after the
settings changed what the next Run would do.
"""

from __future__ import annotations

import os
import shutil

import pytest

import _realdata
from napari_batchseg.errors import ModelError
from napari_batchseg.params import SegmentationParams
from napari_batchseg.view.file_list import FileChoice

from ._fakes import factory

SHOTS = os.environ.get("BATCHSEG_SHOTS")  # a folder: the test saves its screenshots there


def _shot(widget, name):
    if SHOTS:
        widget.viewer.window._qt_window.grab().save(os.path.join(SHOTS, f"{name}.png"))


@pytest.fixture
def named_files(tmp_path, arcadia_nd2, example_files):
    pytest.importorskip("bioio_lif")
    try:
        lif = _realdata.fetch("fractal-lif") / "Project_3D.lif"
    except RuntimeError as exc:
        _realdata.unavailable(f"fractal-lif-converters 0.5.0 LIF file: {exc}")
    folder = tmp_path / "in"
    folder.mkdir()
    sources = {"multich.nd2": arcadia_nd2["example-multichannel.nd2"],  # Mono, DAPI, FITC BP, TRITC BP
               "yeast.nd2": example_files["yeast"],  # DIC, FITC BP
               "project.lif": lif,  # Cyan, Yellow, Magenta
               "nuclei.tif": example_files["nuclei"]}  # one channel, no name (C0)
    for name, src in sources.items():
        shutil.copy(src, folder / name)
    return {name.split(".")[0]: (folder / name).resolve() for name in sources}


def _texts(box):
    return [box.itemText(i) for i in range(box.count())]


def test_a_channel_chosen_by_name_is_that_channel_in_every_file(widget, named_files, tmp_path, qtbot):
    files, form = widget.files, widget.form
    files.contains.setText("")
    files.add_paths(list(named_files.values()))
    qtbot.waitUntil(lambda: not widget.infos.busy and len(widget.infos.infos(files.files())) == 4,
                    timeout=60000)
    files.select_file(named_files["multich"])
    assert _texts(form.channel) == ["0: Mono", "1: DAPI", "2: FITC BP", "3: TRITC BP"]
    assert widget.params().channel == 0  # the default: channel 0 of each file, by position
    form.channel.setCurrentIndex(1)
    assert widget.params().channel == "DAPI"  # was 1: FITC in the yeast file, Yellow in the LIF file
    problems = {p.name: why for p, why in files.problems().items()}
    assert problems == {"yeast.nd2": "no channel named 'DAPI' (it has DIC, FITC BP)",
                        "project.lif": "no channel named 'DAPI' (it has Cyan, Yellow, Magenta)",
                        "nuclei.tif": "no channel named 'DAPI' (it has C0)"}
    texts = [files.list.item(i).text() for i in range(files.list.count())]
    assert "yeast.nd2  ⚠ no channel named 'DAPI'" in texts and "multich.nd2" in texts
    _shot(widget, "s46_channel_by_name_flagged")
    widget.controller.segmenter_factory = factory()
    assert not widget.run()  # refused, naming the files, as other ⚠ files are
    said = widget.message.text()
    assert said.startswith("cannot run: 3 file(s)") and "yeast.nd2: no channel named 'DAPI'" in said
    # another file selected: the name stays, shown as such
    files.select_file(named_files["project"])
    assert form.channel.currentText() == "DAPI (by name)" and widget.params().channel == "DAPI"
    # saved by name; loaded, it shows as the selected file's entry, or by name
    path = tmp_path / "p.yaml"
    widget.save_params(path)
    assert "channel: DAPI" in path.read_text()
    form.channel.setCurrentIndex(form.channel.findText("1: Yellow"))
    assert widget.params().channel == "Yellow"
    widget.load_params(path)
    assert form.channel.currentText() == "DAPI (by name)" and widget.params().channel == "DAPI"
    widget.tabs.setCurrentIndex(1)  # Settings
    _shot(widget, "s46_channel_loaded_by_name")
    files.select_file(named_files["multich"])
    assert form.channel.currentText() == "1: DAPI" and widget.params().channel == "DAPI"
    # a file's own channel (by its index, as before) takes it out of the flagged ones
    files.select_file(named_files["yeast"])
    panel = files.file_settings
    panel.channel.setCurrentIndex(panel.channel.findData(1))
    assert panel.choice(named_files["yeast"]) == FileChoice(channel=1)
    qtbot.waitUntil(lambda: named_files["yeast"] not in files.problems(), timeout=5000)
    assert widget.params().channel == "DAPI"
    # a file without names selected: a channel chosen there is an index
    files.select_file(named_files["nuclei"])
    assert _texts(form.channel) == ["0: C0", "DAPI (by name)"]
    form.channel.setCurrentIndex(0)
    assert widget.params().channel == 0
    qtbot.waitUntil(lambda: not files.problems(), timeout=5000)
    # a parameter file's index stays an index (the selected file has names)
    files.select_file(named_files["multich"])
    SegmentationParams(channel=2).save(path)
    widget.load_params(path)
    assert form.channel.currentText() == "2: FITC BP" and widget.params().channel == 2
    _shot(widget, "s46_channel_index_loaded")


def test_a_failed_runs_error_leaves_the_run_bar_when_the_settings_change(widget, example_files, tmp_path,
                                                                          qtbot):
    def no_weights(_params):
        raise ModelError("Cellpose built-in model 'cyto3': weights file 'cyto3' not found")

    files = widget.files
    files.contains.setText("")
    files.add_paths([example_files["nuclei"]])
    qtbot.waitUntil(lambda: not widget.infos.busy and widget.infos.get(files.files()[0]) is not None,
                    timeout=30000)
    widget.output.custom.setChecked(True)
    widget.output.folder.setText(str(tmp_path / "out"))
    widget.controller.segmenter_factory = no_weights
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running, timeout=60000)
    qtbot.wait(500)  # whatever follows the run's end (previews, placeholders) leaves the error shown
    assert "cyto3" in widget.message.text() and "color" in widget.message.styleSheet()
    widget.infos.updated.emit(files.files()[0])  # metadata arriving (late) is no change by the user
    qtbot.wait(400)
    assert "cyto3" in widget.message.text(), widget.message.text()
    _shot(widget, "s46_run_error_shown")
    widget.form.diameter.setValue(widget.form.diameter.value() + 5)  # the next Run would differ
    assert widget.message.text() == ""
    # the run's error stays in the Results
    assert [s.status for s in widget.session.tasks] == ["failed"]
    assert "cyto3" in widget.session.tasks[0].reason
    _shot(widget, "s46_run_error_gone")
