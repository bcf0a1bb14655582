"""Review 44: ``export dacapo --annotated-frames`` given a range that holds no frame (a container with
``mask`` 0 on every frame was written without a word)."""

from __future__ import annotations

from pathlib import Path

import pytest

from napari_batchseg.cli import main
from test_export_inputs import _movie


@pytest.mark.parametrize("frames", ["1-0", ",", "1,,2", "x"])
def test_annotated_frames_that_name_no_frame_are_refused(tmp_path: Path, frames: str) -> None:
    mask, image = _movie(tmp_path / "in", 2)
    out = tmp_path / "out"
    status = main(["export", "dacapo", str(mask), "--output-dir", str(out), "--image", str(image),
                   "--annotated-frames", frames])
    assert status != 0
    assert not out.exists() or list(out.iterdir()) == []


def test_an_empty_list_of_annotated_frames_is_refused_by_the_api(tmp_path: Path) -> None:
    from napari_batchseg.errors import InputError
    from napari_batchseg.export import ExportOptions, export_masks

    mask, image = _movie(tmp_path / "in", 2)
    with pytest.raises(InputError, match="lists no frame"):
        export_masks("dacapo", [mask], tmp_path / "out", ExportOptions(image=image, annotated_frames=[]))
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
