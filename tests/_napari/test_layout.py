"""The dock at 440 px: nothing cut off on any tab, Run/Cancel/progress always in view."""

from __future__ import annotations

from qtpy.QtCore import QPoint
from qtpy.QtWidgets import QScrollArea, QWidget

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


def _docked(viewer, widget, qtbot, width: int = WIDTH, height: int = 700):
    """``widget`` docked on the right of napari's shown window, the dock ``width`` px wide."""
    from qtpy.QtCore import Qt

    dock = viewer.window.add_dock_widget(widget, area="right")
    window = dock.parentWidget()
    window.resize(1200, height)
    window.show()
    qtbot.waitExposed(window)
    window.resizeDocks([dock], [width], Qt.Orientation.Horizontal)
    qtbot.wait(50)
    return dock


def _settle(qtbot) -> None:
    qtbot.wait(30)


def test_every_tab_fits_a_440_px_dock_in_every_state(make_napari_viewer, data_folder, qtbot):
    """Each method, model kind and Z mode: no page wider than the docked widget (issue: the projection
    type was pushed off-screen in the "best focus ± r" and "fixed range" modes, the Files page by 8 px
    once its vertical scroll bar showed)."""
    from napari_batchseg._napari._widget import BatchSegWidget

    viewer = make_napari_viewer(show=True)
    widget = BatchSegWidget(viewer)
    dock = _docked(viewer, widget, qtbot)
    widget.files.add_paths([data_folder])
    qtbot.waitUntil(lambda: not widget.infos.busy, timeout=20000)
    assert dock.width() <= WIDTH + 2
    form = widget.form
    seen = 0
    for method in range(form.method.count()):
        if not form.method.model().item(method).isEnabled():
            continue
        form.method.setCurrentIndex(method)
        # a built-in model and the last entry (a model file for Cellpose: the Browse button shows)
        for model in sorted({0, form.model.count() - 1}):
            form.model.setCurrentIndex(model)
            for mode in range(form.z_mode.count()):
                form.z_mode.setCurrentIndex(mode)
                for i in range(widget.tabs.count()):
                    widget.tabs.setCurrentIndex(i)
                    _settle(qtbot)
                    page = widget.tabs.widget(i)
                    state = f"{form.method.currentText()} / {form.model.currentText()} / " \
                            f"{form.z_mode.currentText()} / {widget.tabs.tabText(i)}"
                    assert page.horizontalScrollBar().maximum() == 0, state
                    assert _cut_off(widget, page.widget()) == [], state
                    seen += 1
    # the Z mode (project | 3d | stitch) with its own number, beside the widest Z-projection row
    form.method.setCurrentIndex(0)
    form.model.setCurrentIndex(form.model.count() - 1)
    form.z_mode.setCurrentIndex(3)
    widget.tabs.setCurrentIndex(1)
    shown = []
    for volume in range(form.volume_mode.count()):
        form.volume_mode.setCurrentIndex(volume)
        _settle(qtbot)
        page = widget.tabs.currentWidget()
        shown.append((form.anisotropy.isVisibleTo(widget), form.stitch.isVisibleTo(widget)))
        assert page.horizontalScrollBar().maximum() == 0, form.volume_mode.currentText()
        assert _cut_off(widget, page.widget()) == [], form.volume_mode.currentText()
    assert shown == [(False, False), (True, False), (False, True)]
    assert seen >= 2 * 4 * widget.tabs.count()


def test_secondary_docks_scroll_and_fit_440_px(make_napari_viewer, qtbot):
    """Stacked with the main dock in a 700 px high window, the secondary docks scroll instead of
    squeezing the main dock (Measure and Train needed 705 and 747 px; Track, which did not scroll,
    left the main dock 186 px, its pages a sliver), and fit 440 px wide."""
    from napari_batchseg._napari._measure_widget import MeasureExportWidget
    from napari_batchseg._napari._pages import MIN_PAGES_HEIGHT
    from napari_batchseg._napari._rethreshold_widget import RethresholdWidget
    from napari_batchseg._napari._track_widget import TrackWidget
    from napari_batchseg._napari._train_widget import TrainWidget
    from napari_batchseg._napari._widget import BatchSegWidget

    viewer = make_napari_viewer(show=True)
    main = BatchSegWidget(viewer)
    others = (MeasureExportWidget, TrainWidget, TrackWidget, RethresholdWidget)
    docks = [_docked(viewer, w, qtbot) for w in (main, *(cls(viewer) for cls in others))]
    _settle(qtbot)
    for dock in docks[1:]:
        assert dock.minimumSizeHint().height() < 250, dock.windowTitle()
    # the main dock keeps its run bar in view, and its pages a usable height
    for w in (main.run_btn, main.cancel_btn, main.status.progress):
        assert w.isVisibleTo(main)
        assert w.mapTo(main, QPoint(0, w.height())).y() <= main.height()
    assert main.tabs.height() >= MIN_PAGES_HEIGHT
    for dock in docks[1:]:
        area = dock.widget().findChild(QScrollArea)
        assert area is not None and area.horizontalScrollBar().maximum() == 0, dock.windowTitle()
        assert _cut_off(dock.widget(), area.widget()) == [], dock.windowTitle()


def test_secondary_docks_opened_together_are_tabs_of_a_usable_height(make_napari_viewer, qtbot):
    """A walk: Measure, Train and Track opened beside the main dock (as from napari's Plugins menu) were
    stacked under it at about 70 px each, two rows of their controls. Now they are tabs of one place, the
    one opened last in front, given at least the height it asks for."""
    from napari_batchseg._napari._jobs import dock_of
    from napari_batchseg._napari._measure_widget import MeasureExportWidget
    from napari_batchseg._napari._track_widget import TrackWidget
    from napari_batchseg._napari._train_widget import TrainWidget
    from napari_batchseg._napari._widget import BatchSegWidget

    viewer = make_napari_viewer(show=True)
    main = BatchSegWidget(viewer)
    _docked(viewer, main, qtbot, height=980)
    secondary = [cls(viewer) for cls in (MeasureExportWidget, TrainWidget, TrackWidget)]
    for widget in secondary:
        viewer.window.add_dock_widget(widget, area="right")
        qtbot.wait(50)  # (each joins the others' tabs the turn after napari docked it)
    window, docks = dock_of(main).parentWidget(), [dock_of(w) for w in secondary]
    qtbot.waitUntil(lambda: len(window.tabifiedDockWidgets(docks[0])) == 2, timeout=5000)
    assert set(window.tabifiedDockWidgets(docks[0])) == set(docks[1:])
    assert dock_of(main) not in window.tabifiedDockWidgets(docks[0])  # the main dock stays in view
    front = secondary[-1]
    # (Qt leaves a dock behind another's tab "visible": nothing of it is on screen)
    qtbot.waitUntil(lambda: not front.visibleRegion().isEmpty() and secondary[0].visibleRegion().isEmpty(),
                    timeout=5000)
    assert front.height() >= front.sizeHint().height() - 5
    assert main.tabs.height() >= 150 and main.run_btn.isVisibleTo(main)


def test_run_switches_to_results_and_details_are_readable(widget, data_folder, qtbot):
    from ._fakes import factory

    broken = data_folder / "broken_BF.tif"
    broken.write_bytes((data_folder / "nuclei_BF.tif").read_bytes())
    widget.files.add_paths([data_folder])
    qtbot.waitUntil(lambda: not widget.infos.busy, timeout=20000)
    broken.write_bytes(b"II*\x00garbage")  # broken after its check: it fails in the run, with its reason
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
