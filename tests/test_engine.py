"""End-to-end engine tests on real images with the project's own Cellpose model (no stand-ins)."""

import threading
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg import engine
from napari_batchseg.api import segment_files
from napari_batchseg.discovery import FileFilter
from napari_batchseg.errors import OutputError
from napari_batchseg.io.masks import read_mask
from napari_batchseg.io.reader import open_source
from napari_batchseg.params import SegmentationParams
from napari_batchseg.prepare import prepare_frame, resolve_channel
from napari_batchseg.provenance import parse_log

STARTER = Path(__file__).resolve().parents[1] / "examples" / "models" / "batchseg_nuclei_cp3"


@pytest.fixture(scope="session")
def starter_model():
    assert STARTER.exists(), f"the project's starter model is missing: {STARTER}"
    return STARTER


@pytest.fixture(scope="session")
def loaded_segmenter(starter_model):
    from napari_batchseg.segmenters import load_segmenter

    return load_segmenter(SegmentationParams(model=str(starter_model)))


@pytest.fixture(scope="module")
def dsb_crop(dsb2018):
    image = tifffile.imread(dsb2018[0])
    return image[:192, :192]


@pytest.fixture
def movie(tmp_path, dsb_crop):
    """A real 3-frame, 2-channel time series (ImageJ TCYX) built from the DSB2018 nuclei image."""
    frames = np.stack([dsb_crop, np.fliplr(dsb_crop), np.rot90(dsb_crop)])
    data = np.stack([frames // 2, frames], axis=1).astype(np.uint16)  # channel 1 = nuclei
    path = tmp_path / "movie_BF.tif"
    tifffile.imwrite(path, data, imagej=True, metadata={"axes": "TCYX", "unit": "um"},
                     resolution=(1 / 0.5, 1 / 0.5))
    return path


@pytest.fixture
def params(starter_model):
    return SegmentationParams(model=str(starter_model), channel=1)


@pytest.mark.cp3  # the project's Cellpose 3 model
@pytest.mark.cp3  # the project's Cellpose 3 model
def test_written_masks_equal_cellpose_eval(movie, params, loaded_segmenter):
    from cellpose import models

    summary = segment_files([movie], params, segmenter=loaded_segmenter)
    assert summary.ok, summary.reports
    mask = read_mask(movie.with_name("movie_BF_vSM.ome.tif"))
    assert mask.labels.shape == (3, 192, 192)
    assert mask.pixel_size.x == pytest.approx(0.5)
    ref_model = models.CellposeModel(gpu=False, pretrained_model=params.model)
    with open_source(movie) as src:
        for t in range(3):
            frame = prepare_frame(src, 0, t, resolve_channel(src.info, 1), params.zrange, "mean")
            expected, _, _ = ref_model.eval(frame.image, channels=[0, 0], diameter=ref_model.diam_labels,
                                            flow_threshold=params.flow_threshold,
                                            cellprob_threshold=params.cellprob_threshold)
            assert expected.max() > 5  # it found nuclei
            np.testing.assert_array_equal(mask.labels[t], expected)


@pytest.mark.cp3  # the project's Cellpose 3 model
def test_log_has_full_provenance_and_is_written_after_mask(movie, params, loaded_segmenter):
    events = list(engine.run(engine.plan([movie], params), segmenter=loaded_segmenter))
    done = [e for e in events if isinstance(e, engine.TaskDone)]
    assert len(done) == 1
    log_text = done[0].log_path.read_text()
    assert done[0].log_path.stat().st_mtime_ns >= done[0].mask_path.stat().st_mtime_ns
    for needle in ("input: " + str(movie), "parameters: ", "versions: ", "cellpose", "device",
                   "frame t=2:", "objects", "segment ", "output: "):
        assert needle in log_text, needle
    assert read_mask(done[0].mask_path).log_text.strip() == log_text.strip()
    assert parse_log(log_text).params == params
    frames = [e for e in events if isinstance(e, engine.FrameDone)]
    assert [f.t for f in frames] == [0, 1, 2]
    assert all(f.n_objects == len(np.unique(f.labels)) - 1 for f in frames)


@pytest.mark.cp3  # the project's Cellpose 3 model
def test_bad_inputs_fail_alone_and_name_the_problem(tmp_path, movie, params, loaded_segmenter):
    good = movie
    trunc = tmp_path / "trunc_BF.tif"
    trunc.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    text = tmp_path / "text_BF.tif"
    text.write_text("hello world, I am not an image")
    empty = tmp_path / "empty_BF.tif"
    empty.write_bytes(b"")
    junk = tmp_path / "junk_BF.nd2"
    junk.write_bytes(np.random.default_rng(0).bytes(5000))
    missing = tmp_path / "missing_BF.tif"
    summary = segment_files([good, trunc, text, empty, junk, missing], params, segmenter=loaded_segmenter)
    status = {r.input.name: r for r in summary.reports}
    assert status["movie_BF.tif"].status == "done"
    for name in ("trunc_BF.tif", "text_BF.tif", "empty_BF.tif", "junk_BF.nd2", "missing_BF.tif"):
        assert status[name].status == "failed", name
        assert name in status[name].reason
    assert not summary.ok
    leftovers = [p.name for p in tmp_path.iterdir() if "_vSM" in p.name]
    assert sorted(leftovers) == ["movie_BF_vSM.log", "movie_BF_vSM.ome.tif"]


@pytest.mark.parametrize(
    ("change", "fragment"),
    [({"channel": 5}, "channel index 5 out of range"),
     ({"z_range": "2-4"}, "Z range 2-4 out of bounds; the file has 1 Z slice (0): it is not a Z stack"),
     ({"start_frame": 7}, "start frame 7 out of range"), ({"channel": "GFP"}, "no channel named")],
)
@pytest.mark.cp3  # the project's Cellpose 3 model
def test_parameter_misfits_are_per_file_errors(movie, params, loaded_segmenter, change, fragment):
    summary = segment_files([movie], params.replace(**change), segmenter=loaded_segmenter)
    (report,) = summary.reports
    assert report.status == "failed" and fragment in report.reason and str(movie) in report.reason


@pytest.mark.cp3  # the project's Cellpose 3 model
def test_z_range_out_of_bounds(tmp_path, dsb_crop, params, loaded_segmenter):
    stack = np.stack([dsb_crop] * 4)[:, None]  # ZCYX with one channel
    path = tmp_path / "z_BF.ome.tif"
    tifffile.imwrite(path, stack, ome=True, metadata={"axes": "ZCYX"})
    bad = segment_files([path], params.replace(channel=0, z_range="2-6"), segmenter=loaded_segmenter)
    assert bad.reports[0].status == "failed" and "out of bounds" in bad.reports[0].reason
    ok = segment_files([path], params.replace(channel=0, z_range="best:1"), segmenter=loaded_segmenter)
    assert ok.ok
    log = path.with_name("z_BF_vSM.log").read_text()
    assert "best focus" in log


@pytest.mark.cp3  # the project's Cellpose 3 model
def test_existing_policies(movie, params, loaded_segmenter):
    segment_files([movie], params, segmenter=loaded_segmenter)
    out = movie.with_name("movie_BF_vSM.ome.tif")
    stamp = out.stat().st_mtime_ns
    skipped = segment_files([movie], params, segmenter=loaded_segmenter)  # default: skip
    assert skipped.reports[0].status == "skipped" and out.stat().st_mtime_ns == stamp
    err = segment_files([movie], params.replace(existing="error"), segmenter=loaded_segmenter)
    assert err.reports[0].status == "failed" and "exists" in err.reports[0].reason
    over = segment_files([movie], params.replace(existing="overwrite", end_frame=0),
                         segmenter=loaded_segmenter)
    assert over.ok and read_mask(out).labels.shape[0] == 1


@pytest.mark.cp3  # the project's Cellpose 3 model
def test_cancel_leaves_no_partial_output(tmp_path, movie, params, loaded_segmenter):
    first = tmp_path / "a_first.tif"
    first.write_bytes(movie.read_bytes())
    cancel = threading.Event()
    seen = []
    for event in engine.run(engine.plan([first, movie], params), segmenter=loaded_segmenter, cancel=cancel):
        seen.append(event)
        if isinstance(event, engine.FrameDone) and event.task.input == movie and event.index == 0:
            cancel.set()
    kinds = [type(e).__name__ for e in seen]
    assert "TaskCancelled" in kinds and kinds.count("TaskDone") == 1
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["a_first.tif", "a_first_vSM.log", "a_first_vSM.ome.tif", "movie_BF.tif"]


def test_collisions_refused_before_work(tmp_path, movie, params):
    other = tmp_path / "sub"
    other.mkdir()
    twin = other / movie.name
    twin.write_bytes(movie.read_bytes())
    with pytest.raises(OutputError, match="collide") as info:
        engine.plan([movie, twin], params.replace(output_dir=str(tmp_path / "out")))
    assert str(movie) in str(info.value) and str(twin) in str(info.value)
    assert not (tmp_path / "out" / "movie_BF_vSM.ome.tif").exists()


def test_unwritable_output_dir(tmp_path, movie, params):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    with pytest.raises(OutputError, match="output folder"):
        engine.plan([movie], params.replace(output_dir=str(blocker / "out")))


@pytest.mark.cp3  # the project's Cellpose 3 model
def test_positions_become_separate_outputs(tmp_path, dsb_crop, params, loaded_segmenter):
    data = np.stack([np.stack([dsb_crop]), np.stack([np.flipud(dsb_crop)])])  # P T Y X
    path = tmp_path / "multi.tif"
    tifffile.imwrite(path, data)
    summary = segment_files([path], params.replace(channel=0, axes="PTYX"), segmenter=loaded_segmenter)
    assert summary.ok and len(summary.reports) == 2
    m0 = read_mask(tmp_path / "multi_P0_vSM.ome.tif").labels
    m1 = read_mask(tmp_path / "multi_P1_vSM.ome.tif").labels
    assert m0.max() > 0 and not np.array_equal(m0, m1)


@pytest.mark.cp3  # the project's Cellpose 3 model
def test_folder_filters(tmp_path, movie, params, loaded_segmenter):
    (tmp_path / "movie_WL520.tif").write_bytes(movie.read_bytes())
    flt = FileFilter(contains=["_BF"])
    p = engine.plan([tmp_path], params, flt)
    assert [t.input.name for t in p.tasks] == ["movie_BF.tif"]


@pytest.mark.cp3  # the project's Cellpose 3 model
def test_rerun_from_log_reproduces_mask(tmp_path, movie, params):
    from napari_batchseg.cli import main

    assert main(["segment", str(movie), "--model", params.model, "--channel", "1", "-q"]) == 0
    log = movie.with_name("movie_BF_vSM.log")
    out = tmp_path / "again"
    assert main(["rerun", str(log), "--output-dir", str(out), "-q"]) == 0
    a = read_mask(movie.with_name("movie_BF_vSM.ome.tif")).labels
    b = read_mask(out / "movie_BF_vSM.ome.tif").labels
    np.testing.assert_array_equal(a, b)
    assert Path(parse_log((out / "movie_BF_vSM.log").read_text()).input_path) == movie
