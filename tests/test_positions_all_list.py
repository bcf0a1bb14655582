"""``positions: [all]`` (a YAML list) in a ``--config`` file means every position, as ``positions: all`` does.

Before, the list was taken as one position named "all": a file of several positions failed ("no position
named 'all'"). "all" listed with other positions is refused (which was meant?).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.cli import main
from napari_batchseg.params import ParameterError, SegmentationParams


def _three_positions(path: Path) -> Path:
    with tifffile.TiffWriter(path, ome=True) as tif:
        for i in range(3):
            tif.write(np.full((32, 32), 100 * (i + 1), np.uint16), metadata={"axes": "YX"})
    return path


@pytest.mark.parametrize("value", ["[all]", "[ALL]", "all", "['all']"])
def test_positions_all_in_a_config_file_is_every_position(
        tmp_path: Path, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    movie = _three_positions(tmp_path / "three.ome.tif")
    config = tmp_path / "run.yaml"
    config.write_text(f"positions: {value}\n", encoding="utf-8")
    code = main(["segment", str(movie), "--config", str(config), "--output-dir", str(tmp_path / "out"),
                 "--dry-run"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0, lines
    assert [line.split("\t")[0] for line in lines] == [f"three.ome.tif [P{i}]" for i in range(3)], lines


def test_all_alone_in_a_list_is_every_position_and_with_others_is_refused() -> None:
    assert SegmentationParams(positions=["all"]).positions is None
    assert SegmentationParams(positions=(" All ",)).positions is None
    for value in ([0, "all"], "0,all", ["B4", "ALL"]):
        with pytest.raises(ParameterError, match="every position.*listed with other positions"):
            SegmentationParams(positions=value)
