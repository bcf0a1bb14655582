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
