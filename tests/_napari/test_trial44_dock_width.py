"""The secondary docks fit napari's 440 px dock whatever the layers are called.

GUI trial 44: the Train dock, opened over the layers of ``arcadia_ecoli_gfp_timelapse.nd2``, was 466 px
wide: its layer drop-downs took the width of the longest layer name, and the dock's right edge (the
*overwrite* box, the spin boxes' + buttons, Cancel) was cut off, with no horizontal scroll bar.
"""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtWidgets import QScrollArea

WIDTH = 440
LONG = "arcadia_ecoli_gfp_timelapse_with_a_long_experiment_name.nd2"


def _dock(name: str, viewer):
    from napari_batchseg._napari._measure_widget import MeasureExportWidget
    from napari_batchseg._napari._rethreshold_widget import RethresholdWidget
    from napari_batchseg._napari._track_widget import TrackWidget
    from napari_batchseg._napari._train_widget import TrainWidget

    return {"train": TrainWidget, "measure": MeasureExportWidget, "track": TrackWidget,
            "rethreshold": RethresholdWidget}[name](viewer)


@pytest.mark.parametrize("name", ["train", "measure", "track", "rethreshold"])
def test_long_layer_names_do_not_widen_a_dock(name, make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((3, 32, 32), np.float32), name=f"{LONG} (input)")
    viewer.add_labels(np.zeros((3, 32, 32), np.uint16), name=LONG)
    dock = _dock(name, viewer)
    qtbot.addWidget(dock)
    dock.resize(WIDTH, 900)
    dock.show()
    qtbot.waitExposed(dock)
    scroll = dock.findChildren(QScrollArea)[0]
    page = scroll.widget()
    assert page.minimumSizeHint().width() <= scroll.viewport().width(), name
    assert page.width() <= scroll.viewport().width()  # nothing beyond the dock's right edge
