"""``batchseg measure`` on tracked masks: ``track_id`` per object and the per-track summary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile

from napari_batchseg.cli import main
from napari_batchseg.io.masks import write_mask
from napari_batchseg.io.sources import PixelSize
from napari_batchseg.measure import measure_table


def _growing_then_dividing(folder: Path) -> tuple[Path, Path]:
    """A cell growing 6 px² per frame over frames 0-3 (6x6 -> 6x9), dividing into two at frame 4."""
    masks = np.zeros((6, 40, 40), np.uint16)
    for t in range(4):
        masks[t, 10:16, 10:16 + t] = 5
    for t in (4, 5):
        masks[t, 10:16, 8:12] = 2
        masks[t, 10:16, 14:18] = 9
    mask = write_mask(folder / "cell_vSM.ome.tif", masks, PixelSize(x=0.5, y=0.5, t=60.0), "")
    image = folder / "cell.ome.tif"
    tifffile.imwrite(image, (masks > 0).astype(np.float32) * 100, ome=True,
                     metadata={"axes": "TYX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5,
                               "TimeIncrement": 60.0, "TimeIncrementUnit": "s"})
    return mask, image


def test_measure_adds_track_ids_and_track_summary(tmp_path: Path) -> None:
    mask, image = _growing_then_dividing(tmp_path)
    assert main(["track", str(mask), "--max-distance", "8"]) == 0
    assert main(["measure", str(mask), "--image", str(image)]) == 0
    objects = pd.read_csv(tmp_path / "cell_vSM_objects.csv")
    tracks = pd.read_csv(tmp_path / "cell_vSM_tracks.csv")
    assert list(objects.columns).index("track_id") == list(objects.columns).index("label") + 1
    merged = objects.merge(tracks, on=["frame", "label"], suffixes=("", "_t"))
    assert len(merged) == len(objects) == len(tracks) and (merged["track_id"] == merged["track_id_t"]).all()
    summary = pd.read_csv(tmp_path / "cell_vSM_track_summary.csv").set_index("track_id")
    mother = int(tracks.loc[tracks["frame"] == 0, "track_id"].iloc[0])
    row = summary.loc[mother]
    assert (row["first_frame"], row["last_frame"], row["n_frames"]) == (0, 3, 4)
    assert row["duration_s"] == pytest.approx(180.0)
    assert row["division_frame"] == 4 and row["n_daughters"] == 2
    assert row["mean_area_px"] == pytest.approx(36 + 6 * 1.5)
    # 6 px² per 60 s at 0.25 µm² per pixel: 1.5 µm² per minute = 90 µm²/h
    assert row["growth_rate_um2_per_h"] == pytest.approx(90.0)
    daughters = summary[summary["parent_track_id"] == mother]
    assert len(daughters) == 2 and np.allclose(daughters["growth_rate_um2_per_h"], 0.0)
    assert daughters["division_frame"].isna().all()
    # the Measure dock's "Measure the mask file" (measure_table) gives the same table: it had no track_id
    in_memory = measure_table(mask, image=image)
    pd.testing.assert_frame_equal(in_memory.reset_index(drop=True), objects, check_dtype=False)


def test_measure_without_tracks_has_no_track_columns(tmp_path: Path) -> None:
    mask, image = _growing_then_dividing(tmp_path)
    assert main(["measure", str(mask), "--image", str(image)]) == 0
    assert "track_id" not in pd.read_csv(tmp_path / "cell_vSM_objects.csv").columns
    assert not (tmp_path / "cell_vSM_track_summary.csv").exists()
    assert "track_id" not in measure_table(mask, image=image).columns


def test_measure_lists_every_table_it_writes(tmp_path: Path, capsys) -> None:
    """Walk: with tracks beside the mask, ``measure`` printed ``-> _objects.csv, _summary.csv`` and wrote
    ``_track_summary.csv`` too, unsaid; the line lists what is written."""
    mask, image = _growing_then_dividing(tmp_path)
    assert main(["measure", str(mask), "--image", str(image), "--output-dir", str(tmp_path / "plain")]) == 0
    plain = tmp_path / "plain" / "cell_vSM"
    assert capsys.readouterr().out.strip().endswith(f"-> {plain}_objects.csv, {plain}_summary.csv")
    assert main(["track", str(mask), "--max-distance", "8"]) == 0
    capsys.readouterr()
    assert main(["measure", str(mask), "--image", str(image), "--output-dir", str(tmp_path / "t")]) == 0
    base = tmp_path / "t" / "cell_vSM"
    written = [Path(f"{base}{end}") for end in ("_objects.csv", "_summary.csv", "_track_summary.csv")]
    assert capsys.readouterr().out.strip().endswith(f"-> {', '.join(map(str, written))}")
    assert sorted((tmp_path / "t").iterdir()) == sorted(written)
