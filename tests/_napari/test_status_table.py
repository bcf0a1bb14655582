"""The Results table of the Batch segmentation dock, on a real plan of many files."""

from __future__ import annotations

import numpy as np
import tifffile

from napari_batchseg import engine
from napari_batchseg import events as ev
from napari_batchseg.params import SegmentationParams
from napari_batchseg.runners.session import RunSession


def _visible(table, row: int) -> bool:
    rect = table.visualItemRect(table.item(row, 0))
    return table.viewport().rect().contains(rect.center())


def test_the_running_row_is_followed_until_a_row_is_picked(qtbot, tmp_path):
    """A walk: in a 40-file batch the table stayed on its first rows while file 30 ran."""
    from napari_batchseg._napari._status import StatusTable

    for i in range(40):
        tifffile.imwrite(tmp_path / f"f{i:02d}.tif", np.zeros((16, 16), np.uint16))
    plan = engine.plan([tmp_path], SegmentationParams(output_dir=str(tmp_path / "out")))
    session = RunSession(plan)
    status = StatusTable()
    qtbot.addWidget(status)
    status.resize(400, 300)
    status.show()
    status.reset(session)
    table = status.table
    assert _visible(table, 0) and not _visible(table, 30)
    status.show_state(session.apply(ev.TaskStarted(plan.tasks[30], 1)))
    assert _visible(table, 30) and not _visible(table, 0)
    table.scrollToTop()  # the user scrolls up to look (a review: each update pulled the table back)
    status.show_state(session.apply(ev.FrameDone(plan.tasks[30], 0, 0, 1, np.zeros((16, 16), np.uint16),
                                                 None, 0, None, None, {})))
    status.show_state(session.apply(ev.TaskStarted(plan.tasks[31], 1)))
    assert _visible(table, 0) and not _visible(table, 31)
    table.scrollToItem(table.item(31, 0))  # back down: followed again
    status.show_state(session.apply(ev.TaskStarted(plan.tasks[38], 1)))
    assert _visible(table, 38)
    table.setCurrentCell(2, 0)  # the user picks a row: the table stays where it is
    table.scrollToItem(table.item(2, 0))
    status.show_state(session.apply(ev.TaskStarted(plan.tasks[35], 1)))
    assert _visible(table, 2) and not _visible(table, 35)


def test_listing_a_big_batch_counts_its_statuses_once(qtbot, tmp_path, monkeypatch):
    """A review: each row listed re-counted every task's status for the summary (n × n on the GUI
    thread: 4 million steps for 2,000 files)."""
    from napari_batchseg._napari._status import StatusTable

    for i in range(40):
        tifffile.imwrite(tmp_path / f"f{i:02d}.tif", np.zeros((16, 16), np.uint16))
    session = RunSession(engine.plan([tmp_path], SegmentationParams(output_dir=str(tmp_path / "out"))))
    counted = []
    real_counts = session.counts
    monkeypatch.setattr(session, "counts", lambda: counted.append(1) or real_counts())
    status = StatusTable()
    qtbot.addWidget(status)
    status.reset(session)
    assert len(counted) == 1 and status.table.rowCount() == 40
    assert "40" in status.summary.text()  # the summary is still there, counting every file


def test_a_suffixed_masks_details_show_its_suffix_in_a_440_px_dock(make_napari_viewer, qtbot, tmp_path):
    """Known bug: in the Results tab the Details cell elided ``cells_image_001_vSM-cyto3.ome.tif`` to
    ``cells_i…ome.tif``, as it did the plain ``cells_image_001_vSM.ome.tif``: a suffixed mask looked the
    same as a plain one. The File column names the input; the Details cell shows the mask's own tail."""
    from pathlib import Path

    from qtpy.QtCore import Qt

    from napari_batchseg._napari._pages import RESULTS_TAB
    from napari_batchseg._napari._widget import BatchSegWidget

    from .test_layout import WIDTH

    tifffile.imwrite(tmp_path / "cells_image_001.tif", np.zeros((16, 16), np.uint16))
    widget = BatchSegWidget(make_napari_viewer())  # shown on its own, exactly 440 px wide
    qtbot.addWidget(widget)
    widget.resize(WIDTH, 800)
    widget.show()
    qtbot.waitExposed(widget)
    widget.tabs.setCurrentIndex(RESULTS_TAB)
    seen = []
    for suffix in ("", "cyto3"):
        plan = engine.plan([tmp_path], SegmentationParams(suffix=suffix, output_dir=str(tmp_path / "out")))
        session, task, status = RunSession(plan), plan.tasks[0], widget.status
        status.reset(session)
        status.show_state(session.apply(ev.TaskDone(task, task.names.mask, task.names.log, 1, 0.5)))
        qtbot.wait(20)
        table = status.table
        item, width = table.item(0, 4), table.columnWidth(4)
        assert table.isVisible() and widget.width() == WIDTH  # (the dock no wider)
        assert table.columnViewportPosition(4) + width <= table.viewport().width()  # no sideways scrolling
        shown = table.fontMetrics().elidedText(item.text(), Qt.TextElideMode.ElideMiddle, width - 12)
        assert Path(item.toolTip().splitlines()[0]) == task.names.mask  # the whole path in its tooltip
        seen.append(shown)
    assert seen[0] != seen[1] and "cyto3" in seen[1] and "…" not in seen[1][1:], seen
