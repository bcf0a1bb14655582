"""Outline exports of a multi-position file: the index names each position, the pattern reads its name
(``pattern_on="position"``; by default a pattern reads the file names: tests/test_export_pattern.py).

A walk: the masks of the 28 scenes of a real 96-well plate CZI (``WP96_4Pos_B4-10_DAPI.czi``, scenes
``P1-B4`` ... ``P4-B10``, from the czitools 0.0.2 sdist that ``tests/_realdata.py`` fetches) all got
``well=B4`` from the file name: the position names their logs record were never matched, and the index
had no position column, so no pattern could put the real well or site into the DeepProfiler index.

The scenes are segmented by the package's threshold segmenter (seconds for three scenes on two cores;
the point here is the positions and their names, as in tests/test_formats_czi.py, which runs the
project's model on a scene).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

import _realdata
from _downstream import DSB_GT
from napari_batchseg.errors import InputError
from napari_batchseg.export import ExportOptions, export_masks

pytest.importorskip("bioio_czi")  # the [formats] extra (scripts/setup.sh installs it)

WELLS = "WP96_4Pos_B4-10_DAPI.czi"
#: scene index -> its name in the file (4 sites per well)
SCENES = {0: "P1-B4", 1: "P2-B4", 4: "P1-B5"}


@pytest.fixture(scope="module")
def scene_masks(tmp_path_factory) -> list[Path]:
    """The masks of scenes 0, 1 and 4 of the plate, through the engine as ``batchseg segment`` runs them."""
    from napari_batchseg import engine
    from napari_batchseg.params import SegmentationParams
    from napari_batchseg.runners import RunOptions, execute
    from napari_batchseg.testing import threshold_segmenter

    try:
        czi = _realdata.fetch("czitools") / WELLS
    except RuntimeError as exc:
        _realdata.unavailable(f"czitools 0.0.2 CZI files: {exc}")
    out = tmp_path_factory.mktemp("plate")
    params = SegmentationParams(output_dir=str(out))
    plan = engine.plan([czi], params)
    some = dataclasses.replace(plan, tasks=[t for t in plan.tasks if t.position in SCENES])
    events = list(execute(some, RunOptions(), segmenter=threshold_segmenter(params)))
    assert sum(isinstance(e, engine.TaskDone) for e in events) == len(SCENES)
    return [out / f"WP96_4Pos_B4-10_DAPI_P{k:02d}_vSM.ome.tif" for k in SCENES]


def _index(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "outlines_metadata.csv", dtype=str, keep_default_na=False)


def test_outline_index_names_the_position_and_reads_well_and_site_from_it(scene_masks, tmp_path):
    pattern = r"P(?P<site>\d+)-(?P<well>[A-H]\d+)"
    options = ExportOptions(pattern=pattern, pattern_on="position")
    result = export_masks("outlines", scene_masks, tmp_path, options)
    assert result.failed == {}
    meta = _index(tmp_path)
    assert list(meta.columns) == ["outline", "mask", "position", "position_name", "frame", "plate", "well",
                                  "site"]
    assert list(meta["mask"]) == [m.name for m in scene_masks]
    assert list(meta["position"]) == [str(k) for k in SCENES]
    assert list(meta["position_name"]) == list(SCENES.values())
    assert list(meta["well"]) == ["B4", "B4", "B5"]  # not B4 for all: the file name's
    assert list(meta["site"]) == ["1", "2", "1"]


def test_groups_the_position_name_gives_win_the_others_come_from_the_file_name(scene_masks, tmp_path):
    """One pattern takes the plate from the file name and the well from the position's name."""
    pattern = r"(?P<plate>WP\d+)|(?P<well>[A-H]\d+)$"
    export_masks("outlines", scene_masks, tmp_path, ExportOptions(pattern=pattern, pattern_on="position"))
    meta = _index(tmp_path)
    assert list(meta["plate"]) == ["WP96"] * 3
    assert list(meta["well"]) == ["B4", "B4", "B5"]
    assert list(meta["site"]) == ["", "", ""]


def test_a_pattern_that_matches_nothing_names_the_position_name_too(scene_masks, tmp_path):
    said = r"P00_vSM\.ome\.tif: pattern .* matches none of position name 'P1-B4', input 'WP96_4Pos_B4-10"
    with pytest.raises(InputError, match=said):
        export_masks("outlines", scene_masks[:1], tmp_path,
                     ExportOptions(pattern=r"(?P<well>Z\d+)", pattern_on="position"))
    assert list(tmp_path.iterdir()) == []


def test_a_mask_without_a_log_has_no_position(tmp_path):
    export_masks("outlines", [DSB_GT], tmp_path, ExportOptions(pattern=r"(?P<well>nuclei)"))
    meta = _index(tmp_path)
    assert (meta.loc[0, "position"], meta.loc[0, "position_name"], meta.loc[0, "well"]) == ("", "", "nuclei")


def test_an_index_written_before_the_position_columns_gets_whole_positions(scene_masks, tmp_path):
    """A folder exported into by an earlier version (no position columns): the positions added to its
    index were written as ``0.0``, ``4.0`` (its rows had none, so pandas made the column float)."""
    (tmp_path / "outlines_metadata.csv").write_text(
        "outline,mask,frame,plate,well,site\n"
        "dsb2018_nuclei_masks_outlines/dsb2018_nuclei_masks_t0000.png,dsb2018_nuclei_masks.tif,0,,,\n")
    export_masks("outlines", scene_masks, tmp_path)
    meta = _index(tmp_path)
    assert list(meta["mask"]) == ["dsb2018_nuclei_masks.tif"] + [m.name for m in scene_masks]
    assert list(meta["position"]) == ["", *(str(k) for k in SCENES)]
    assert list(meta["position_name"]) == ["", *SCENES.values()]
