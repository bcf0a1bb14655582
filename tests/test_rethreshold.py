"""Re-threshold without the network: kept flows give the masks a full run with the new thresholds gives.

The project's own Cellpose 3 model (examples/models/batchseg_nuclei_cp3) segments a crop of the real
DSB2018 nuclei image with ``keep_flows``; ``batchseg rethreshold`` then recomputes its masks with other
thresholds, and a full run with those thresholds must give the same labels, pixel for pixel.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.api import segment_files
from napari_batchseg.cli import main
from napari_batchseg.io.masks import read_mask
from napari_batchseg.params import ParameterError, SegmentationParams
from napari_batchseg.provenance import parse_log
from napari_batchseg.rethreshold_run import RethresholdError, read_kept_flows, rethreshold_log
from napari_batchseg.segmenters.cellpose.rethreshold import Thresholds, rethreshold_frame

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "examples" / "models" / "batchseg_nuclei_cp3"
NEW = Thresholds(cellprob_threshold=-1.0, flow_threshold=0.9, min_size=40)


@pytest.fixture(scope="module")
def kept_run(tmp_path_factory, dsb2018) -> Path:
    """A crop of the DSB2018 image segmented with keep_flows; returns its log."""
    folder = tmp_path_factory.mktemp("rethreshold")
    image = tifffile.imread(dsb2018[0])
    tifffile.imwrite(folder / "crop.tif", np.asarray(image)[:160, :192])
    params = SegmentationParams(model=str(MODEL), diameter=0, keep_flows=True, output_dir=str(folder))
    summary = segment_files([folder / "crop.tif"], params)
    assert summary.ok, summary.reports
    return folder / "crop_vSM.log"


@pytest.mark.cp3
def test_kept_flows_give_the_full_run_masks_at_other_thresholds(kept_run: Path) -> None:
    folder = kept_run.parent
    kept = read_kept_flows(kept_run)
    assert kept.dp_path.name == "crop_vSM_dP.tif" and kept.cellprob_path.is_file()
    # same thresholds: the run's own masks
    same = rethreshold_log(kept_run, Thresholds(), suffix="same")
    original = read_mask(folder / "crop_vSM.ome.tif").labels
    assert np.array_equal(read_mask(same.mask).labels, original)
    # other thresholds: what a full run with them gives
    result = rethreshold_log(kept_run, NEW, suffix="rt")
    full = segment_files([folder / "crop.tif"], SegmentationParams(
        model=str(MODEL), diameter=0, output_dir=str(folder), suffix="full",
        cellprob_threshold=NEW.cellprob_threshold, flow_threshold=NEW.flow_threshold,
        min_size=NEW.min_size))
    assert full.ok, full.reports
    expected = read_mask(folder / "crop_vSM-full.ome.tif").labels
    got = read_mask(result.mask).labels
    assert not np.array_equal(expected, original)  # the thresholds matter for this image
    assert got.dtype == expected.dtype and np.array_equal(got, expected)
    # the new log names its source and carries the new thresholds (rerun repeats them)
    text = result.log.read_text("utf-8")
    assert f"source run: {kept_run.absolute()}" in text
    logged = parse_log(text)
    assert (logged.params.cellprob_threshold, logged.params.flow_threshold, logged.params.min_size) == (
        -1.0, 0.9, 40)
    assert logged.params.suffix == "rt"
    # and it can be re-thresholded again (its log names the kept flows)
    again = rethreshold_log(result.log, Thresholds(), suffix="back")
    assert np.array_equal(read_mask(again.mask).labels, original)


@pytest.mark.cp3
def test_frame_function_matches_the_kept_run(kept_run: Path) -> None:
    kept = read_kept_flows(kept_run)
    (_t, niter, dp, cellprob), = list(kept.frame_flows())
    labels = rethreshold_frame(dp, cellprob, Thresholds(), niter=niter)
    assert np.array_equal(labels, read_mask(kept.mask_path).labels[0])
    with pytest.raises(ValueError, match="do not match"):
        rethreshold_frame(dp[:1], cellprob, Thresholds())


@pytest.mark.cp3
def test_refusals_write_nothing(kept_run: Path, tmp_path: Path, capsys) -> None:
    folder = kept_run.parent
    before = sorted(p.name for p in folder.iterdir())
    # no suffix and no --overwrite: a usage error
    assert main(["rethreshold", str(kept_run)]) == 2
    # an existing suffix output without --overwrite
    rethreshold_log(kept_run, Thresholds(), suffix="exists")
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(RethresholdError, match="exists"):
        rethreshold_log(kept_run, NEW, suffix="exists")
    # a run made without keep_flows
    plain = folder / "crop_vSM-full.log"
    if plain.is_file():
        with pytest.raises(RethresholdError, match="kept no flows"):
            rethreshold_log(plain, NEW, suffix="x")
    # bad thresholds
    with pytest.raises(ParameterError):
        Thresholds(cellprob_threshold=float("nan"))
    assert sorted(p.name for p in folder.iterdir()) == before


@pytest.mark.cp3
def test_missing_flows_and_changed_input_are_refused(kept_run: Path, tmp_path: Path, capsys) -> None:
    import shutil

    folder = kept_run.parent
    copy = tmp_path / "copy"
    copy.mkdir()
    for p in folder.glob("crop_vSM*"):
        if p.name.startswith(("crop_vSM.", "crop_vSM_")):
            shutil.copy2(p, copy / p.name)
    log = copy / "crop_vSM.log"
    text = kept_run.read_text("utf-8").replace(str(folder / "crop_vSM_"), str(copy / "crop_vSM_"))
    log.write_text(text, "utf-8")
    # flows moved away: one line naming the file
    (copy / "crop_vSM_dP.tif").unlink()
    assert main(["rethreshold", str(log), "--suffix", "b", "--cellprob-threshold", "-1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "kept flows missing" in err[0] and "crop_vSM_dP.tif" in err[0]
    shutil.copy2(folder / "crop_vSM_dP.tif", copy / "crop_vSM_dP.tif")
    # the input changed since the run (its modification time): refused
    image = folder / "crop.tif"
    st = image.stat()
    try:
        os.utime(image, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        assert main(["rethreshold", str(log), "--suffix", "b"]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "changed since the run" in err[0] and str(image) in err[0]
    finally:
        os.utime(image, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert not list(copy.glob("*-b.*")) and not list(folder.glob("*-b.*"))
    # the input as it was: accepted
    assert main(["rethreshold", str(log), "--suffix", "b"]) == 0
    assert (copy / "crop_vSM-b.ome.tif").is_file() and (copy / "crop_vSM-b.log").is_file()


@pytest.mark.cp3
def test_overwrite_replaces_the_run_and_keeps_its_flows(kept_run: Path, tmp_path: Path) -> None:
    import shutil

    folder = kept_run.parent
    copy = tmp_path / "ow"
    copy.mkdir()
    for p in folder.glob("crop_vSM.*"):
        shutil.copy2(p, copy / p.name)
    log = copy / "crop_vSM.log"
    text = kept_run.read_text("utf-8").replace(f"output: {folder}", f"output: {copy}")
    log.write_text(text, "utf-8")
    from napari_batchseg import api  # the Python API's entry point

    result = api.rethreshold_log(log, api.Thresholds(-1.0, 0.9, 40), overwrite=True)
    assert result.mask == copy / "crop_vSM.ome.tif" and result.log == log
    expected = rethreshold_log(kept_run, NEW, suffix="ow")
    assert np.array_equal(read_mask(result.mask).labels, read_mask(expected.mask).labels)
    assert read_kept_flows(log).dp_path == folder / "crop_vSM_dP.tif"
    assert not [p for p in copy.iterdir() if ".partial" in p.name]


def test_keep_flows_is_a_cellpose_setting() -> None:
    with pytest.raises(ParameterError, match="Cellpose settings"):
        SegmentationParams(method="sam", keep_flows=True)
    with pytest.raises(ParameterError, match="min_size"):
        SegmentationParams(min_size=-2)


@pytest.mark.cp4
def test_keep_flows_and_restore_are_refused_under_cellpose_4(tmp_path: Path, capsys) -> None:
    for option in (["--keep-flows"], ["--restore", "denoise_cyto3"], ["--min-size", "30"]):
        with pytest.raises(SystemExit) as exc:
            main(["segment", str(tmp_path), *option])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert "Cellpose 3 only" in err and "4." in err
    assert list(tmp_path.iterdir()) == []
    log = tmp_path / "run_vSM.log"
    log.write_text("not read\n", "utf-8")
    assert main(["rethreshold", str(log), "--suffix", "a"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs Cellpose 3" in err[0] and str(log) in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run_vSM.log"]


# -- the fast path is Cellpose's computation, bit for bit -----------------------------------------------
def _kept_frame(log: Path) -> tuple[int, np.ndarray, np.ndarray]:
    (_t, niter, dp, cellprob), = list(read_kept_flows(log).frame_flows())
    return niter, dp, cellprob


def _sweep(seed: int, n: int) -> list[float]:
    """``n`` cell probability thresholds: seeded, with the run's default and Cellpose's usual range."""
    rng = np.random.default_rng(seed)
    return [0.0, *np.round(rng.uniform(-4.0, 4.0, n - 1), 1).tolist()]


@pytest.mark.cp3
def test_exact_kernels_equal_cellposes_functions_on_real_flows(kept_run: Path) -> None:
    import torch
    from cellpose import dynamics, metrics

    from napari_batchseg.segmenters.cellpose.exact_kernels import flow_errors, follow_flows, get_masks

    niter, dp, cellprob = _kept_frame(kept_run)
    for threshold in _sweep(1, 6):
        cell = cellprob > threshold
        inds = np.nonzero(cell)
        flows = dp * cell / 5.
        for steps in (niter, 37):
            ours = follow_flows(flows, inds, steps)
            theirs = dynamics.steps_interp(flows, inds, np.uint32(steps), device=torch.device("cpu"))
            assert ours.dtype == theirs.dtype == np.float32
            assert np.array_equal(ours, theirs), (threshold, steps, np.abs(ours - theirs).max())
        raw = dynamics.get_masks_torch(torch.from_numpy(ours).int(), inds, dp.shape[1:])
        assert raw.max() > 3  # real objects to check
        mine = get_masks(ours, inds, dp.shape[1:])
        assert mine.dtype == raw.dtype and np.array_equal(mine, raw), threshold
        expected = metrics.flow_error(raw, dp, torch.device("cpu"))[0]
        got = flow_errors(raw, dp)
        assert got.dtype == np.float64 and np.array_equal(got, expected, equal_nan=True), threshold
    # an absent label gives NaN as Cellpose's (never removed), and shapes are checked
    holes = raw.copy()
    holes[holes == 2] = 0
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = metrics.flow_error(holes, dp, torch.device("cpu"))[0]
    got = flow_errors(holes, dp)
    assert np.isnan(got[1]) and np.array_equal(got, expected, equal_nan=True)
    with pytest.raises(ValueError, match="do not match"):
        flow_errors(raw[:10], dp)


@pytest.mark.cp3
def test_follow_flows_end_points_at_the_border_and_at_rest() -> None:
    """Flows that push points out of the image (clamped) or nowhere (zero), as Cellpose's steps."""
    import torch
    from cellpose import dynamics

    from napari_batchseg.segmenters.cellpose.exact_kernels import follow_flows, get_masks

    rng = np.random.default_rng(7)
    ys, xs = np.mgrid[0:48, 0:40].astype(np.float32)
    flows = np.stack([(ys - 10) * 0.31, (xs - 30) * -0.27]).astype(np.float32)  # one source, one sink
    flows += rng.normal(0, 0.2, flows.shape).astype(np.float32)
    flows[:, 20:30, :] = 0  # a band where points stop
    inds = np.nonzero(rng.random((48, 40)) > 0.3)
    for steps in (1, 2, 3, 50, 201):
        theirs = dynamics.steps_interp(flows, inds, np.uint32(steps), device=torch.device("cpu"))
        assert np.array_equal(follow_flows(flows, inds, steps), theirs), steps
    ours = follow_flows(flows, inds, 201)
    assert ours[0].max() == 47 and ours[0].min() == 0  # some points were clamped
    # end points piled at the border and in the band, and no seed at all: as get_masks_torch
    for points in (ours, follow_flows(flows, inds, 2), follow_flows(flows, inds, 0)):
        theirs = dynamics.get_masks_torch(torch.from_numpy(points).int(), inds, (48, 40))
        mine = get_masks(points, inds, (48, 40))
        assert mine.dtype == theirs.dtype and np.array_equal(mine, theirs)
    assert ours[0].max() > 0 and mine.max() == 0  # not moved: one point per pixel, no seed


@pytest.mark.cp3
def test_frame_masks_equal_cellposes_mask_computation_at_many_thresholds(kept_run: Path) -> None:
    from napari_batchseg.segmenters.cellpose.frame_masks import FrameMasks
    from napari_batchseg.segmenters.cellpose.rethreshold import cellpose_labels

    niter, dp, cellprob = _kept_frame(kept_run)
    frame = FrameMasks(dp, cellprob, niter, capacity=3)
    rng = np.random.default_rng(23)
    settings = [(0.0, 0.4, 15), (0.0, 0.0, -1), (0.0, 0.85, 40), (-1.0, 0.9, 40), (-1.0, 0.4, 0),
                (float(cellprob.max()) + 0.5, 0.4, 15)]  # the last: no cell pixel at all
    for cp in _sweep(5, 5):
        for _ in range(2):
            settings.append((cp, float(np.round(rng.uniform(0, 1.5), 2)), int(rng.integers(-1, 60))))
    settings.append((0.0, 0.4, 15))  # back to the first (evicted from the small cache by now)
    counts = set()
    for cp, flow, min_size in settings:
        expected = cellpose_labels(dp, cellprob, Thresholds(cp, flow, min_size), niter=niter)
        got = frame.labels(cp, flow, min_size)
        assert got.dtype == expected.dtype and np.array_equal(got, expected), (cp, flow, min_size)
        counts.add(int(got.max()))
        got[:] = 0  # the caller's copy: the cache is not touched
        assert np.array_equal(frame.labels(cp, flow, min_size), expected)
    assert len(counts) > 5  # the settings matter
    assert np.array_equal(rethreshold_frame(dp, cellprob, NEW, niter=niter),
                          cellpose_labels(dp, cellprob, NEW, niter=niter))


def test_stage_cache_computes_once_and_keeps_the_latest() -> None:
    import threading
    import time

    from napari_batchseg.segmenters.cellpose.frame_masks import StageCache

    cache: StageCache[int, int] = StageCache(2)
    calls: list[int] = []

    def slow(value: int) -> int:
        calls.append(value)
        time.sleep(0.2)
        return value * 10

    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get(1, lambda: slow(1))))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [10, 10, 10] and calls == [1]
    cache.get(2, lambda: slow(2))
    cache.get(1, lambda: slow(1))  # used: now the most recent
    cache.get(3, lambda: slow(3))  # evicts 2
    assert 1 in cache and 3 in cache and 2 not in cache and calls == [1, 2, 3]
    with pytest.raises(RuntimeError):
        cache.get(4, lambda: (_ for _ in ()).throw(RuntimeError("boom")))
    assert cache.get(4, lambda: slow(4)) == 40  # a failed computation is not cached


def test_frame_masks_cache_fits_its_budget() -> None:
    from napari_batchseg.segmenters.cellpose.frame_masks import CACHE_BYTES, FrameMasks

    small = FrameMasks(np.zeros((2, 64, 64), np.float32), np.zeros((64, 64), np.float32), 10)
    big = FrameMasks(np.zeros((2, 2048, 2048), np.float32), np.zeros((2048, 2048), np.float32), 10)
    assert small._raw.capacity == 12 and big._raw.capacity == 2
    assert 3 * big._raw.capacity * 2 * 2048 * 2048 <= 2 * CACHE_BYTES
    with pytest.raises(ValueError, match="do not match"):
        FrameMasks(np.zeros((2, 64, 60), np.float32), np.zeros((64, 64), np.float32), 10)
    # no cell pixel at all: empty labels without any dynamics, as Cellpose's compute_masks
    assert small.labels(0.0, 0.4, 15).max() == 0 and small.labels(0.0, 0.4, 15).dtype == np.uint16


def test_a_volume_run_is_refused_for_what_it_is(tmp_path: Path) -> None:
    """Walk: re-thresholding a volume run's log advised 'segment with --keep-flows', which volumes refuse."""
    from napari_batchseg.provenance import RunLog, log_parameters

    log = RunLog()
    log.info(f"input: {tmp_path / 'cells.tif'}")
    log_parameters(log, SegmentationParams(z_mode="3d"))
    path = tmp_path / "cells_vSM.log"
    path.write_text(log.text(), encoding="utf-8")
    with pytest.raises(RethresholdError, match="a volume run .z_mode 3d.: re-thresholding") as e:
        rethreshold_log(path, NEW, suffix="x")
    assert "segment with --keep-flows" not in str(e.value)


@pytest.mark.cp3
def test_overwrite_keeps_a_hand_corrected_mask(kept_run: Path, tmp_path: Path, capsys) -> None:
    """``rethreshold --overwrite`` over a mask corrected by hand kept nothing of it: the corrections were
    lost without a word (``segment --existing overwrite`` keeps them as ``.corrected.ome.tif``)."""
    import shutil

    from napari_batchseg.corrections import save_corrections
    from napari_batchseg.provenance import has_module_records

    copy = tmp_path / "corr"
    copy.mkdir()
    for p in kept_run.parent.glob("crop_vSM.*"):
        shutil.copy2(p, copy / p.name)
    log, mask = copy / "crop_vSM.log", copy / "crop_vSM.ome.tif"
    corrected = read_mask(mask).labels.copy()
    corrected[corrected == corrected.max()] = 0  # the user deletes an object
    assert save_corrections(mask, corrected).changed
    assert main(["rethreshold", str(log), "--overwrite", "--cellprob-threshold", "-1"]) == 0
    out = capsys.readouterr().out
    kept_mask, kept_log = copy / "crop_vSM.corrected.ome.tif", copy / "crop_vSM.corrected.log"
    assert kept_mask.is_file() and kept_log.is_file(), sorted(p.name for p in copy.iterdir())
    assert np.array_equal(read_mask(kept_mask).labels, corrected)
    assert has_module_records(kept_log.read_text("utf-8"), "correction")
    assert "crop_vSM.corrected.ome.tif" in out
    # the run's own mask is the new one, its log says where the corrected one went
    assert not np.array_equal(read_mask(mask).labels, corrected)
    assert "crop_vSM.corrected.ome.tif" in log.read_text("utf-8")
    # a second overwrite of an uncorrected mask keeps nothing more
    assert main(["rethreshold", str(log), "--overwrite"]) == 0
    assert not (copy / "crop_vSM.corrected-2.ome.tif").exists()


@pytest.mark.cp3
def test_a_bad_suffix_is_a_usage_error_said_once(kept_run: Path, capsys) -> None:
    """A bad ``--suffix`` was reported as a failure of every log named (``failed: suffix 'a_b': ...``
    once per log, after each log was read) with exit status 1; it is a usage error: one line, status 2."""
    folder = kept_run.parent
    before = sorted(p.name for p in folder.iterdir())
    for bad in ("a_b", "", "x-tracked"):
        assert main(["rethreshold", str(kept_run), str(kept_run), "--suffix", bad]) == 2
        err = capsys.readouterr().err
        assert err.count("suffix") == 1 and err.startswith("error: "), err
        assert "failed" not in err and str(kept_run) not in err, err
    assert sorted(p.name for p in folder.iterdir()) == before


@pytest.mark.cp3
def test_a_tracked_log_is_said_to_be_one_and_the_other_logs_still_run(tmp_path: Path, capsys) -> None:
    """Walk: ``rethreshold *.log`` and ``rerun x_vSM-tracked.log`` said ``unknown parameter(s):
    daughter_share, divisions, ...`` of a ``batchseg track`` log; they now say what it is and which log to
    give instead, and the other logs named are still re-thresholded."""
    nd2 = REPO / "examples" / "data" / "arcadia_ecoli_gfp_timelapse.nd2"
    params = SegmentationParams(model=str(MODEL), diameter=0, keep_flows=True, end_frame=1,
                                output_dir=str(tmp_path))
    assert segment_files([nd2], params).ok
    run_log = tmp_path / "arcadia_ecoli_gfp_timelapse_vSM.log"
    assert main(["track", str(run_log.with_name(run_log.stem + ".ome.tif"))]) == 0
    tracked_log = tmp_path / "arcadia_ecoli_gfp_timelapse_vSM-tracked.log"
    capsys.readouterr()
    said = (f"{tracked_log}: a `batchseg track` log (tracking), not a segmentation run log; give the "
            f"segmentation run's own log instead: {run_log}")
    assert main(["rethreshold", str(tracked_log), str(run_log), "--suffix", "rt"]) == 1
    out, err = capsys.readouterr()
    assert err.strip() == f"failed: {said}"
    assert (tmp_path / "arcadia_ecoli_gfp_timelapse_vSM-rt.ome.tif").is_file() and "2 frame(s)" in out
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["rerun", str(tracked_log), "--suffix", "again"]) == 2
    assert capsys.readouterr().err.strip() == f"error: {said}"
    tracked_mask = tmp_path / "arcadia_ecoli_gfp_timelapse_vSM-tracked.ome.tif"
    assert main(["rerun", str(tracked_mask), "--suffix", "again"]) == 2
    what = said.split(": ", 1)[1]
    assert capsys.readouterr().err.strip() == f"error: {tracked_mask} (the log it carries): {what}"
    # moved elsewhere with its run's log: the log beside it is named
    moved = tmp_path / "moved"
    moved.mkdir()
    for log in (tracked_log, run_log):
        (moved / log.name).write_bytes(log.read_bytes())
    assert main(["rerun", str(moved / tracked_log.name)]) == 2
    assert capsys.readouterr().err.strip().endswith(f"instead: {moved / run_log.name}")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*before, "moved"])  # reruns wrote nothing


@pytest.mark.cp3
def test_runs_that_would_write_one_output_are_refused_together_up_front(kept_run: Path, tmp_path: Path,
                                                                         capsys) -> None:
    """Walk: ``rethreshold out/*.log --suffix zz`` over two runs of one input (``one_vSM``,
    ``one_vSM-b``) wrote ``one_vSM-zz`` from the first and failed the second with "... exists"; with
    ``--overwrite`` the second replaced the first without a word. Which run's masks end up there was
    decided by the order of the names: both are now refused, before any work, in one line naming
    both logs and the output, and the other logs are re-thresholded (exit status 1, as a failed file).
    The same run named twice (its log and its mask) is re-thresholded once."""
    image = tifffile.imread(kept_run.parent / "crop.tif")
    tifffile.imwrite(tmp_path / "one.tif", image[:96])
    tifffile.imwrite(tmp_path / "two.tif", image[64:])
    params = SegmentationParams(model=str(MODEL), diameter=0, keep_flows=True)
    assert segment_files([tmp_path / "one.tif", tmp_path / "two.tif"], params).ok
    assert segment_files([tmp_path / "one.tif"], params.replace(suffix="b")).ok
    logs = sorted(tmp_path.glob("*.log"))
    assert [p.name for p in logs] == ["one_vSM-b.log", "one_vSM.log", "two_vSM.log"]
    shared = tmp_path / "one_vSM-zz.ome.tif"
    for extra in ([], ["--overwrite"]):
        assert main(["rethreshold", *map(str, logs), "--suffix", "zz", *extra]) == 1
        out, err = capsys.readouterr()
        (line,) = err.splitlines()
        assert line.startswith(f"failed: {logs[0]} and {logs[1]} would both write {shared}"), line
        assert "none of them" in line and "--suffix" in line, line
        assert not shared.exists() and not shared.with_name("one_vSM-zz.log").exists()
        assert (tmp_path / "two_vSM-zz.ome.tif").is_file() and "two_vSM-zz.ome.tif" in out
    mask = logs[1].with_name("one_vSM.ome.tif")
    assert main(["rethreshold", str(logs[1]), str(mask), "--suffix", "once"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and out.count("one_vSM-once.ome.tif") == 1


@pytest.mark.cp3
def test_a_stop_before_the_renames_leaves_no_temporary_file(kept_run: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM once the new mask and log are written, before their renames begin (before, it came after
    ``with staged()`` had ended: both temporary files stayed, hidden, beside the run)."""
    import signal

    from napari_batchseg import rethreshold_run
    from napari_batchseg.cli_stop import Stopped, signals_stop

    real = rethreshold_run.signals_held

    def signal_first():  # type: ignore[no-untyped-def]
        os.kill(os.getpid(), signal.SIGTERM)
        return real()

    monkeypatch.setattr(rethreshold_run, "signals_held", signal_first)
    before = sorted(p.name for p in kept_run.parent.iterdir())
    with pytest.raises(Stopped), signals_stop():
        rethreshold_log(kept_run, NEW, suffix="stop")
    assert sorted(p.name for p in kept_run.parent.iterdir()) == before
