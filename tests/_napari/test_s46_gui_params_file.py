"""Session 46: *Save parameters…* / *Load parameters…* write and read the YAML in a worker.

The project's rule: the GUI thread does no disk I/O. The dialog's path went to ``save_params`` /
``load_params`` on the GUI thread (a slow share froze napari).
"""

from __future__ import annotations

import os
import threading

from qtpy.QtWidgets import QFileDialog

from napari_batchseg.params import SegmentationParams


def _choose(monkeypatch, path) -> None:
    """The file dialogs answer ``path`` (the dialog itself is Qt's, not under test)."""
    for name in ("getOpenFileName", "getSaveFileName"):
        monkeypatch.setattr(QFileDialog, name, staticmethod(lambda *a, **k: (str(path), "")))


def _row(widget):
    from napari_batchseg._napari._pages import ParamsFileRow

    return widget.findChild(ParamsFileRow)


def test_load_reads_the_file_off_the_gui_thread(widget, tmp_path, qtbot, monkeypatch):
    """The file is a FIFO whose writer waits until the click has returned: read on the GUI thread, the
    click blocked until the writer gave up waiting (10 s)."""
    source = tmp_path / "source.yaml"
    SegmentationParams(diameter=23).save(source)
    fifo = tmp_path / "slow.yaml"
    os.mkfifo(fifo)
    returned, blocked = threading.Event(), []

    def writer() -> None:
        blocked.append(not returned.wait(10))
        with open(fifo, "w", encoding="utf-8") as out:  # (blocks until the reader opens it)
            out.write(source.read_text(encoding="utf-8"))

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    _choose(monkeypatch, fifo)
    _row(widget).load_btn.click()
    returned.set()
    qtbot.waitUntil(lambda: widget.params().diameter == 23, timeout=30000)
    thread.join(5)
    assert blocked == [False]  # the click returned before the file could be read
    assert widget.message.text() == f"parameters loaded from {fifo}"


def test_save_writes_in_a_worker_and_says_so(widget, tmp_path, qtbot, monkeypatch):
    widget.form.diameter.setValue(19)
    path = tmp_path / "saved.yaml"
    _choose(monkeypatch, path)
    _row(widget).save_btn.click()
    qtbot.waitUntil(lambda: "saved" in widget.message.text(), timeout=30000)
    assert widget.message.text() == f"parameters saved to {path}", widget.message.text()
    assert SegmentationParams.load(path).diameter == 19


def test_errors_name_the_file(widget, tmp_path, qtbot, monkeypatch):
    bad = tmp_path / "bad.yaml"
    bad.write_text("diameter: [unclosed\n", encoding="utf-8")
    _choose(monkeypatch, bad)
    _row(widget).load_btn.click()
    qtbot.waitUntil(lambda: str(bad) in widget.message.text(), timeout=30000)
    assert "not valid YAML" in widget.message.text() and "#e06c4c" in widget.message.styleSheet()
    missing = tmp_path / "no-such-folder" / "p.yaml"
    _choose(monkeypatch, missing)
    _row(widget).save_btn.click()
    qtbot.waitUntil(lambda: widget.message.text().startswith("not saved: "), timeout=30000)
    assert str(missing) in widget.message.text(), widget.message.text()
    assert not missing.parent.exists()


def test_a_load_ending_after_the_dock_closed_shows_nothing(widget, tmp_path, qtbot, monkeypatch):
    path = tmp_path / "late.yaml"
    SegmentationParams(diameter=31).save(path)
    before = widget.params().diameter
    _choose(monkeypatch, path)
    _row(widget).load_btn.click()
    widget.close_down()  # in the same turn: before the worker's result can be delivered
    qtbot.wait(500)
    assert widget.params().diameter == before != 31
    assert "loaded" not in widget.message.text()
