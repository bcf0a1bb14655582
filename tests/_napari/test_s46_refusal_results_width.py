"""GUI trial 46: the Results table's Details column at 440 px ("not run:…olds it.", "…_vSM").

The name and the details shared what the numbers left, half each: long file names took as much as the
details. Now the name takes its names' width, at most a quarter of the table, and the details the rest; the
File cell's tooltip says its whole label (a position's ``[P<k>]`` included) and the Details cell's its
whole text; a reason cut short keeps its start (elided in the middle, it read "not run: C… holds it.").
The table still fits its width (no sideways scrolling).
"""

from __future__ import annotations

from pathlib import Path

from napari_batchseg import events as ev
from napari_batchseg.io.naming import output_names
from napari_batchseg.params import SegmentationParams
from napari_batchseg.runners.session import RunSession

REASON = ("not run: Cellpose built-in model 'cyto3': weights file 'cyto3' not found in /root/.cellpose; "
          "download it on a computer with internet access and save it in the folder that holds it.")


def _plan(folder: Path) -> ev.Plan:
    czi = folder / "WP96_4Pos_B4-10_DAPI.czi"
    tasks = [ev.Task(czi, p, 28, output_names(czi, "cyto3-d30", None, p, 28)) for p in range(3)]
    tif = folder / "good1.tif"
    return ev.Plan(SegmentationParams(), [*tasks, ev.Task(tif, 0, 1, output_names(tif))])


def test_details_take_the_width_the_names_leave_and_every_cell_says_its_whole_text(qtbot, tmp_path):
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QStyleOptionViewItem

    from napari_batchseg._napari._status import StatusTable

    plan = _plan(tmp_path)
    session = RunSession(plan)
    status = StatusTable()
    qtbot.addWidget(status)
    status.resize(410, 300)  # the table of a 440 px dock
    status.show()
    qtbot.waitExposed(status)
    status.reset(session)
    for task in plan.tasks:
        status.show_state(session.apply(ev.TaskFailed(task, REASON)))
    table = status.table
    qtbot.waitUntil(lambda: table.columnWidth(4) > 0, timeout=5000)
    widths = [table.columnWidth(c) for c in range(table.columnCount())]
    assert widths[0] <= status.width() // 4 and widths[4] > widths[0], widths
    assert sum(widths) <= table.viewport().width() and table.horizontalScrollBar().maximum() == 0, widths
    for r, task in enumerate(plan.tasks):
        assert task.label in table.item(r, 0).toolTip()  # "WP96….czi [P1]": its position too
        assert REASON in table.item(r, 4).toolTip()
    option = QStyleOptionViewItem()  # a reason cut short keeps its start ("not run: C… holds it." before)
    table.itemDelegateForColumn(4).initStyleOption(option, table.model().index(0, 4))
    assert option.textElideMode == Qt.TextElideMode.ElideRight
    assert table.textElideMode() == Qt.TextElideMode.ElideMiddle  # a name keeps its position's [P<k>]
    status.resize(700, 300)  # a wider dock: the details take what is added
    qtbot.waitUntil(lambda: table.columnWidth(4) > widths[4] + 200, timeout=5000)
    short = RunSession(ev.Plan(SegmentationParams(), plan.tasks[3:]))
    status.reset(short)  # short names: the name column is as narrow as they are
    assert table.columnWidth(0) == table.sizeHintForColumn(0) < status.width() // 4
