"""The widget's controls: file list and filters, drag and drop, output names, parameter form, YAML."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
from qtpy.QtCore import QMimeData, QPointF, Qt, QUrl
from qtpy.QtGui import QDropEvent

from napari_batchseg.params import ParameterError, SegmentationParams


def _drop(widget, paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPointF(5, 5), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    widget.dropEvent(event)


def test_add_folder_filters_and_count(widget, data_folder, qtbot):
    files = widget.files
    assert files.add_paths([data_folder]) == 5  # notes.txt is not an image
    names = [p.name for p in files.files()]
    assert names == ["nuclei_BF.tif", "timelapse_BF.nd2", "zstack_BF.nd2"]
    assert "3 of 5 file(s) pass the filters (2 hidden)" in files.count.text()
    files.contains.setText("")
    assert len(files.files()) == 5
    files.not_contains.setText("zstack, lapse_BF")
    assert [p.name for p in files.files()] == ["nuclei_BF.tif", "timelapse_WL488.nd2"]
    files.not_contains.setText("")
    files.extensions.setText(".tif")
    assert [p.name for p in files.files()] == ["nuclei_BF.tif"]
    files.extensions.setText(".nd2 .tif .tiff .ome.tif .ome.tiff")
    files.contains.setText("_BF")
    # adding again adds nothing; remove and clear
    assert files.add_paths([data_folder / "nuclei_BF.tif"]) == 0
    files.list.setCurrentRow(0)
    files.list.item(0).setSelected(True)
    files.remove_selected()
    assert len(files.all_files()) == 4
    files.clear()
    assert files.files() == [] and "no files" in files.count.text()
    assert not widget.run_btn.isEnabled()


def test_recursive_folder_and_drag_drop(widget, data_folder, tmp_path, qtbot):
    sub = data_folder / "more"
    sub.mkdir()
    (sub / "deep_BF.tif").write_bytes((data_folder / "nuclei_BF.tif").read_bytes())
    widget.files.add_paths([data_folder], recursive=False)
    assert "deep_BF.tif" not in [p.name for p in widget.files.files()]
    widget.files.clear()
    widget.files.recursive.setChecked(True)
    _drop(widget.files, [data_folder])  # the folder is searched by a worker thread
    assert widget.files.busy and widget.files.files() == []
    qtbot.waitUntil(lambda: not widget.files.busy, timeout=10000)
    assert "deep_BF.tif" in [p.name for p in widget.files.files()]
    # a model file dropped on the model path field
    widget.form.model.setCurrentText("User trained model…")
    _drop(widget.form.model_path.edit, [tmp_path / "data" / "notes.txt"])
    assert widget.form.model_path.text().endswith("notes.txt")


def test_selection_shows_metadata_and_channels(widget, data_folder, example_files, qtbot):
    shutil.copy(example_files["yeast"], data_folder / "yeast_WL488.nd2")
    widget.files.contains.setText("")
    widget.files.add_paths([data_folder])
    qtbot.waitUntil(lambda: not widget.infos.busy, timeout=20000)
    widget.files.select_file((data_folder / "yeast_WL488.nd2").resolve())
    text = widget.files.info.text()
    assert "channels: 0: DIC, 1: FITC BP" in text
    assert "pixel size: 0.1083" in text and "Y=256" in text
    assert [widget.form.channel.itemText(i) for i in range(widget.form.channel.count())] == [
        "0: DIC", "1: FITC BP"
    ]
    widget.form.channel.setCurrentIndex(1)
    assert widget.params().channel == "FITC BP"  # by name (session 46)
    # Z controls are on because zstack_BF.nd2 has 11 slices; frames because of the time series
    assert widget.form.z_mode.isEnabled() and widget.form.start_frame.isEnabled()
    widget.files.contains.setText("nuclei")
    assert not widget.form.z_mode.isEnabled() and not widget.form.start_frame.isEnabled()


def test_output_names_suffix_and_collisions(widget, data_folder, tmp_path, qtbot):
    out = widget.output
    widget.files.add_paths([data_folder])
    qtbot.waitUntil(lambda: not widget.infos.busy, timeout=20000)
    qtbot.keyClicks(out.suffix, "run_")  # '_' is refused as typed, and the note says why
    assert out.suffix.text() == "run"
    assert "only A-Z" in out.suffix_note.text()
    qtbot.keyClicks(out.suffix, "1-a")  # accepted: the note shows the output name again
    assert out.suffix.text() == "run1-a"
    assert out.suffix_note.text() == "outputs: <input>_vSM-run1-a.ome.tif"
    assert "nuclei_BF.tif → nuclei_BF_vSM-run1-a.ome.tif" in out.preview.text()
    assert widget.run_btn.isEnabled()
    # a second folder with the same stem collides in a common output folder
    other = tmp_path / "other"
    other.mkdir()
    (other / "nuclei_BF.tiff").write_bytes((data_folder / "nuclei_BF.tif").read_bytes())
    widget.files.add_paths([other])
    out.custom.setChecked(True)
    assert "choose an output folder" in out.problems_label.text()
    out.folder.setText(str(tmp_path / "masks"))
    assert "Outputs collide" in out.problems_label.text()
    assert not widget.run_btn.isEnabled()
    assert widget.run() is False
    # an output folder that cannot take the files is said before Run (checked by a worker), and Run
    # waits (a walk: a read-only folder was said only when Run failed)
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    out.folder.setText(str(blocker))
    qtbot.waitUntil(lambda: "is not a folder" in out.problems_label.text(), timeout=5000)
    assert str(blocker) in out.problems_label.text() and not widget.run_btn.isEnabled()
    out.suffix.setText("run2")  # any change: the folder's answer holds until the worker's next
    assert "is not a folder" in out.problems_label.text() and not widget.run_btn.isEnabled()
    assert widget.run() is False
    out.suffix.setText("run1-a")
    out.folder.setText(str(tmp_path / "masks" / "new"))  # to be made: its parent is checked
    qtbot.waitUntil(lambda: "not a folder" not in out.problems_label.text(), timeout=5000)
    assert "Outputs collide" in out.problems_label.text()
    out.beside.setChecked(True)
    qtbot.waitUntil(lambda: out.problems() == [] and widget.run_btn.isEnabled(), timeout=5000)
    # existing outputs are flagged with what will happen to them: a mask without its log is a run cut
    # short, made again whatever the policy (finished outputs: test_tuning_loop.py)
    (data_folder / "nuclei_BF_vSM-run1-a.ome.tif").write_bytes(b"x")
    widget.output.changed.emit()
    assert "incomplete" not in out.preview.text()  # checked by a worker, not on the GUI thread
    qtbot.waitUntil(lambda: "1 output(s) are incomplete and will be made again" in out.preview.text(),
                    timeout=5000)


def test_method_and_model_controls(widget, monkeypatch, make_napari_viewer):
    form = widget.form
    assert form.model_path.isHidden()
    form.model.setCurrentText("User trained model…")
    assert not form.model_path.isHidden()
    # the model-file entry without a file never runs the default model (it did: cyto3, unasked)
    with pytest.raises(ParameterError, match=r"Model file \(Settings tab\) is empty"):
        widget.params()
    form.model_path.setText("/models/my_model")
    assert widget.params().model == "/models/my_model"
    form.model.setCurrentText("nuclei")
    form.diameter.setValue(17)
    form.flow.setValue(0.6)
    form.niter.setValue(200)
    p = widget.params()
    assert (p.model, p.diameter, p.flow_threshold, p.niter) == ("nuclei", 17, 0.6, 200)

    # micro-sam missing: the option is greyed out and says how to get it
    from napari_batchseg._napari import _form
    from napari_batchseg.view import form_state  # where the form asks whether micro-sam is installed

    real = importlib.util.find_spec
    monkeypatch.setattr(
        form_state.importlib.util, "find_spec", lambda n, *a: None if n == "micro_sam" else real(n)
    )
    f2 = _form.ParamsForm()
    item = f2.method.model().item(1)
    assert not item.isEnabled()
    assert "pip install napari-batchseg[sam]" in item.toolTip()
    f2.deleteLater()


@pytest.mark.skipif(importlib.util.find_spec("micro_sam") is None, reason="micro-sam not installed")
def test_sam_method_enabled_when_installed(widget):
    form = widget.form
    assert form.method.model().item(1).isEnabled()
    form.method.setCurrentIndex(1)
    assert form.model.currentText() == "vit_b_lm" and not form.diameter.isEnabled()
    assert widget.params().method == "sam"


def test_params_yaml_roundtrip(widget, tmp_path):
    form = widget.form
    form.model.setCurrentText("cyto2")
    form.diameter.setValue(25)
    form.z_mode.setCurrentIndex(2)
    form.z_radius.setValue(2)
    form.z_type.setCurrentText("max")
    form.end_frame.setValue(9)
    widget.output.suffix.setText("abc")
    path = tmp_path / "p.yaml"
    widget.save_params(path)
    saved = SegmentationParams.load(path)
    got = (saved.model, saved.diameter, saved.z_range, saved.z_projection, saved.end_frame, saved.suffix)
    assert got == ("cyto2", 25, "best:2", "max", 9, "abc")
    # load different values, including a field the form does not show (batch_size)
    SegmentationParams(model="/m/user_model", z_range="1-3", channel=2, batch_size=4, existing="overwrite",
                       output_dir=str(tmp_path)).save(path)
    widget.load_params(path)
    p = widget.params()
    assert (p.model, p.z_range, p.channel, p.batch_size, p.existing, p.output_dir) == (
        "/m/user_model", "1-3", 2, 4, "overwrite", str(tmp_path)
    )
    assert Path(widget.form.model_path.text()) == Path("/m/user_model")
    # a walk: a file written by `batchseg segment --save-config` (folder filters beside the parameters)
    # was refused, "unknown parameter(s): contains"; its filters fill the Filters
    from napari_batchseg.cli import main

    cli = tmp_path / "cli.yaml"
    assert main(["segment", str(tmp_path), "--contains", "nuclei", "--not-contains", "old", "--ext", ".tif",
                 "--diameter", "17", "--recursive", "--parallel", "files", "--measure",
                 "--save-config", str(cli), "--dry-run", "-q"]) in (0, 2)
    widget.load_params(cli)  # (its run options, --parallel and --measure, are batchseg segment's)
    assert widget.params().diameter == 17 and widget.files.recursive.isChecked()
    shown = widget.files.filters.file_filter()
    assert (shown.contains, shown.not_contains, shown.extensions) == (["nuclei"], ["old"], [".tif"])


def test_each_method_keeps_its_own_fields(widget):
    """Switching to Segment Anything never carries the Cellpose model file into the Checkpoint field."""
    form = widget.form
    model = form.method.model()
    enabled = model.item(1).isEnabled()
    model.item(1).setEnabled(True)  # the switch itself needs no micro-sam
    try:
        form.model.setCurrentText("User trained model…")
        form.model_path.setText("/models/my_cellpose_model")
        form.method.setCurrentIndex(1)
        assert form.model_path.text() == ""
        assert form.model_path_label.text() == "Checkpoint"
        p = widget.params()
        assert p.method == "sam" and p.checkpoint is None and p.model.startswith("vit_")
        form.model_path.setText("/models/sam.pt")
        form.method.setCurrentIndex(0)  # back: the Cellpose fields return
        assert form.model.currentText() == "User trained model…"
        assert form.model_path.text() == "/models/my_cellpose_model"
        form.method.setCurrentIndex(1)
        assert form.model_path.text() == "/models/sam.pt"
    finally:
        model.item(1).setEnabled(enabled)


def test_core_messages_name_the_widget_fields():
    from napari_batchseg.view.phrasing import for_widget

    text = ("micro-sam model 'vit_t': weights not found in the micro-sam cache folder /c (offline). "
            "Or pass a local file: --checkpoint PATH --model vit_t.")
    out = for_widget(text)
    assert "--" not in out and "Checkpoint field" in out and "Model vit_t" in out
    assert for_widget("output exists: x (use --existing overwrite to redo)") == (
        "output exists: x (use If output exists: overwrite to redo)")
    # a walk: a file's mark said "--z-mode stitch needs a Z stack ... (use --z-mode project)"
    said = for_widget("a.tif: --z-mode stitch needs a Z stack; the file has 1 Z slice (use --z-mode project)")
    assert said == "a.tif: Z: 2D + stitch needs a Z stack; the file has 1 Z slice (use Z: 2D (project))"
    assert "from --z-mode 3d/stitch" in for_widget("a volume mask (from --z-mode 3d/stitch)")  # not garbled


def test_list_marks_files_that_cannot_run(widget, data_folder, example_files, qtbot, tmp_path):
    """Unreadable files, ambiguous axes (with a choice) and a channel a file lacks are marked before Run."""
    import numpy as np
    import tifffile

    tifffile.imwrite(data_folder / "stack_BF.tif", np.zeros((5, 32, 32), np.uint16), metadata=None)  # 'IYX'
    (data_folder / "broken_BF.tif").write_bytes(b"II*\x00garbage")
    shutil.copy(example_files["yeast"], data_folder / "yeast_BF.nd2")  # 2 channels: DIC, FITC BP
    files = widget.files
    files.add_paths([data_folder])
    qtbot.waitUntil(lambda: not widget.infos.busy, timeout=20000)
    qtbot.waitUntil(lambda: "⚠" in files.list.item(0).text() + files.list.item(1).text(), timeout=5000)
    text = {files.list.item(i).toolTip().split("\n")[0].rsplit("/", 1)[-1]: files.list.item(i).text()
            for i in range(files.list.count())}
    assert "⚠ unreadable" in text["broken_BF.tif"]
    assert "axes ambiguous" in text["stack_BF.tif"] and files.axes_row.isVisibleTo(widget)
    assert "⚠" not in text["nuclei_BF.tif"]
    folder = data_folder.resolve()
    assert set(files.problems()) == {folder / "broken_BF.tif", folder / "stack_BF.tif"}
    # axes chosen for the ambiguous file (selected): it is read so; known files are left alone
    stack = (data_folder / "stack_BF.tif").resolve()
    files.select_file(stack)
    assert files.axes.isEnabled() and "stack_BF.tif" in files.axes_label.text()
    files.axes.setCurrentText("ZYX")
    stack_item = next(files.list.item(i) for i in range(files.list.count())
                      if files.list.item(i).toolTip().endswith("stack_BF.tif"))
    assert stack_item.text() == "stack_BF.tif  (axes: ZYX)"
    assert files.setup.axes_groups(files.files()) == {
        None: [p for p in files.files() if p != stack], "ZYX": [stack]}
    assert widget.params().axes is None  # not a run-wide axes: the other files keep theirs
    files.select_file((data_folder / "nuclei_BF.tif").resolve())
    assert not files.axes.isEnabled()  # a file whose axes are known gets no choice
    # channel 1 exists in the yeast file only
    widget.files.select_file((data_folder / "yeast_BF.nd2").resolve())
    widget.form.channel.setCurrentIndex(1)
    flagged = files.problems()
    assert "no channel named 'FITC BP'" in flagged[(data_folder / "nuclei_BF.tif").resolve()]
    assert (data_folder / "yeast_BF.nd2").resolve() not in flagged
    # axes from a YAML are visible in the Files tab
    path = tmp_path / "p.yaml"
    SegmentationParams(axes="TYX").save(path)
    widget.load_params(path)
    assert files.setup.default_axes == "TYX" and widget.params().axes == "TYX"
    assert "TYX (from the parameters)" in files.axes_label.text() and files.axes_row.isVisibleTo(widget)
    assert stack_item.text() == "stack_BF.tif  (axes: ZYX)"  # its own choice stays


def test_z_note_shows_the_selected_file(widget, data_folder, qtbot):
    widget.files.add_paths([data_folder])
    qtbot.waitUntil(lambda: not widget.infos.busy, timeout=20000)
    widget.files.select_file((data_folder / "zstack_BF.nd2").resolve())
    qtbot.waitUntil(lambda: "zstack_BF.nd2: " in widget.form.z_note.text(), timeout=5000)
    assert "zstack_BF.nd2: 11 Z slice(s)" in widget.form.z_note.text()
    widget.files.select_file((data_folder / "nuclei_BF.tif").resolve())
    qtbot.waitUntil(lambda: "nuclei_BF.tif: no Z slices" in widget.form.z_note.text(), timeout=5000)


def test_device_detection_pays_the_full_collection_its_imports_owe():
    """The start-up imports (torch, Cellpose) leave a generation-2 collection due; the detection thread
    runs it at its end, during the widget's opening, instead of it falling due in the first batch."""
    import gc
    import threading

    import cellpose.models  # noqa: F401 - imported already: only the detection's own collection is seen

    from napari_batchseg.view.device_probe import detect_device

    full = []

    def record(phase, info):
        if phase == "start" and info["generation"] == 2:
            full.append(threading.current_thread().name)

    for other in threading.enumerate():  # earlier tests' widgets: a collection of theirs running at the
        if other.name in ("batchseg-device", "batchseg-warmup"):  # same moment makes this one a no-op
            other.join(120)
    detect_device.cache_clear()
    gc.callbacks.append(record)
    try:
        thread = threading.Thread(target=detect_device, name="device-detection")
        thread.start()
        thread.join(120)
    finally:
        gc.callbacks.remove(record)
    assert "device-detection" in full
    assert detect_device.cache_info().currsize == 1


def test_run_thread_waits_for_a_torch_import_in_progress(tmp_path):
    """The run thread's cancel guard meets torch half-initialised by the device detection thread: it
    waits for that import instead of breaking it (it used to: ImportError there, KeyError: 'torch' in the
    run). A fresh process, so that torch really is being imported."""
    import subprocess
    import sys

    script = tmp_path / "race.py"
    script.write_text(
        "import sys, threading, time\n"
        "from napari_batchseg.torch_cancel import torch_cancellation\n"
        "result = {}\n"
        "def detect():\n"
        "    try:\n"
        "        import torch\n"
        "        result['detect'] = 'ok'\n"
        "    except BaseException as exc:\n"
        "        result['detect'] = repr(exc)\n"
        "t = threading.Thread(target=detect)\n"
        "t.start()\n"
        "while 'torch' not in sys.modules:\n"
        "    time.sleep(0.0005)\n"
        "time.sleep(0.05)\n"
        "with torch_cancellation(threading.Event()):\n"
        "    result['run'] = 'ok'\n"
        "t.join()\n"
        "print(result)\n"
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                         env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert "{'detect': 'ok', 'run': 'ok'}" in out.stdout, out.stdout + out.stderr
