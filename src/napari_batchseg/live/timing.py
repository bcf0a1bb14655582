"""The live view's timing: every delay of what is shown when, each with its reason (milliseconds).

The live view (:class:`~napari_batchseg.live.model.LiveModel`) is the only user of these; the napari
scheduler that applies its commands has no timing of its own.
"""

from __future__ import annotations

#: frames that arrive within this long of each other reach the screen in one refresh (napari redraws a
#: layer's slice for each refresh: one per frame of a fast run would keep the GUI thread busy)
REFRESH_MS = 40.0
#: following a run moves napari's frame slider, and switches the layers to another output, at most this
#: often: each re-slices every layer (25-50 ms of napari's work, plus a composition of the window).
#: Also how far ahead a redraw of the table looks for a layer refresh to share its composition with.
FOLLOW_MS = 1000.0
#: an output shown late (it waited for its turn) moves the slider to its newest frame this long after
#: the switch, not with it (both re-slice every layer: together, one long stall) and not a FOLLOW_MS later
SWITCH_MOVE_MS = 250.0
#: pause between the labels and the image layer's halves of pointing the layers at another output (each
#: napari data/scale setter costs 25-50 ms; two in one turn of the event loop are one long stall)
SPLIT_MS = 20.0
#: the status table and progress bar are redrawn at most this often during a run (each redraw is a
#: composition of napari's whole window: 10-17 ms with a GPU, 20-40 ms under software OpenGL)
REDRAW_MS = 500.0
