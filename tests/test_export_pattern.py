"""Where ``--pattern`` is searched: the file names by default, the position name when asked.

A review: a pattern written for file names (``(?P<well>[A-P]\\d{2})`` for ``plate_B03_day1``) took the
well from the position name ``P12`` of a multi-position file instead (the position name was searched
first), and the index said well ``P12`` for every mask of well ``B03``.

The input is a tiny two-position OME-TIFF whose positions are named ``P12`` and ``P13`` (as a
microscope names its stage positions), segmented by the package's threshold segmenter.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile

from napari_batchseg.errors import InputError
from napari_batchseg.export import ExportOptions, export_masks

WELL_PATTERN = r"(?P<well>[A-P]\d{2})"


@pytest.fixture(scope="module")
def position_masks(tmp_path_factory) -> list[Path]:
    """The masks of positions ``P12`` and ``P13`` of ``plate_B03_day1.ome.tif``."""
    from napari_batchseg import SegmentationParams, segment_files
    from napari_batchseg.testing import ThresholdSegmenter

    folder = tmp_path_factory.mktemp("positions")
    plate = folder / "plate_B03_day1.ome.tif"
    field = np.zeros((32, 40), np.uint16)
    field[5:12, 6:14] = 900
    field[18:26, 20:30] = 700
    with tifffile.TiffWriter(plate, ome=True) as tw:
        for name, image in (("P12", field), ("P13", np.fliplr(field))):
            tw.write(image, metadata={"axes": "YX", "Name": name})
    summary = segment_files([plate], SegmentationParams(output_dir=str(folder / "out")),
                            segmenter=ThresholdSegmenter())
    assert summary.ok and len(summary.reports) == 2
    return [Path(str(r.mask)) for r in sorted(summary.reports, key=lambda r: r.position)]


def _index(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "outlines_metadata.csv", dtype=str, keep_default_na=False)


def test_a_pattern_reads_the_file_name_not_the_position_name_by_default(position_masks, tmp_path):
    export_masks("outlines", position_masks, tmp_path, ExportOptions(pattern=WELL_PATTERN))
    meta = _index(tmp_path)
    assert list(meta["position_name"]) == ["P12", "P13"]  # the index still names each position
    assert list(meta["well"]) == ["B03", "B03"]  # the file's well, not P12 / P13


def test_pattern_on_position_reads_the_position_name(position_masks, tmp_path):
    """Asked for, the position name is searched first, and the file names give the groups it lacks."""
    pattern = r"(?P<plate>plate)|P(?P<site>\d+)$"
    export_masks("outlines", position_masks, tmp_path, ExportOptions(pattern=pattern, pattern_on="position"))
    meta = _index(tmp_path)
    assert list(meta["site"]) == ["12", "13"]
    assert list(meta["plate"]) == ["plate", "plate"]
    export_masks("outlines", position_masks, tmp_path / "files", ExportOptions(pattern=pattern))
    assert list(_index(tmp_path / "files")["site"]) == ["", ""]  # (the default: file names only)


def test_a_pattern_only_the_position_name_matches_says_how_to_read_it(position_masks, tmp_path):
    said = (r"_P0_vSM\.ome\.tif: pattern .* matches none of input 'plate_B03_day1\.ome\.tif', mask "
            r".*; it matches the position name 'P12': give --pattern-on position")
    with pytest.raises(InputError, match=said):
        export_masks("outlines", position_masks[:1], tmp_path, ExportOptions(pattern=r"^P(?P<site>\d+)$"))
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_pattern_on_is_refused(position_masks, tmp_path):
    with pytest.raises(ValueError, match="pattern_on 'well'.*file.*position"):
        export_masks("outlines", position_masks, tmp_path,
                     ExportOptions(pattern=WELL_PATTERN, pattern_on="well"))
    assert list(tmp_path.iterdir()) == []


def test_the_command_line_takes_pattern_on(position_masks, tmp_path):
    from napari_batchseg.cli_downstream import main

    out = tmp_path / "out"
    with contextlib.redirect_stdout(io.StringIO()):
        status = main(["export", "outlines", *map(str, position_masks), "--output-dir", str(out),
                       "--pattern", r"P(?P<site>\d+)$", "--pattern-on", "position"])
    assert status == 0
    assert list(_index(out)["site"]) == ["12", "13"]
