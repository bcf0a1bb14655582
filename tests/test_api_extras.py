"""The Python API beyond ``segment_files``: ``open_mask`` and ``RunSummary.to_frame``.

Real runs of the project's starter Cellpose model on small crops of the real DSB2018 nuclei image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

import napari_batchseg
from napari_batchseg import SegmentationParams, open_mask, segment_files
from napari_batchseg.errors import InputError

STARTER = Path(__file__).resolve().parents[1] / "examples" / "models" / "batchseg_nuclei_cp3"


@pytest.fixture(scope="module")
def run(tmp_path_factory, dsb2018):
    """One batch: a 2-frame movie, a single image and an unreadable file; outputs in ``out``."""
    img = tifffile.imread(dsb2018[0])
    d = tmp_path_factory.mktemp("api_in")
    movie = np.stack([img[:64, :64], img[-64:, -64:]])
    tifffile.imwrite(d / "movie_BF.tif", movie, imagej=True, resolution=(1 / 0.5, 1 / 0.5),
                     metadata={"axes": "TYX", "unit": "um"})
    tifffile.imwrite(d / "single_BF.tif", img[200:264, 300:364])
    (d / "broken_BF.tif").write_text("not an image")
    params = SegmentationParams(model=str(STARTER), output_dir=str(d.parent / (d.name + "_out")))
    return d, params, segment_files([d], params)


def test_open_mask_reads_what_the_run_wrote(run):
    src, params, summary = run
    done = {r.input.name: r for r in summary.reports if r.status == "done"}
    assert sorted(done) == ["movie_BF.tif", "single_BF.tif"]
    assert napari_batchseg.open_mask is open_mask and "open_mask" in napari_batchseg.__all__
    movie = open_mask(done["movie_BF.tif"].mask)
    assert movie.path == done["movie_BF.tif"].mask
    on_disk = tifffile.imread(done["movie_BF.tif"].mask)
    assert movie.labels.shape == (2, 64, 64) == on_disk.shape
    np.testing.assert_array_equal(movie.labels, on_disk)
    assert movie.labels[0].max() > 0 and movie.labels[1].max() > 0
    assert movie.pixel_size.x == pytest.approx(0.5) and movie.pixel_size.y == pytest.approx(0.5)
    assert movie.log_text == done["movie_BF.tif"].log.read_text(encoding="utf-8")
    assert str(src / "movie_BF.tif") in movie.log_text
    single = open_mask(str(done["single_BF.tif"].mask))  # a str path works too
    assert single.labels.shape == (1, 64, 64) and single.labels.max() > 0


def test_open_mask_errors(tmp_path, run):
    with pytest.raises(InputError, match="cannot read mask"):
        open_mask(tmp_path / "missing_vSM.ome.tif")
    bad = tmp_path / "bad_vSM.ome.tif"
    bad.write_text("not a TIFF")
    with pytest.raises(InputError, match="bad_vSM"):
        open_mask(bad)


def test_to_frame_one_row_per_output(run):
    src, params, summary = run
    frame = summary.to_frame()
    assert list(frame.columns) == ["input", "position", "status", "mask", "log", "n_frames", "seconds",
                                   "reason", "other_parameters", "warnings"]
    assert len(frame) == len(summary.reports) == 3
    rows = {Path(r["input"]).name: r for r in frame.to_dict("records")}
    assert {k: v["status"] for k, v in rows.items()} == {
        "broken_BF.tif": "failed", "movie_BF.tif": "done", "single_BF.tif": "done"
    }
    assert rows["movie_BF.tif"]["n_frames"] == 2 and rows["single_BF.tif"]["n_frames"] == 1
    assert Path(rows["movie_BF.tif"]["mask"]).is_file() and rows["movie_BF.tif"]["seconds"] > 0
    assert rows["broken_BF.tif"]["reason"] and rows["broken_BF.tif"]["mask"] is None
    assert frame["status"].tolist() == [r.status for r in summary.reports]
    assert not summary.ok and [r.input.name for r in summary.failed] == ["broken_BF.tif"]


def test_to_frame_of_a_rerun_shows_skipped_outputs(run):
    src, params, _ = run
    again = segment_files([src], params, contains=["_BF"], not_contains=["broken"])
    frame = again.to_frame()
    assert frame["status"].tolist() == ["skipped", "skipped"]
    assert all(Path(m).is_file() for m in frame["mask"])
    assert all("output exists" in r for r in frame["reason"])
    assert again.ok
