"""Trial 44: a mask whose name is legal but whose tables or exports would not be fails alone.

A walk: ``batchseg measure`` of a folder holding ``<241 x c>_vSM.ome.tif`` (253 bytes: a legal name)
stopped in a traceback, ``OSError: [Errno 36] File name too long`` (``<base>_objects.csv`` is 257
bytes), and so did ``batchseg export rois`` (``<base>_rois.zip.provenance.json``); the other masks
of the batch were not measured or exported. ``batchseg segment`` now refuses such inputs at planning
(trial 44); now the downstream commands fail that mask alone, naming the output name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.cli_downstream import main
from napari_batchseg.io.masks import write_mask


@pytest.mark.parametrize("command", [["measure"], ["export", "rois"]])
def test_long_mask_name_fails_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    command: list[str]) -> None:
    labels = np.zeros((1, 16, 16), np.uint16)
    labels[0, 3:9, 4:10] = 1
    folder = tmp_path / "masks"
    folder.mkdir()
    write_mask(folder / ("c" * 241 + "_vSM.ome.tif"), labels)
    write_mask(folder / "ok_vSM.ome.tif", labels)
    out = tmp_path / "out"
    image = tmp_path / "image.tif"  # (measure: masks without a log are measured over the image given)
    tifffile.imwrite(image, (labels * 100).astype(np.uint16), metadata={"axes": "TYX"})
    given = ["--image", str(image)] if command == ["measure"] else []
    code = main([*command, str(folder), "--output-dir", str(out), "--force-labels", *given])
    assert code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "c" * 241 in err and "more than the 255" in err
    assert any(p.name.startswith("ok_vSM") for p in out.iterdir())
