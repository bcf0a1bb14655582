"""A misspelt keyword of ``segment_files`` names the one meant (session 45 API trial, E).

``segment_files(p, diamter=25)`` raised dataclasses' "SegmentationParams.__init__() got an unexpected keyword
argument 'diamter'". It now says "did you mean 'diameter'?", also for segment_files' own keywords.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from napari_batchseg.api import segment_files


@pytest.mark.parametrize(("given", "meant"), [
    ({"diamter": 25}, "diameter"),
    ({"flow_treshold": 0.5}, "flow_threshold"),
    ({"extension": [".tif"]}, "extensions"),
])
def test_a_misspelt_keyword_names_the_one_meant(tmp_path: Path, given: dict[str, object], meant: str) -> None:
    (key,) = given
    said = rf"segment_files\(\) got an unexpected keyword argument '{key}': did you mean '{meant}'\?"
    with pytest.raises(TypeError, match=said):
        segment_files([tmp_path / "a.tif"], output_dir=str(tmp_path / "out"), **given)
    assert not (tmp_path / "out").exists()


def test_a_keyword_like_none_says_where_the_fields_are(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"'qqqqq': see help\(SegmentationParams\)"):
        segment_files([tmp_path / "a.tif"], qqqqq=1)
