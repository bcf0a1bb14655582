"""Review 44b: ``measure --image --start-frame`` of a tracked mask with a log cannot join its own tracks.

``batchseg track`` numbers a mask's frames from its log's first frame (here 2). Measured with another
image (``--image``, whose frame 0 is the mask's frame 0: ``--start-frame 0``, allowed with ``--image``),
the objects are numbered from 0 while the tracks stay numbered from 2: "the tracks hold no object of
frame 0 ... (tracks of another mask?): track this mask again", though they are this mask's own tracks and
tracking again numbers them from 2 again. ``tracking.summary.tracks_at`` shifts only a log-less mask's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from napari_batchseg import engine
from napari_batchseg.measure import measure_table
from napari_batchseg.params import SegmentationParams
from napari_batchseg.runners import RunOptions, execute
from napari_batchseg.testing import threshold_segmenter
from napari_batchseg.tracking.files import track_file


def test_tracks_follow_the_start_frame_given_with_an_image(tmp_path: Path) -> None:
    movie = np.full((6, 48, 48), 10, np.uint16)
    for t in range(6):
        movie[t, 8 + t:20 + t, 8:20] = 1000
        movie[t, 30:40, 25 + t:35 + t] = 900
    source = tmp_path / "movie.tif"
    tifffile.imwrite(source, movie, metadata={"axes": "TYX"})
    params = SegmentationParams(start_frame=2)
    the_plan = engine.plan([source], params)
    events = list(execute(the_plan, RunOptions(), segmenter=threshold_segmenter(params)))
    assert isinstance(events[-1], engine.TaskDone)
    mask = the_plan.tasks[0].names.mask
    track_file(mask)
    own = measure_table(mask)  # (frames 2-5, each object with its track)
    assert own["frame"].min() == 2 and own["track_id"].notna().all()
    copy = tmp_path / "copy.tif"  # the frames segmented, as an image of their own
    tifffile.imwrite(copy, movie[2:], metadata={"axes": "TYX"})
    table = measure_table(mask, image=copy, start_frame=0)
    assert table["frame"].min() == 0
    assert list(table["track_id"]) == list(own["track_id"])
