"""Review 44: ``export dacapo --annotated-frames`` given a range that holds no frame."""

from __future__ import annotations

from pathlib import Path

import pytest

from napari_batchseg.cli import main
from test_export_inputs import _movie


@pytest.mark.xfail(strict=True, reason="review 44: cli_downstream._frames reads '3-1' (a range that ends "
                   "before it starts) and ',' as no frame: the DaCapo container is written with mask 0 on "
                   "every frame without a word (what ed8b4f4 refuses for frames outside the mask)")
@pytest.mark.parametrize("frames", ["1-0", ","])
def test_annotated_frames_that_name_no_frame_are_refused(tmp_path: Path, frames: str) -> None:
    mask, image = _movie(tmp_path / "in", 2)
    out = tmp_path / "out"
    status = main(["export", "dacapo", str(mask), "--output-dir", str(out), "--image", str(image),
                   "--annotated-frames", frames])
    assert status != 0
    assert not out.exists() or list(out.iterdir()) == []
