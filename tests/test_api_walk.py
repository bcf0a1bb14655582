"""The Python API as a user meets it: what a run tells the caller beyond the per-output status.

A walk of ``segment_files`` in a plain script found that what the CLI prints (the plan's notes, a
finished output's warnings) reached a Python caller nowhere: the library's log records go to a
``NullHandler``, and :class:`~napari_batchseg.api.RunSummary` did not carry them. The runs here use the
deterministic threshold segmenter (the point is the summary, not the model) on a crop of the real DSB2018
image, and the project's Cellpose 3 starter model file where a model load is the point.
"""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_batchseg import SegmentationParams, segment_files
from napari_batchseg.corrections import save_corrections
from napari_batchseg.errors import ModelError
from napari_batchseg.io.masks import read_mask
from napari_batchseg.testing import ThresholdSegmenter


@pytest.fixture
def crop(tmp_path, dsb2018):
    """A 2-frame movie cut from the real DSB2018 nuclei image, in its own folder."""
    img = tifffile.imread(dsb2018[0])
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "nuclei_BF.tif"
    tifffile.imwrite(path, np.stack([img[:96, :96], img[-96:, -96:]]), imagej=True, metadata={"axes": "TYX"})
    return path


def test_a_folder_that_yields_nothing_is_said_in_the_summary(tmp_path, crop):
    """A folder filter that matches nothing: the summary is empty, and says why (it said nothing)."""
    summary = segment_files([crop.parent], SegmentationParams(output_dir=str(tmp_path / "out")),
                            contains=["_DAPI"], segmenter=ThresholdSegmenter())
    assert summary.reports == []
    assert len(summary.notes) == 1
    assert str(crop.parent) in summary.notes[0] and "_DAPI" in summary.notes[0]


def test_an_outputs_warning_reaches_its_report(tmp_path, crop):
    """Overwriting a hand-corrected mask keeps it aside: the report says so (the CLI did, the API not)."""
    params = SegmentationParams(output_dir=str(tmp_path / "out"))
    first = segment_files([crop], params, segmenter=ThresholdSegmenter())
    mask = first.reports[0].mask
    assert mask is not None and first.reports[0].warnings == ()
    labels = read_mask(mask).labels.copy()
    labels[labels == labels.max()] = 0  # a hand correction: one object deleted
    save_corrections(mask, labels)
    again = segment_files([crop], params, existing="overwrite", segmenter=ThresholdSegmenter())
    (report,) = again.reports
    assert report.status == "done"
    assert len(report.warnings) == 1 and "nuclei_BF_vSM.corrected.ome.tif" in report.warnings[0]
    assert (tmp_path / "out" / "nuclei_BF_vSM.corrected.ome.tif").is_file()
    assert "warnings" in again.to_frame().columns


def test_an_output_folder_the_run_made_is_removed_when_the_model_cannot_load(tmp_path, crop):
    """The CLI removes an output folder its run created and left empty; the API left it behind."""
    bad = tmp_path / "not_a_model"
    bad.write_bytes(b"\x00" * 4096)
    out = tmp_path / "new" / "results"
    with pytest.raises(ModelError):
        segment_files([crop], SegmentationParams(model=str(bad), output_dir=str(out)))
    assert not out.exists() and not out.parent.exists()
    assert tmp_path.is_dir()


def test_an_output_folder_that_was_there_stays(tmp_path, crop):
    """Only what the run created is removed: a folder that existed before stays, empty or not."""
    bad = tmp_path / "not_a_model"
    bad.write_bytes(b"\x00" * 4096)
    out = tmp_path / "results"
    out.mkdir()
    with pytest.raises(ModelError):
        segment_files([crop], SegmentationParams(model=str(bad), output_dir=str(out)))
    assert out.is_dir()


def test_a_run_with_outputs_keeps_its_new_folder(tmp_path, crop):
    out = tmp_path / "made" / "here"
    summary = segment_files([crop], SegmentationParams(output_dir=str(out)), segmenter=ThresholdSegmenter())
    assert summary.ok and (out / "nuclei_BF_vSM.ome.tif").is_file()
