"""The Results table's last column (the output name's tail) is never cut off by the dock's edge.

GUI trial 44: the Batch segmentation dock sharing its area with the Track and Measure docks (its Results
page scrolling vertically, the table 401 px wide) drew the columns 419 px wide without a sideways scroll
bar: the Details column of a done output read "…_vSM…3-d3", its last characters hidden under the edge.
"""

from __future__ import annotations

from ._fakes import factory


def test_the_details_column_fits_a_narrowed_table(make_napari_viewer, data_folder, qtbot):
    from napari_batchseg._napari._widget import BatchSegWidget

    widget = BatchSegWidget(make_napari_viewer())  # on its own: exactly 440 px wide
    qtbot.addWidget(widget)
    widget.files.contains.setText("nuclei_BF")
    widget.files.add_paths([data_folder])
    widget.controller.segmenter_factory = factory()
    widget.output.suffix.setText("cyto3-d30")
    widget.resize(440, 330)  # a short dock: the Results page scrolls, the table loses ~20 px
    widget.show()
    qtbot.waitExposed(widget)
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running, timeout=60000)
    table = widget.status.table
    qtbot.wait(100)
    page = widget.tabs.currentWidget()
    assert page.verticalScrollBar().isVisible()  # (the case of the trial)
    widths = [table.columnWidth(c) for c in range(table.columnCount())]
    assert sum(widths) <= table.viewport().width(), (widths, table.viewport().width())
    assert table.horizontalScrollBar().maximum() == 0
