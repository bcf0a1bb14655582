"""Trial 44: ``batchseg export dacapo --annotated-frames`` refuses what names no frame.

A walk: ``--annotated-frames 3-1`` (a reversed range) or a blank value selected no frame and the
container was written, exit status 0, with ``mask`` 0 on every frame (nothing marked annotated);
``--annotated-frames x`` stopped with Python's ``invalid literal for int() with base 10: 'x'``, which
names neither the option nor what it takes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.cli_downstream import main
from napari_batchseg.errors import InputError
from napari_batchseg.export import ExportOptions, export_masks
from napari_batchseg.io.masks import write_mask


def _movie(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True)
    labels = np.zeros((3, 12, 14), np.uint16)
    labels[:, 2:6, 3:8] = 1
    image = folder / "image.tif"
    tifffile.imwrite(image, (labels * 100 + 5).astype(np.uint16), metadata={"axes": "TYX"})
    return write_mask(folder / "a_vSM.ome.tif", labels), image


@pytest.mark.parametrize(("value", "said"), [
    ("3-1", "range '3-1' ends before it starts"), (" ", "'' is not a frame number"),
    ("0,,2", "'' is not a frame number"), ("1-", "'1-' is not a frame number"),
    ("x", "'x' is not a frame number"), ("0-1,2.5", "'2.5' is not a frame number")])
def test_cli_refuses_a_selection_of_no_frame_or_not_frames(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, said: str) -> None:
    mask, image = _movie(tmp_path / "in")
    out = tmp_path / "out"
    code = main(["export", "dacapo", str(mask), "--image", str(image), "--output-dir", str(out),
                 f"--annotated-frames={value}"])
    assert code == 2
    err = capsys.readouterr().err
    assert f"--annotated-frames {value!r}: {said}" in err
    assert not out.exists()


def test_cli_ranges_and_corrected_still_parse(tmp_path: Path) -> None:
    import zarr

    mask, image = _movie(tmp_path / "in")
    out = tmp_path / "out"
    assert main(["export", "dacapo", str(mask), "--image", str(image), "--output-dir", str(out),
                 "--annotated-frames", " 0 - 1 "]) == 0
    written = zarr.open(str(out / "a_vSM.zarr"), mode="r")
    assert [int(np.asarray(written["mask"])[t].max()) for t in range(3)] == [1, 1, 0]
    # 'corrected' (any case) reaches the check of the log's corrections: this mask has none
    assert main(["export", "dacapo", str(mask), "--image", str(image), "--output-dir", str(tmp_path / "c"),
                 "--annotated-frames", "Corrected"]) == 1


def test_api_refuses_an_empty_selection(tmp_path: Path) -> None:
    mask, image = _movie(tmp_path / "in")
    out = tmp_path / "out"
    with pytest.raises(InputError, match=r"a_vSM\.ome\.tif: --annotated-frames lists no frame"):
        export_masks("dacapo", [mask], out, ExportOptions(image=image, annotated_frames=[]))
    assert not out.exists() or list(out.iterdir()) == []
