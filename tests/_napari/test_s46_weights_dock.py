"""The dock says whether a built-in model's weights are on this computer; a model that cannot load fails once.

GUI trial (session 46): choosing ``cyto3`` (or micro-sam's ``vit_b_lm``) without its weights said nothing
until Run; Results then held one failed row per output, each repeating the long download message. The
model folders here are empty temporary folders named by the environment variables the run reads; the
run is the dock's real one (no segmenter factory), with ``BATCHSEG_OFFLINE`` so nothing is downloaded.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from napari_batchseg.segmenters.catalog import cellpose_major

NOT_LOADED = "not run: the model could not load"  # each output's row; the error itself: once, above


@pytest.fixture
def empty_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cellpose-models"
    folder.mkdir()
    monkeypatch.setenv("CELLPOSE_LOCAL_MODELS_PATH", str(folder))
    monkeypatch.setenv("MICROSAM_CACHEDIR", str(tmp_path / "microsam-cache"))
    monkeypatch.delenv("BATCHSEG_OFFLINE", raising=False)
    return folder


def _builtin() -> str:
    return "cpsam_v2" if cellpose_major() >= 4 else "cyto3"


def test_the_form_says_where_the_weights_are_as_the_model_is_chosen(empty_models, widget, qtbot):
    form, name = widget.form, _builtin()
    form.model.setCurrentText(name)
    qtbot.waitUntil(lambda: "not on this computer" in form.weights_note.text(), timeout=20000)
    note = form.weights_note.text()
    assert note.startswith(f"{name}: ") and str(empty_models) in note and "needs internet" in note, note
    (empty_models / name).write_bytes(b"")  # the file the run would load
    if form.diameter.value() == 0 and cellpose_major() < 4:  # (and Cellpose 3's size model, for diameter 0)
        (empty_models / f"size_{name}.npy").write_bytes(b"")
    form.model.setCurrentIndex(form.model.count() - 1)  # a model file: nothing to download, no note
    qtbot.waitUntil(lambda: form.weights_note.text() == "", timeout=20000)
    form.model.setCurrentText(name)
    qtbot.waitUntil(lambda: "on this computer, in" in form.weights_note.text(), timeout=20000)
    assert str(empty_models) in form.weights_note.text()
    if form.method.model().item(1).isEnabled():  # micro-sam installed: its cache folder
        form.method.setCurrentIndex(1)
        sam = form.model.currentText()
        qtbot.waitUntil(lambda: form.weights_note.text().startswith(f"{sam}: weights not"), timeout=20000)
        note = form.weights_note.text()
        assert "microsam-cache" in note and "MICROSAM_CACHEDIR" in note, note


def test_a_model_that_cannot_load_fails_once_and_rows_say_not_run(empty_models, widget, data_folder, qtbot,
                                                                    monkeypatch):
    monkeypatch.setenv("BATCHSEG_OFFLINE", "1")  # the model cannot be had: no download is tried
    widget.files.add_paths([data_folder])
    widget.form.model.setCurrentText(_builtin())
    qtbot.waitUntil(lambda: widget.startup_done, timeout=120000)
    started = time.perf_counter()
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running, timeout=120000)
    print(f"model failure shown after {time.perf_counter() - started:.1f} s")
    table = widget.status.table
    assert table.rowCount() >= 3
    details = {table.item(r, 4).text() for r in range(table.rowCount())}
    statuses = {table.item(r, 1).text() for r in range(table.rowCount())}
    assert details == {NOT_LOADED} and statuses == {"failed"}, (details, statuses)
    message = widget.bar.message.text()  # the error, once: in the message line
    assert "not found in" in message and str(empty_models) in message and "BATCHSEG_OFFLINE" in message
    assert "not found in" in table.item(0, 4).toolTip()  # the row's tooltip holds it in full


def test_the_note_is_read_again_when_a_run_ends(empty_models, widget, data_folder, qtbot, monkeypatch):
    """A run downloads a built-in model's weights: the note said "not on this computer" until the model
    was chosen again. Here the file appears while the note says so (as a download would put it), and the
    run that ends (failing: the file is empty) makes the note say where the weights are."""
    monkeypatch.setenv("BATCHSEG_OFFLINE", "1")
    form, name = widget.form, _builtin()
    form.diameter.setValue(30)  # (Cellpose 3: no size model to download)
    form.model.setCurrentText(name)
    qtbot.waitUntil(lambda: "not on this computer" in form.weights_note.text(), timeout=20000)
    widget.files.add_paths([data_folder / "nuclei_BF.tif"])
    qtbot.waitUntil(lambda: widget.startup_done and not widget.infos.busy, timeout=120000)
    (empty_models / name).write_bytes(b"")
    time.sleep(0.5)
    qtbot.wait(200)
    assert "not on this computer" in form.weights_note.text()  # nothing asked again yet
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running, timeout=120000)
    qtbot.waitUntil(lambda: "on this computer, in" in form.weights_note.text(), timeout=20000)
    assert str(empty_models) in form.weights_note.text()
