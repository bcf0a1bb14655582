"""Inputs and options the models cannot use (issue 9, points 8-11): a clear error or a warning, never a
silently empty or different mask, never an OpenCV assertion as the message."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg import engine
from napari_batchseg.cli import main
from napari_batchseg.params import ParameterError, SegmentationParams
from napari_batchseg.testing import ThresholdSegmenter

STARTER = Path(__file__).resolve().parents[1] / "examples" / "models" / "batchseg_nuclei_cp3"
NAN, INF = float("nan"), float("inf")


def _run(paths, segmenter=None, **changes):
    params = SegmentationParams(**changes)
    return list(engine.run(engine.plan(paths, params), segmenter=segmenter or ThresholdSegmenter()))


def _of(events, kind):
    return [e for e in events if isinstance(e, kind)]


# --------------------------------------------------------------------------- 8: non-finite options
@pytest.mark.parametrize(("name", "value"), [
    ("diameter", NAN), ("diameter", INF), ("diameter", "nan"), ("cellprob_threshold", NAN),
    ("cellprob_threshold", -INF), ("cellprob_threshold", 1e6), ("flow_threshold", NAN),
    ("flow_threshold", INF), ("niter", NAN), ("niter", INF), ("start_frame", NAN), ("end_frame", INF),
    ("batch_size", NAN), ("tile_shape", (NAN, 512)), ("tile_shape", "inf,512"), ("halo", (64, INF)),
    ("channel", NAN), ("extra", {"foreground_threshold": NAN}),
])
def test_non_finite_options_are_refused_by_name(name, value):
    with pytest.raises(ParameterError) as info:
        SegmentationParams(**{name: value})
    text = str(info.value)
    shown = "foreground_threshold" if name == "extra" else name
    assert shown in text and "Traceback" not in text


@pytest.mark.parametrize(("option", "value"), [
    ("--diameter", "nan"), ("--diameter", "inf"), ("--cellprob-threshold", "nan"),
    ("--flow-threshold", "inf"), ("--start-frame", "1e400"), ("--tile-shape", "nan,512"),
    ("--sam-set", "foreground_threshold=.nan"),
])
def test_cli_refuses_non_finite_options(tmp_path, capsys, option, value):
    movie = tmp_path / "a.tif"
    tifffile.imwrite(movie, np.zeros((8, 8), np.uint16))
    with pytest.raises(SystemExit) as info:
        main(["segment", str(movie), option, value, "-q"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert ("finite" in err or "integer" in err or "invalid" in err) and "Traceback" not in err


def test_finite_options_still_accepted():
    p = SegmentationParams(diameter=17.5, cellprob_threshold=-6, flow_threshold=0.0, niter=200,
                           start_frame=2.0, end_frame=5, tile_shape="512,512", halo=(64, 64), channel=1.0)
    assert p.start_frame == 2 and p.channel == 1 and math.isfinite(p.diameter)


# --------------------------------------------------------------------------- 8: non-finite pixels
@pytest.mark.parametrize("bad", [NAN, INF, -INF])
def test_non_finite_pixels_fail_the_output_with_a_clear_message(tmp_path, bad):
    data = np.random.default_rng(0).random((3, 32, 32)).astype(np.float32)
    data[1, 5, 5] = bad
    data[1, 6, 7] = bad
    movie = tmp_path / "float.tif"
    tifffile.imwrite(movie, data, metadata={"axes": "TYX"}, photometric="minisblack")
    events = _run([movie])
    failed = _of(events, engine.TaskFailed)
    assert len(failed) == 1
    assert "frame t=1" in failed[0].reason and "2 pixel(s)" in failed[0].reason
    assert "NaN or infinite" in failed[0].reason and not failed[0].details  # no traceback: an input error
    assert not (tmp_path / "float_vSM.ome.tif").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["float.tif"]


# --------------------------------------------------------------------------- 9: too small for the network
@pytest.fixture(scope="module")
def cellpose_starter():
    if not STARTER.exists():
        pytest.skip("starter model missing")
    from napari_batchseg.segmenters import load_segmenter

    return lambda **kw: load_segmenter(SegmentationParams(model=str(STARTER), **kw))


@pytest.mark.parametrize("shape", [(1, 1), (4, 4), (7, 64), (64, 2)])
def test_too_small_images_name_the_minimum(tmp_path, cellpose_starter, shape):
    path = tmp_path / "tiny.tif"
    tifffile.imwrite(path, (np.random.default_rng(1).random(shape) * 1000).astype(np.uint16))
    events = _run([path], segmenter=cellpose_starter(), model=str(STARTER))
    failed = _of(events, engine.TaskFailed)
    assert len(failed) == 1, events
    assert "at least 8 pixels" in failed[0].reason and "OpenCV" not in failed[0].reason


def test_eight_pixels_is_enough(tmp_path, cellpose_starter):
    path = tmp_path / "small.tif"
    tifffile.imwrite(path, (np.random.default_rng(1).random((8, 8)) * 1000).astype(np.uint16))
    assert _of(_run([path], segmenter=cellpose_starter(), model=str(STARTER)), engine.TaskDone)


def test_diameter_too_large_for_the_image_names_the_minimum(tmp_path, cellpose_starter):
    path = tmp_path / "img.tif"
    tifffile.imwrite(path, (np.random.default_rng(1).random((64, 64)) * 1000).astype(np.uint16))
    events = _run([path], segmenter=cellpose_starter(diameter=5000), model=str(STARTER), diameter=5000)
    failed = _of(events, engine.TaskFailed)
    assert len(failed) == 1 and "each side must be at least 295 pixels" in failed[0].reason, failed
    assert "OpenCV" not in failed[0].reason


# --------------------------------------------------------------------------- 10: --axes only where needed
def test_axes_apply_only_to_ambiguous_files(tmp_path, capsys):
    rng = np.random.default_rng(2)
    ambiguous = tmp_path / "plain.tif"  # tifffile's shaped metadata: axes 'QYX' (unknown)
    tifffile.imwrite(ambiguous, (rng.random((5, 32, 32)) * 1000).astype(np.uint16), photometric="minisblack")
    clear = tmp_path / "clear.ome.tif"
    tifffile.imwrite(clear, (rng.random((2, 2, 32, 32)) * 1000).astype(np.uint16), ome=True,
                     metadata={"axes": "CTYX"})
    the_plan = engine.plan([tmp_path], SegmentationParams(axes="TYX"))
    assert all(t.error is None for t in the_plan.tasks), [t.error for t in the_plan.tasks]
    by_name = {t.input.name: t for t in the_plan.tasks}
    assert by_name["plain.tif"].use_axes and not by_name["clear.ome.tif"].use_axes
    assert any("clear.ome.tif" in n and "ambiguous files only" in n for n in the_plan.notes)
    events = list(engine.run(the_plan, segmenter=ThresholdSegmenter()))
    done = _of(events, engine.TaskDone)
    assert len(done) == 2
    from napari_batchseg.io.masks import read_mask

    assert read_mask(tmp_path / "plain_vSM.ome.tif").labels.shape[0] == 5  # TYX: 5 frames
    assert read_mask(tmp_path / "clear_vSM.ome.tif").labels.shape[0] == 2  # its own T
    # without --axes the ambiguous file still fails with the reader's advice
    plain = engine.plan([ambiguous], SegmentationParams())
    assert plain.tasks[0].error and "ambiguous axes" in plain.tasks[0].error


# --------------------------------------------------------------------------- 11: named folders, no file
def test_named_folder_or_link_yielding_no_file_is_a_warning(tmp_path, capsys):
    good = tmp_path / "good"
    good.mkdir()
    tifffile.imwrite(good / "a.tif", np.zeros((16, 16), np.uint16))
    empty = tmp_path / "empty"
    empty.mkdir()
    filtered = tmp_path / "filtered"
    filtered.mkdir()
    (filtered / "notes.txt").write_text("x")
    tifffile.imwrite(filtered / "b_WL.tif", np.zeros((16, 16), np.uint16))
    link = tmp_path / "link"
    link.symlink_to(empty, target_is_directory=True)
    from napari_batchseg.discovery import FileFilter

    flt = FileFilter(not_contains=["_WL"])
    the_plan = engine.plan([good, empty, filtered, link], SegmentationParams(), flt)
    assert [t.input.name for t in the_plan.tasks] == ["a.tif"]
    text = "\n".join(the_plan.notes)
    assert str(empty) in text and str(filtered) in text and str(link) in text
    assert "left out by the filters" in text and "a link to" in text
    status = main(["segment", str(good), str(empty), "--model", str(STARTER), "--dry-run"])
    assert status == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "warning" in err and str(empty) in err and "no file" in err


# --------------------------------------------------------------------------- issue 22: hangs on special files
def _with_fifo_watchdog(fifo: Path, work, seconds: float = 20.0):
    """Run ``work()`` in a thread; if it is still blocked on ``fifo`` after ``seconds``, open the pipe's
    write end (so a blocked reader gets end-of-file and the test ends) and fail."""
    import os
    import threading

    result: dict[str, object] = {}

    def target():
        try:
            result["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
        thread.join(10)
        pytest.fail(f"blocked on the named pipe {fifo} for {seconds:.0f} s")
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return result.get("value")


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="no named pipes here")
def test_named_pipe_named_like_a_tiff_is_a_clear_error_not_a_hang(tmp_path, capsys):
    import os

    good = tmp_path / "good.tif"
    tifffile.imwrite(good, np.zeros((16, 16), np.uint16))
    fifo = tmp_path / "x.tif"
    os.mkfifo(fifo)
    the_plan = _with_fifo_watchdog(fifo, lambda: engine.plan([good, fifo], SegmentationParams()))
    by_name = {t.input.name: t for t in the_plan.tasks}
    assert by_name["good.tif"].error is None
    assert by_name["x.tif"].error and "named pipe" in by_name["x.tif"].error
    status = _with_fifo_watchdog(fifo, lambda: main(["info", str(fifo)]))
    assert status != 0
    shown = capsys.readouterr()
    text = shown.out + shown.err
    assert "x.tif" in text and "not a regular file" in text and "Traceback" not in text


# --------------------------------------------------------------------------- issue 22: runaway options
@pytest.mark.parametrize("diameter", [1e-300, 0.01, 1.0])
def test_diameter_that_would_enlarge_the_image_too_much_is_refused_naming_the_limit(
    tmp_path, cellpose_starter, diameter
):
    path = tmp_path / "img.tif"
    tifffile.imwrite(path, (np.random.default_rng(1).random((200, 200)) * 1000).astype(np.uint16))
    segmenter = cellpose_starter(diameter=diameter)
    events = _run([path], segmenter=segmenter, model=str(STARTER), diameter=diameter)
    failed = _of(events, engine.TaskFailed)
    assert len(failed) == 1 and not failed[0].details, failed  # a clear input error, no traceback
    reason = failed[0].reason
    assert f"diameter {diameter:g} would rescale the 200 x 200 image" in reason
    assert "over the limit of a 10x enlargement and 67,108,864 pixels" in reason and "at least" in reason
    assert [p.name for p in tmp_path.iterdir()] == ["img.tif"]


@pytest.mark.parametrize("value", ["10001", "1000000", "1000000000000"])
def test_niter_is_bounded_naming_the_limit(tmp_path, capsys, value):
    movie = tmp_path / "a.tif"
    tifffile.imwrite(movie, np.zeros((8, 8), np.uint16))
    with pytest.raises(SystemExit) as info:
        main(["segment", str(movie), "--niter", value, "-q"])
    assert info.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "niter must be between 0 (automatic) and 10,000" in err and "Traceback" not in err
    with pytest.raises(ParameterError, match="10,000"):
        SegmentationParams(niter=float(value))


# --------------------------------------------------------------------------- issue 22: lying TIFF header
def test_tiff_header_claiming_more_pixels_than_the_file_holds_is_corrupt_before_any_output(tmp_path):
    path = tmp_path / "huge.tif"
    tifffile.imwrite(path, np.zeros((16, 16), np.uint16), metadata=None)
    with tifffile.TiffFile(path, mode="r+b") as tif:  # the header now claims 100,000 x 100,000 pixels
        for name in ("ImageWidth", "ImageLength", "RowsPerStrip"):
            tif.pages[0].tags[name].overwrite(100_000)
    assert path.stat().st_size < 1024
    the_plan = engine.plan([path], SegmentationParams(output_dir=str(tmp_path / "out")))
    error = the_plan.tasks[0].error
    assert error and "truncated or corrupt TIFF" in error and "100000 x 100000" in error, error
    # a walk: in one batch a corrupt file was named by its name alone, a file gone by its whole path
    assert error.startswith(f"{path}: "), error
    events = list(engine.run(the_plan, segmenter=ThresholdSegmenter()))
    assert len(_of(events, engine.TaskFailed)) == 1
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


# --------------------------------------------------------------------------- issue 22: silent losses
@pytest.mark.parametrize("which", ["mask", "log"])
def test_dangling_link_at_the_output_name_is_an_error_before_any_work(tmp_path, capsys, which):
    movie = tmp_path / "a.tif"
    tifffile.imwrite(movie, (np.random.default_rng(0).random((2, 16, 16)) * 1000).astype(np.uint16),
                     metadata={"axes": "TYX"}, photometric="minisblack")
    name = "a_vSM.ome.tif" if which == "mask" else "a_vSM.log"
    (tmp_path / name).symlink_to(tmp_path / "gone" / "nowhere.tif")
    events = _run([movie])
    failed = _of(events, engine.TaskFailed)
    assert len(failed) == 1 and "symbolic link to a missing file" in failed[0].reason, events
    assert not _of(events, engine.FrameDone) and not _of(events, engine.TaskSkipped)  # no work thrown away
    status = main(["segment", str(movie), "-q"])
    err = " ".join(capsys.readouterr().err.split())
    assert status == 1 and "symbolic link to a missing file" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["a.tif", name])
