"""The output preview's planned tasks, each with the parameters its file would run with (view.outputs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_batchseg.io.sources import SourceInfo
from napari_batchseg.params import SegmentationParams
from napari_batchseg.view.outputs import planned_outputs, planned_tasks


def test_tasks_get_positions_readable_metadata_and_their_file_s_parameters() -> None:
    a, b, c = Path("/in/a.nd2"), Path("/in/b.tif"), Path("/in/c.tif")
    info_a = SourceInfo(a, {"P": 2, "Y": 8, "X": 8}, np.dtype(np.uint16), ["C0"])
    infos: dict[Path, SourceInfo | str | None] = {a: info_a, b: "cannot read b.tif", c: None}
    outs = planned_outputs([a, b, c], infos, "x", None)
    params = {a: SegmentationParams(diameter=20.0)}
    planned = planned_tasks(outs, infos, params)
    assert [(t.input, t.position, t.n_positions) for t, _ in planned] == [(a, 0, 2), (a, 1, 2), (b, 0, 1),
                                                                          (c, 0, 1)]
    assert [t.names for t, _ in planned] == [names for _, _, names in outs]
    assert [t.info for t, _ in planned] == [info_a, info_a, None, None]  # an unreadable file: no metadata
    assert [p for _, p in planned] == [params[a], params[a], None, None]
    assert [p for _, p in planned_tasks(outs, infos, None)] == [None] * 4  # the form holds an invalid value
