"""Review 44b: a mask whose tables' names fit is measured, though ``_track_summary.csv`` would not fit.

Session 44's name check of ``measure_file`` counted the track summary's name (the longest) for every
mask: a mask of 250 bytes (tables of 254) without tracks was refused ("its output name
..._track_summary.csv would be 260 bytes"), though it writes no track summary; it was measured before.
"""

from __future__ import annotations

from pathlib import Path

from _one_square import segmented_square
from napari_batchseg.measure import measure_file, measurement_paths
from napari_batchseg.params import SegmentationParams


def test_a_mask_without_tracks_is_measured_when_its_tables_names_fit(tmp_path: Path) -> None:
    source = tmp_path / ("a" * 238 + ".tif")
    params = SegmentationParams()
    the_plan = segmented_square(source, params)
    mask = the_plan.tasks[0].names.mask
    assert len(mask.name) == 250 and all(len(p.name) <= 255 for p in measurement_paths(mask))
    measure_file(mask)
    assert all(p.is_file() for p in measurement_paths(mask))
