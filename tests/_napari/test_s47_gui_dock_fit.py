"""Session 47: a dock opened beside another one shows its whole controls (nothing cut at its right edge).

A new-user trial: *Re-threshold*, then *Train* from napari's Plugins menu: Train was tabbed into the
Re-threshold dock's place, 322 px wide inside, its controls needing 337: the spin boxes' + buttons, the
*overwrite* box and "Files / results" were cut off, with no horizontal scroll bar. *Track cells* alone
needed 344 px in 336. Both are now as wide as the Batch segmentation dock (440 px), as the README says.
"""

from __future__ import annotations

import pytest
from qtpy.QtWidgets import QScrollArea


def _classes():
    from napari_batchseg._napari._measure_widget import MeasureExportWidget
    from napari_batchseg._napari._rethreshold_widget import RethresholdWidget
    from napari_batchseg._napari._track_widget import TrackWidget
    from napari_batchseg._napari._train_widget import TrainWidget

    return {"rethreshold": RethresholdWidget, "train": TrainWidget, "track": TrackWidget,
            "measure": MeasureExportWidget}


@pytest.mark.parametrize("order", [("rethreshold", "train"), ("track",), ("measure", "track", "train")])
def test_docks_opened_one_after_another_show_their_whole_controls(order, make_napari_viewer, qtbot):
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1600, 1000)
    docks = []
    for name in order:
        widget = _classes()[name](viewer)
        docks.append((name, viewer.window.add_dock_widget(widget, name=name), widget))
        qtbot.wait(100)
    for name, dock, widget in docks:
        dock.show()
        dock.raise_()
        qtbot.wait(100)
        scroll = widget.findChild(QScrollArea)
        page = scroll.widget()
        needed, room = page.minimumSizeHint().width(), scroll.viewport().width()
        assert needed <= room, f"{name} (after {order}): its controls need {needed} px, it shows {room}"
        assert page.width() <= room
