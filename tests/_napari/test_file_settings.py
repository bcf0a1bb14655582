"""A mixed folder: each file may have its own channel and frames; Run refuses files that cannot run."""

from __future__ import annotations

import shutil

import tifffile

from napari_batchseg.provenance import parse_log
from napari_batchseg.view.file_list import FileChoice

from ._fakes import factory


def _mixed(tmp_path, example_files):
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(example_files["yeast"], folder / "yeast_BF.nd2")  # 2 channels: DIC, FITC BP
    shutil.copy(example_files["nuclei"], folder / "nuclei_BF.tif")  # 1 channel
    shutil.copy(example_files["timelapse"], folder / "timelapse_BF.nd2")  # 53 frames
    return folder.resolve()


def _loaded(widget, qtbot, folder):
    files = widget.files
    files.add_paths([folder])
    qtbot.waitUntil(lambda: not widget.infos.busy and len(widget.infos.infos(files.files())) == 3,
                    timeout=30000)
    return files


def _logged(mask_dir, stem):
    return parse_log((mask_dir / f"{stem}_vSM.log").read_text()).params


def test_run_refuses_files_that_cannot_run_and_names_them(widget, tmp_path, example_files, qtbot):
    """QA: 2 of 3 files marked 'no channel 1', yet Run started and failed them."""
    folder = _mixed(tmp_path, example_files)
    files = _loaded(widget, qtbot, folder)
    widget.controller.segmenter_factory = factory()
    files.select_file(folder / "yeast_BF.nd2")
    widget.form.channel.setCurrentIndex(1)  # FITC: the yeast file only has it
    qtbot.waitUntil(lambda: len(files.problems()) == 2, timeout=5000)
    assert files.remove_marked_btn.isVisibleTo(widget)
    assert not widget.run()
    said = widget.message.text()
    assert said.startswith("cannot run: 2 file(s)")
    # (by name since session 46: a channel chosen from named channels is that channel in every file)
    assert "nuclei_BF.tif: no channel named 'FITC BP'" in said
    assert "timelapse_BF.nd2: no channel named 'FITC BP'" in said
    assert not list(folder.glob("*_vSM*"))  # nothing started
    # removing the marked files leaves the one that can run
    files.remove_marked()
    assert files.files() == [folder / "yeast_BF.nd2"]
    assert not files.remove_marked_btn.isVisibleTo(widget)
    assert widget.message.text() == ""  # QA: the refusal stayed, naming files no longer listed
    files.clear()  # refused again (nothing to run); adding files clears it
    assert not widget.run() and widget.message.text().startswith("no input files")
    files.add_paths([folder / "yeast_BF.nd2"])
    assert widget.message.text() == ""


def test_each_file_runs_with_its_own_channel_and_frames(widget, tmp_path, example_files, qtbot):
    folder = _mixed(tmp_path, example_files)
    files = _loaded(widget, qtbot, folder)
    widget.controller.segmenter_factory = factory()
    yeast, nuclei, movie = folder / "yeast_BF.nd2", folder / "nuclei_BF.tif", folder / "timelapse_BF.nd2"
    files.select_file(yeast)
    widget.form.channel.setCurrentIndex(1)
    widget.form.end_frame.setValue(0)
    # the single-channel files get channel 0 of their own, through the panel's controls
    files.select_file(nuclei)
    panel = files.file_settings
    assert panel.isEnabled() and "nuclei_BF.tif" in panel.title.text()
    panel.channel.setCurrentIndex(panel.channel.findData(0))
    assert files.file_settings.choice(nuclei) == FileChoice(channel=0)
    # ... and the movie its own channel and frames 2-4
    files.select_file(movie)
    panel.channel.setCurrentIndex(panel.channel.findData(0))
    panel.own_frames.setChecked(True)
    panel.start.setValue(2)
    panel.end.setValue(4)
    assert files.file_settings.choice(movie) == FileChoice(channel=0, frames=(2, 4))
    assert files.problems() == {}
    # QA: the list did not show which files have settings of their own
    texts = [files.list.item(i).text() for i in range(files.list.count())]
    assert "timelapse_BF.nd2  (own channel 0, frames 2-4)" in texts
    assert "nuclei_BF.tif  (own channel 0)" in texts
    assert "yeast_BF.nd2" in texts
    # the panel shows each file's own choice again when it is selected
    files.select_file(nuclei)
    assert panel.channel.currentData() == 0 and not panel.own_frames.isChecked()
    files.select_file(yeast)
    assert panel.channel.currentData() is None  # follows the Settings tab

    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running, timeout=60000)
    assert _logged(folder, "yeast_BF").channel == "FITC BP"
    assert _logged(folder, "nuclei_BF").channel == 0
    movie_params = _logged(folder, "timelapse_BF")
    assert (movie_params.channel, movie_params.start_frame, movie_params.end_frame) == (0, 2, 4)
    assert tifffile.imread(folder / "timelapse_BF_vSM.ome.tif").shape[0] == 3
    assert tifffile.imread(folder / "yeast_BF_vSM.ome.tif").ndim in (2, 3)


def test_own_frames_out_of_a_file_are_marked(widget, tmp_path, example_files, qtbot):
    folder = _mixed(tmp_path, example_files)
    files = _loaded(widget, qtbot, folder)
    movie = folder / "timelapse_BF.nd2"
    files.file_settings.set_choice(movie, FileChoice(frames=(10, 4)))
    assert files.problems()[movie] == "end_frame (4) must be >= start_frame (10)"  # the parameters' check
    files.file_settings.set_choice(movie, FileChoice(frames=(60, -1)))
    assert files.problems()[movie] == "no frame 60 (the file has 53 frame(s))"
    files.file_settings.set_choice(movie, FileChoice())
    assert movie not in files.problems()
    files.remove_selected()  # nothing selected: nothing removed, choices kept
    files.clear()
    assert files.file_settings.choices == {}
