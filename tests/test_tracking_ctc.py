"""``batchseg export ctc`` and ``batchseg evaluate --tracks`` (traccuracy) on movies with known lineage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile

from napari_batchseg.cli import main
from napari_batchseg.export.ctc import ctc_segments, write_ctc_folder
from napari_batchseg.io.masks import write_mask
from napari_batchseg.io.sources import PixelSize
from napari_batchseg.tracking.synthetic import SyntheticMovie, synthetic_movie


def test_ctc_segments_cut_tracks_at_gaps_and_point_daughters_at_the_last_segment() -> None:
    label_at, rows = ctc_segments({1: [0, 1, 3, 4], 2: [5, 6], 3: [5]}, {2: 1, 3: 1})
    assert rows == [(1, 0, 1, 0), (2, 5, 6, 4), (3, 5, 5, 4), (4, 3, 4, 1)]
    assert label_at[(1, 0)] == 1 and label_at[(1, 3)] == 4 and label_at[(2, 6)] == 2


def _ground_truth(movie: SyntheticMovie, folder: Path) -> Path:
    """A CTC ground-truth folder (man_track###.tif, man_track.txt) of the movie's true lineage."""
    truth = np.zeros_like(movie.masks)
    for t, frame in enumerate(movie.truth):
        for label, tid in frame.items():
            truth[t][movie.masks[t] == label] = tid
    folder.mkdir()
    for path in write_ctc_folder(lambda i: truth[i], len(truth), movie.parents, folder):
        path.rename(path.with_name(path.name.replace("mask", "man_track").replace("res_", "man_")))
    return folder


@pytest.fixture()
def tracked(tmp_path: Path) -> tuple[SyntheticMovie, Path]:
    movie = synthetic_movie(seed=5, n_frames=14)
    mask = write_mask(tmp_path / "movie_vSM.ome.tif", movie.masks, PixelSize(x=0.5, y=0.5, t=60.0), "")
    assert main(["track", str(mask), "--max-distance", str(movie.max_step + 1)]) == 0
    return movie, mask


def test_export_ctc_layout_matches_the_tracks(tracked, tmp_path: Path) -> None:
    movie, mask = tracked
    out = tmp_path / "ctc"
    assert main(["export", "ctc", str(mask), "--output-dir", str(out)]) == 0
    folder = out / "movie_vSM_ctc"
    assert sorted(p.name for p in folder.glob("mask*.tif")) == [f"mask{i:03d}.tif" for i in range(14)]
    rows = pd.read_csv(folder / "res_track.txt", sep=" ", names=["L", "B", "E", "P"])
    tracks = pd.read_csv(tmp_path / "movie_vSM_tracks.csv")
    assert len(rows) == tracks["track_id"].nunique()  # no gaps here: one CTC track per track
    for row in rows.itertuples():
        mine = tracks[tracks["track_id"] == row.L]
        assert (row.B, row.E) == (mine["frame"].min(), mine["frame"].max())
        assert row.P == mine["parent_track_id"].iloc[0]
        for f in range(row.B, row.E + 1):
            assert (tifffile.imread(folder / f"mask{f:03d}.tif") == row.L).any()
    assert (out / "movie_vSM_ctc.provenance.json").is_file()


def test_evaluate_tracks_scores_exact_tracks_one_and_missed_divisions_lower(tracked, tmp_path: Path,
                                                                            capsys) -> None:
    movie, mask = tracked
    gt = _ground_truth(movie, tmp_path / "TRA")
    scores = tmp_path / "scores.csv"
    assert main(["evaluate", "--tracks", str(mask), str(gt), "--output", str(scores)]) == 0
    row = pd.read_csv(scores).iloc[0]
    assert (row["TRA"], row["DET"], row["LNK"], row["division_f1"]) == (1.0, 1.0, 1.0, 1.0)
    assert row["gt_divisions"] == len(set(movie.parents.values())) == row["pred_divisions"]
    assert "TRA" in capsys.readouterr().out
    # without divisions the daughters are unlinked: detection stays perfect, links and divisions drop
    assert main(["track", str(mask), "--max-distance", str(movie.max_step + 1), "--no-divisions",
                 "--overwrite"]) == 0
    assert main(["evaluate", "--tracks", str(mask), str(gt), "--output", str(scores), "--overwrite"]) == 0
    row = pd.read_csv(scores).iloc[0]
    assert row["DET"] == 1.0 and row["LNK"] < 1.0 and row["TRA"] < 1.0
    assert row["division_recall"] == 0.0 and row["pred_divisions"] == 0  # F1: NaN (no division predicted)
    assert row["fn_edges"] == row["gt_divisions"]  # one daughter continues the mother, the other starts anew


def test_evaluate_tracks_without_tracks_is_one_line(tmp_path: Path, capsys) -> None:
    movie = synthetic_movie(seed=0)
    mask = write_mask(tmp_path / "m_vSM.ome.tif", movie.masks, None, "")
    gt = _ground_truth(movie, tmp_path / "gt")
    assert main(["evaluate", "--tracks", str(mask), str(gt)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "run batchseg track first" in err
    assert main(["export", "ctc", str(mask), "--output-dir", str(tmp_path / "x")]) == 1
    assert not (tmp_path / "x" / "m_vSM_ctc").exists()


def test_export_ctc_leaves_a_mask_without_tracks_out_and_exports_the_others(tracked, tmp_path: Path,
                                                                             capsys) -> None:
    """A user walk: one mask without tracks stopped the whole export (exit 1, the tracked one not
    exported and not mentioned); it is said on stderr and the tracked one is exported."""
    _, mask = tracked
    untracked = write_mask(tmp_path / "other_vSM.ome.tif", synthetic_movie(seed=1).masks, None, "")
    capsys.readouterr()
    out = tmp_path / "ctc"
    assert main(["export", "ctc", str(mask), str(untracked), "--output-dir", str(out)]) == 1
    printed = capsys.readouterr()
    assert f"{mask}: ctc ->" in printed.out
    assert printed.err.startswith(f"failed (nothing written for it): {untracked}: no tracks")
    assert len(printed.err.strip().splitlines()) == 1
    assert (out / "movie_vSM_ctc" / "res_track.txt").is_file() and not (out / "other_vSM_ctc").exists()
