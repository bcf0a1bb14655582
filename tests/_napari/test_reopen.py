"""Reading a finished output back for display (runs in a worker in the widget; called directly here)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_batchseg import engine
from napari_batchseg.io.masks import write_mask
from napari_batchseg.io.reader import open_source
from napari_batchseg.params import SegmentationParams
from napari_batchseg.prepare import prepare_frame
from napari_batchseg.results import load_result


def test_result_of_several_channels_reopens_with_its_first_channel(ome_tzcyx, tmp_path):
    """A Cellpose 4 result made from channels (GFP, DAPI) shows its prepared GFP input."""
    path, _ = ome_tzcyx
    params = SegmentationParams(channel=["GFP", "DAPI"], output_dir=str(tmp_path), z_range="all",
                                z_projection="max")
    plan = engine.plan([path], params)
    task = plan.tasks[0]
    labels = np.zeros((task.info.sizes["T"], 32, 48), np.uint16)
    labels[:, 4:10, 5:12] = 1
    write_mask(task.names.mask, labels, task.info.pixel_size, log_text="not a batchseg log")
    loaded = load_result(task, task.names.mask, params, "done")
    assert loaded.note == ""
    np.testing.assert_array_equal(loaded.labels, labels)
    source = open_source(path)
    expected = prepare_frame(source, 0, 1, 1, params.zrange, "max").image  # GFP is channel 1
    np.testing.assert_allclose(np.asarray(loaded.image[1]), expected)


def test_result_of_a_frame_range_reopens_at_its_first_frame(example_files, tmp_path):
    """Frames 3-5 of a time-lapse: the result reads back with its first frame (3), as the reader places it."""
    import shutil

    from napari_batchseg import segment_files
    from napari_batchseg.testing import threshold_segmenter
    from napari_batchseg.view.layer_files import mask_layer_data

    movie = tmp_path / "movie_BF.nd2"
    shutil.copy(example_files["timelapse"], movie)
    params = SegmentationParams(start_frame=3, end_frame=5)
    segment_files([movie], params, segmenter=threshold_segmenter(params))
    task = engine.plan([movie], params).tasks[0]
    loaded = load_result(task, task.names.mask, None, "done")
    assert loaded.note == "" and loaded.labels.shape[0] == 3
    assert loaded.first_frame == 3
    step = loaded.pixel_size.t  # the movie's time step: T in seconds, as the reader places the mask
    assert step and loaded.scale[0] == step
    assert mask_layer_data(task.names.mask)[0][1]["translate"][0] == pytest.approx(loaded.first_frame * step)
    from napari_batchseg.prepare import resolve_channels

    source = open_source(movie)
    channel = resolve_channels(source.info, params.channel)
    expected = prepare_frame(source, 0, 4, channel, params.zrange, params.z_projection).image  # frame 4
    np.testing.assert_allclose(np.asarray(loaded.image[1]), expected)
