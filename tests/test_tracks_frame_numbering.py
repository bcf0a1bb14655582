"""Tracks numbered from another first frame than the mask's objects are refused, not joined by label.

A log-less copy of the real mask of input frames 10-13 (``tests/_timelapse.py``) is tracked by
``batchseg track``, which has no first frame to go by: the tracks are frames 0-3. ``measure
--start-frame 10`` numbers the objects 10-13 and joined the tracks on ``(frame, label)``: nothing
matched, every object got ``track_id`` 0 and the track summary described frames 0-3, without a word.
"""

from __future__ import annotations

import pandas as pd
import pytest

from _downstream import ND2
from _timelapse import FIRST, LAST, logless_copy
from napari_batchseg.errors import InputError
from napari_batchseg.measure import measure_file
from napari_batchseg.tracking.files import track_file
from napari_batchseg.tracking.summary import add_track_ids


@pytest.mark.cp3  # the project's Cellpose 3 model made the mask
def test_measure_numbers_a_logless_masks_tracks_from_the_start_frame_given(tmp_path):
    """The tracks of a log-less mask (numbered 0-3: the tracker knows no better) follow ``--start-frame``
    (session 44; before, measure refused them and only ``--no-tracks`` measured the input frames asked)."""
    bare, labels = logless_copy(tmp_path)
    tracked = track_file(bare, force_labels=True)
    tracks = pd.read_csv(tracked.tracks_csv)
    assert sorted(set(tracks["frame"])) == list(range(len(labels)))  # 0-3: the tracker knows no better
    out = tmp_path / "out"
    out.mkdir()
    result = measure_file(bare, output_dir=out, image=ND2, start_frame=FIRST)
    table = pd.read_csv(result.objects_csv)
    assert sorted(set(table["frame"])) == list(range(FIRST, LAST + 1)) and (table["track_id"] > 0).all()
    # without the tracks the frames are the input's, as asked
    result = measure_file(bare, output_dir=out, image=ND2, start_frame=FIRST, tracks=False, overwrite=True)
    assert sorted(set(pd.read_csv(result.objects_csv)["frame"])) == list(range(FIRST, LAST + 1))


def test_add_track_ids_keeps_untracked_objects_of_tracked_frames():
    """An object the tracks do not hold, in a frame they cover, is untracked (0), as before."""
    objects = pd.DataFrame({"frame": [5, 5], "label": [1, 2], "area_px": [10, 12]})
    tracks = pd.DataFrame({"track_id": [7], "frame": [5], "label": [1]})
    assert add_track_ids(objects, tracks)["track_id"].tolist() == [7, 0]
    with pytest.raises(InputError, match=r"frame 6,.*frames 5-5"):
        add_track_ids(objects.assign(frame=6), tracks)
