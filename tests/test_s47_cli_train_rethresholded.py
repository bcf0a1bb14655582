"""A re-thresholded mask can be trained on, as the run it came from (a trial: ``batchseg train`` on a
``batchseg rethreshold --suffix b`` mask stopped with "its log records 0 frame(s) but the mask holds 1":
the re-threshold's frame records lacked the Z slices a run's records give)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.io.masks import read_mask
from napari_batchseg.params import SegmentationParams
from napari_batchseg.rethreshold_run import rethreshold_log
from napari_batchseg.segmenters.cellpose.rethreshold import Thresholds
from napari_batchseg.training.sources import collect_training_data

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "examples" / "models" / "batchseg_nuclei_cp3"
IMAGE = REPO / "examples" / "data" / "dsb2018_nuclei.tif"


@pytest.mark.cp3
def test_a_rethresholded_mask_gives_the_runs_training_frame_with_its_own_labels(tmp_path: Path) -> None:
    from napari_batchseg.api import segment_files

    crop = tmp_path / "crop.tif"
    pixels = np.asarray(tifffile.imread(IMAGE))[:128, :160]
    tifffile.imwrite(crop, pixels)
    params = SegmentationParams(model=str(MODEL), diameter=0, keep_flows=True, output_dir=str(tmp_path))
    assert segment_files([crop], params).ok
    run = collect_training_data([tmp_path / "crop_vSM.ome.tif"], min_masks=1)
    result = rethreshold_log(tmp_path / "crop_vSM.log", Thresholds(cellprob_threshold=-1.0), suffix="cp-1")
    data = collect_training_data([result.mask], min_masks=1)
    (frame,) = data.frames
    assert np.array_equal(frame.image, run.frames[0].image)  # the run's input frame, prepared as the run
    labels = read_mask(result.mask).labels[0]
    assert frame.n_masks == len(np.unique(labels)) - 1 > 0
    assert np.array_equal(frame.labels > 0, labels > 0)
    assert str(result.mask) in data.files or str(result.mask.resolve()) in data.files


@pytest.mark.cp3
def test_a_mask_rethresholded_before_its_records_gave_z_is_trained_on_too(tmp_path: Path) -> None:
    """A re-threshold written before this fix (frame records without ``z ...``): its frames are the
    run's, the input checked by its identity (size, modification time, planes) as every mask's."""
    from napari_batchseg.api import segment_files
    from napari_batchseg.io.masks import write_mask

    crop = tmp_path / "crop.tif"
    tifffile.imwrite(crop, np.asarray(tifffile.imread(IMAGE))[:128, :160])
    params = SegmentationParams(model=str(MODEL), diameter=0, keep_flows=True, output_dir=str(tmp_path))
    assert segment_files([crop], params).ok
    run = collect_training_data([tmp_path / "crop_vSM.ome.tif"], min_masks=1)
    result = rethreshold_log(tmp_path / "crop_vSM.log", Thresholds(cellprob_threshold=-1.0), suffix="cp-1")
    written = read_mask(result.mask)
    assert "frame t=0: z 0; " in written.log_text
    older = tmp_path / "older"
    older.mkdir()
    old_text = written.log_text.replace("frame t=0: z 0; ", "frame t=0: ")  # as the earlier version wrote it
    old_mask = write_mask(older / "crop_vSM-cp-1.ome.tif", written.labels, written.pixel_size, old_text)
    (frame,) = collect_training_data([old_mask], min_masks=1).frames
    assert np.array_equal(frame.image, run.frames[0].image)
    assert np.array_equal(frame.labels > 0, written.labels[0] > 0)
