"""``batchseg track`` on mask files: the three outputs, their metadata and log, and the bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile

from napari_batchseg.cli import main
from napari_batchseg.io.masks import read_mask, write_mask
from napari_batchseg.io.sources import PixelSize
from napari_batchseg.tracking import track_masks
from napari_batchseg.tracking.astra import MODELS_ENV
from napari_batchseg.tracking.synthetic import synthetic_movie

PIXELS = PixelSize(x=0.325, y=0.325, t=30.0)


def _mask(folder: Path, name: str, labels: np.ndarray) -> Path:
    return write_mask(folder / f"{name}_vSM.ome.tif", labels, PIXELS, "")


def _outputs(mask: Path) -> list[Path]:
    base = mask.name[: -len(".ome.tif")]
    return [mask.with_name(f"{base}_tracks.csv"), mask.with_name(f"{base}-tracked.ome.tif"),
            mask.with_name(f"{base}-tracked.log")]


def test_track_writes_csv_tracked_mask_and_log(tmp_path: Path, capsys) -> None:
    movie = synthetic_movie(seed=3)
    mask = _mask(tmp_path, "movie", movie.masks)
    step = str(movie.max_step + 1)
    assert main(["track", str(mask), "--max-distance", step, "--daughter-share", "0.7"]) == 0
    csv, tracked, log = _outputs(mask)
    table = pd.read_csv(csv)
    expected = track_masks(movie.masks, max_distance=movie.max_step + 1, pixel_size=PIXELS,
                           daughter_share=0.7)
    pd.testing.assert_frame_equal(table, expected.tracks, check_dtype=False)
    assert np.allclose(table["time_s"], table["frame"] * 30.0)
    assert np.allclose(table["centroid_x_um"], table["centroid_x_px"] * 0.325)
    back = read_mask(tracked)
    assert back.pixel_size.x == pytest.approx(0.325) and back.pixel_size.t == pytest.approx(30.0)
    assert expected.labels is not None and np.array_equal(back.labels, expected.labels)
    text = log.read_text()
    assert " | tracking | INFO | method: laptrack" in text
    params = json.loads(text.split("parameters: ", 1)[1].splitlines()[0])
    assert params["max_distance"] == movie.max_step + 1 and params["divisions"] is True
    assert params["daughter_share"] == 0.7
    assert '"laptrack": ' in text
    import hashlib

    assert f"input mask sha256: {hashlib.sha256(mask.read_bytes()).hexdigest()}" in text
    assert back.log_text.strip() == text.strip()
    assert "18 tracks in 12 frames" in capsys.readouterr().out
    # outputs exist: refused without --overwrite, nothing changed
    before = csv.read_bytes()
    assert main(["track", str(mask), "--no-divisions"]) == 1
    assert csv.read_bytes() == before
    assert main(["track", str(mask), "--no-divisions", "--overwrite"]) == 0
    assert (pd.read_csv(csv)["parent_track_id"] == 0).all()


def test_bad_masks_fail_alone_with_one_line_and_nothing_written(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv(MODELS_ENV, str(tmp_path / "no_models"))
    good = _mask(tmp_path, "good", synthetic_movie(seed=0).masks)
    one = _mask(tmp_path, "one", np.ones((1, 20, 20), np.uint16))
    reused = np.zeros((3, 30, 30), np.uint16)
    reused[:, 2:5, 2:5] = 4
    reused[2, 20:24, 20:24] = 4
    twice = _mask(tmp_path, "twice", reused)
    empty = np.zeros((3, 30, 30), np.uint16)
    empty[0, 2:5, 2:5] = 9
    empty[2, 3:6, 2:5] = 2
    with_empty = _mask(tmp_path, "empty", empty)  # an empty frame is fine
    sparse = synthetic_movie(seed=0).masks.astype(np.uint32)
    sparse[sparse > 0] = sparse[sparse > 0] * 1000 + 7  # non-sequential labels are fine too
    non_sequential = _mask(tmp_path, "sparse", sparse)
    vol = tmp_path / "vol_vSM.ome.tif"
    tifffile.imwrite(vol, np.ones((3, 4, 20, 20), np.uint16), ome=True, metadata={"axes": "TZYX"})
    inputs = [good, one, twice, with_empty, vol, non_sequential]
    before = {p: p.read_bytes() for p in inputs}
    status = main(["track", *map(str, inputs), "--gap-frames", "1"])
    out, err = capsys.readouterr()
    assert status == 1
    lines = err.strip().splitlines()
    assert len(lines) == 3, err
    assert any(str(one) in ln and "1 frame" in ln for ln in lines)
    assert any(str(twice) in ln and "label 4 is used for two or more separate objects" in ln for ln in lines)
    assert any(str(vol) in ln and "3D" in ln for ln in lines)
    for bad in (one, twice, vol):
        assert not any(p.exists() for p in _outputs(bad))
    for fine in (good, with_empty, non_sequential):
        assert all(p.exists() for p in _outputs(fine)), out
    good_tracks, sparse_tracks = pd.read_csv(_outputs(good)[0]), pd.read_csv(_outputs(non_sequential)[0])
    assert set(sparse_tracks["label"]) == {int(v) for v in np.unique(sparse) if v}  # the mask's own labels
    pd.testing.assert_frame_equal(sparse_tracks.drop(columns="label"), good_tracks.drop(columns="label"))
    assert pd.read_csv(_outputs(with_empty)[0])["track_id"].nunique() == 1  # bridged the empty frame
    assert {p: p.read_bytes() for p in inputs} == before  # inputs are never written
    assert not list(tmp_path.glob(".*partial*"))
    # trackastra without weights: one line naming where to put them; the mask's outputs stay as they were
    assert main(["track", str(good), "--method", "trackastra", "--overwrite"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(good) in err
    assert str(tmp_path / "no_models" / "general_2d") in err


def test_bad_parameters_are_usage_errors(tmp_path: Path, capsys) -> None:
    good = _mask(tmp_path, "good", synthetic_movie(seed=0).masks)
    assert main(["track", str(good), "--max-distance", "-1"]) == 2
    assert "max_distance" in capsys.readouterr().err
    assert main(["track", str(tmp_path / "none")]) == 1


@pytest.mark.cp3  # the project's Cellpose 3 model
def test_real_nd2_movie_is_tracked_over_all_its_frames(tmp_path: Path) -> None:
    from _downstream import segmented

    mask = segmented("nd2", 0, 52)
    assert main(["track", str(mask), "--output-dir", str(tmp_path), "--max-distance", "10"]) == 0
    table = pd.read_csv(tmp_path / "arcadia_ecoli_gfp_timelapse_vSM_tracks.csv")
    labels = read_mask(mask).labels
    n_objects = sum(len(np.unique(f)) - 1 for f in labels)
    assert len(table) == n_objects and table["frame"].nunique() == 53
    # the one E. coli cell of this field moves < 1 px per frame: one track over the whole movie
    assert table["track_id"].nunique() == 1 and (table["parent_track_id"] == 0).all()
    assert table["time_s"].iloc[-1] == pytest.approx(52 * read_mask(mask).pixel_size.t)
    tracked = read_mask(tmp_path / "arcadia_ecoli_gfp_timelapse_vSM-tracked.ome.tif")
    assert np.array_equal(tracked.labels > 0, labels > 0) and set(np.unique(tracked.labels)) == {0, 1}


def test_segment_track_then_measure_after_a_run(tmp_path: Path, monkeypatch, capsys) -> None:
    from napari_batchseg.cli import FACTORY_ENV

    monkeypatch.setenv(FACTORY_ENV, "napari_batchseg.testing:threshold_segmenter")
    movie = synthetic_movie(seed=2, n_divisions=0)
    image = tmp_path / "movie.tif"
    tifffile.imwrite(image, (movie.masks > 0).astype(np.uint16) * 1000, imagej=True, metadata={"axes": "TYX"})
    out = tmp_path / "out"
    assert main(["segment", str(image), "--output-dir", str(out), "--track", "--measure", "-q"]) == 0
    mask = out / "movie_vSM.ome.tif"
    tracks = pd.read_csv(out / "movie_vSM_tracks.csv")
    truth_tracks = len({tid for frame in movie.truth for tid in frame.values()})
    assert tracks["track_id"].nunique() == truth_tracks  # the threshold finds the disks; laptrack links them
    objects = pd.read_csv(out / "movie_vSM_objects.csv")
    assert (objects["track_id"] > 0).all() and (out / "movie_vSM_track_summary.csv").is_file()
    assert f"{mask}: {truth_tracks} tracks" in capsys.readouterr().out
    # walk: measuring the tracked mask said its segmentation log was missing (it carries it along)
    tracked = out / "movie_vSM-tracked.ome.tif"
    assert main(["measure", str(tracked), "--output-dir", str(out / "tracked")]) == 0, capsys.readouterr().err
    [table] = (out / "tracked").glob("*_objects.csv")
    by_track = pd.read_csv(table)
    assert set(by_track["label"]) == set(tracks["track_id"])  # its labels are the track ids
    assert by_track["mean_intensity"].notna().all()  # measured on the input its segmentation log names


def test_masks_of_different_files_with_one_name_do_not_share_outputs(tmp_path: Path, capsys) -> None:
    movie = synthetic_movie(seed=3)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = _mask(tmp_path / "a", "movie", movie.masks)
    second = _mask(tmp_path / "b", "movie", movie.masks[:, ::-1].copy())
    out = tmp_path / "out"
    out.mkdir()
    assert main(["track", str(first), str(second), str(first), "--output-dir", str(out), "--overwrite"]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("failed") == 1
    assert f"{second}: its tracks would replace those of {first}" in captured.err
    assert captured.out.count("tracks in 12 frames") == 1  # the first tracked once, the second refused
    expected = track_masks(movie.masks, max_distance=20.0, pixel_size=PIXELS)
    table = pd.read_csv(out / "movie_vSM_tracks.csv")
    pd.testing.assert_frame_equal(table, expected.tracks, check_dtype=False)


def test_a_name_with_tracked_in_it_is_tracked_and_tracked_outputs_are_said(tmp_path: Path, capsys) -> None:
    """A user walk: 'ecoli-tracked-exp1_vSM.ome.tif' was skipped without a word (any '-tracked' in the
    name); only this command's own outputs (``-tracked.ome.tif``) are left out, and said when named."""
    movie = synthetic_movie(seed=1).masks
    odd = _mask(tmp_path, "ecoli-tracked-exp1", movie)
    assert main(["track", str(odd)]) == 0
    tracked = _outputs(odd)[1]
    assert tracked.exists()
    capsys.readouterr()
    # the folder: its tracked mask is an output, left out quietly
    assert main(["track", str(tmp_path), "--overwrite"]) == 0
    out, err = capsys.readouterr()
    assert out.count(f"{odd}:") == 1 and f"{tracked}:" not in out + err
    assert main(["track", str(tracked)]) == 2  # named alone: said, and nothing else to track
    err = capsys.readouterr().err
    assert f"skipped: {tracked}: a tracked mask" in err and "no masks found" in err


def test_a_folder_s_snapshots_and_volumes_are_skipped_not_failed(tmp_path: Path, capsys) -> None:
    """Walk: ``batchseg track RESULTS`` failed every one-frame mask of the folder and exited 1; and
    ``segment --track`` with a volume mode segmented first, then failed the tracking."""
    good = _mask(tmp_path, "good", synthetic_movie(seed=0).masks)
    still = _mask(tmp_path, "still", np.ones((1, 20, 20), np.uint16))
    vol = tmp_path / "vol_vSM.ome.tif"
    tifffile.imwrite(vol, np.ones((3, 4, 20, 20), np.uint16), ome=True, metadata={"axes": "TZYX"})
    assert main(["track", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert f"skipped: {still}: 1 frame" in out and f"skipped: {vol}: a 3D mask" in out and not err
    assert all(p.exists() for p in _outputs(good)) and not any(p.exists() for p in _outputs(still))
    assert main(["track", str(still)]) == 1  # named: the user asked for it
    assert "failed (nothing written): " in capsys.readouterr().err
    image = tmp_path / "z.tif"
    tifffile.imwrite(image, np.ones((2, 3, 20, 20), np.uint16), metadata={"axes": "TZYX"})
    assert main(["segment", str(image), "--z-mode", "stitch", "--track", "-q"]) == 2
    assert "--track with --z-mode stitch: tracking handles 2D time-lapses" in capsys.readouterr().err
    assert not list(tmp_path.glob("z_vSM*"))


def test_track_says_where_it_wrote(tmp_path: Path, capsys) -> None:
    """Walk: ``track --output-dir trk`` printed the output names without their folder (as if beside the
    mask); the line names the three files written, with their folder."""
    mask = _mask(tmp_path, "movie", synthetic_movie(seed=3).masks)
    out = tmp_path / "trk"
    assert main(["track", str(mask), "--output-dir", str(out)]) == 0
    csv, tracked, log = (out / p.name for p in _outputs(mask))
    assert capsys.readouterr().out.strip().endswith(f" -> {csv}, {tracked}, {log}")
    assert sorted(out.iterdir()) == sorted([csv, tracked, log])
