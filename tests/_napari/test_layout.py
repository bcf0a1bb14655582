"""The dock at 440 px: nothing cut off on any tab, Run/Cancel/progress always in view."""

from __future__ import annotations

from qtpy.QtCore import QPoint
from qtpy.QtWidgets import QWidget

WIDTH = 440


def _cut_off(root: QWidget, page: QWidget) -> list[str]:
    """Visible widgets of ``page`` whose right edge lies beyond ``root``'s right edge."""
    out = []
    for w in page.findChildren(QWidget):
        if not w.isVisibleTo(root) or w.width() == 0:
            continue
        right = w.mapTo(root, QPoint(w.width() - 1, 0)).x()
        if right >= root.width():
            text = getattr(w, "text", lambda: "")
            out.append(f"{type(w).__name__} {text() if callable(text) else ''!r} right={right}")
    return out


def test_fits_a_440_px_dock_on_every_tab(make_napari_viewer, data_folder, qtbot):
    from napari_batchseg._napari._widget import BatchSegWidget

    widget = BatchSegWidget(make_napari_viewer())  # shown on its own, exactly 440 px wide
    qtbot.addWidget(widget)
    widget.files.add_paths([data_folder])
    qtbot.waitUntil(lambda: not widget.infos.busy, timeout=20000)
    widget.form.z_mode.setCurrentIndex(3)  # the widest Z row: range start–stop + projection
    assert widget.minimumSizeHint().width() <= WIDTH
    widget.resize(WIDTH, 900)
    widget.show()
    qtbot.waitExposed(widget)
    for i in range(widget.tabs.count()):
        widget.tabs.setCurrentIndex(i)
        qtbot.wait(50)
        page = widget.tabs.widget(i)
        assert page.horizontalScrollBar().maximum() == 0
        assert _cut_off(widget, page.widget()) == [], widget.tabs.tabText(i)
        # the run bar stays in view whatever the tab
        for w in (widget.run_btn, widget.cancel_btn, widget.status.progress):
            assert w.isVisibleTo(widget)
            assert w.mapTo(widget, QPoint(0, w.height())).y() <= widget.height()
            assert w.mapTo(widget, QPoint(w.width(), 0)).x() <= widget.width()


def test_run_switches_to_results_and_details_are_readable(widget, data_folder, qtbot):
    from ._fakes import factory

    (data_folder / "broken_BF.tif").write_bytes(b"II*\x00garbage")
    widget.files.add_paths([data_folder])
    widget.controller.segmenter_factory = factory()
    widget.form.end_frame.setValue(1)
    widget.resize(WIDTH, 800)
    assert widget.run()
    assert widget.tabs.tabText(widget.tabs.currentIndex()) == "Results"
    qtbot.waitUntil(lambda: not widget.running, timeout=60000)
    table = widget.status
    row = next(r for r, k in enumerate(table.keys()) if k.endswith("broken_BF.tif"))
    table.table.setCurrentCell(row, 0)
    assert "broken_BF.tif: failed" in table.detail.text()
    reason = table.table.item(row, 4).toolTip()
    assert reason and reason.splitlines()[0] in table.detail.text()  # the reason in full, wrapped
    assert table.detail.wordWrap()
