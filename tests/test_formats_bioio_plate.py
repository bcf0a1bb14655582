"""An OME-NGFF HCS plate: refused with the paths of the images inside it, each of which opens by its path.

(A review: ``plate.ome.zarr`` was said to be "a Zarr container with no OME-NGFF image ... e.g. a DaCapo
export", and the image inside it, ``plate.ome.zarr/A/1/0``, "unsupported file type (no extension)".)
The plates are written here with the ``zarr`` package: NGFF 0.4 (Zarr format 2, ``.zattrs``) and 0.5
(Zarr format 3, ``zarr.json`` with the keys under ``"ome"``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr

from napari_batchseg.errors import InputError
from napari_batchseg.io.formats import format_of
from napari_batchseg.io.reader import open_source

pytest.importorskip("bioio_ome_zarr")


def write_plate(path: Path, fmt: int, wells: list[str]) -> dict[str, np.ndarray]:
    """A plate with one field (image ``0``) per well; returns each image's ``Y X`` pixels by its path."""
    version = "0.4" if fmt == 2 else "0.5"

    def put(group: zarr.Group, attrs: dict) -> None:
        group.attrs.update(attrs if fmt == 2 else {"ome": {"version": version, **attrs}})

    root = zarr.open_group(str(path), mode="w", zarr_format=fmt)
    rows = sorted({w.split("/")[0] for w in wells})
    cols = sorted({w.split("/")[1] for w in wells})
    put(root, {"plate": {
        "version": version, "name": "tiny", "field_count": 1,
        "rows": [{"name": r} for r in rows], "columns": [{"name": c} for c in cols],
        "wells": [{"path": w, "rowIndex": rows.index(w.split("/")[0]),
                   "columnIndex": cols.index(w.split("/")[1])} for w in wells],
    }})
    images = {}
    for i, w in enumerate(wells):
        well = root.require_group(w)
        put(well, {"well": {"version": version, "images": [{"path": "0"}]}})
        image = well.require_group("0")
        data = np.arange(24 * 32, dtype=np.uint16).reshape(24, 32) + 100 * i
        image.create_array("0", data=data, chunks=(24, 32))
        scales = {"name": "0", "axes": [{"name": "y", "type": "space", "unit": "micrometer"},
                                        {"name": "x", "type": "space", "unit": "micrometer"}],
                  "datasets": [{"path": "0", "coordinateTransformations": [
                      {"type": "scale", "scale": [0.5, 0.5]}]}]}
        put(image, {"multiscales": [{**scales, "version": version} if fmt == 2 else scales]})
        images[f"{w}/0"] = data
    return images


@pytest.mark.parametrize("fmt", [2, 3])
def test_a_plate_is_refused_naming_its_images(tmp_path, fmt):
    wells = ["A/1", "A/2", "A/3", "B/1", "B/2"]
    plate = tmp_path / "plate.ome.zarr"
    write_plate(plate, fmt, wells)
    with pytest.raises(InputError) as err:
        open_source(plate)
    text = str(err.value)
    assert "HCS plate" in text and "5 image(s)" in text and "not read as one input" in text
    assert str(plate / "A" / "1" / "0") in text and str(plate / "A" / "3" / "0") in text
    assert "and 2 more" in text and str(plate / "B" / "2" / "0") not in text  # the first few, then a count
    assert "DaCapo" not in text and "no OME-NGFF image" not in text
    with pytest.raises(InputError, match=r"a well of an OME-NGFF HCS plate \(1 image\(s\)\)"):
        open_source(plate / "B" / "1")  # a well: its images, too


@pytest.mark.parametrize("fmt", [2, 3])
def test_an_image_inside_a_plate_opens_by_its_path(tmp_path, fmt):
    plate = tmp_path / "plate.ome.zarr"
    images = write_plate(plate, fmt, ["A/1", "B/2"])
    for where, data in images.items():
        path = plate / where
        fmt_found = format_of(path)
        assert fmt_found is not None and fmt_found.kind == "ome-zarr"  # a folder named "0"
        with open_source(path) as src:
            assert (src.info.sizes["Y"], src.info.sizes["X"]) == data.shape
            assert src.info.pixel_size.x == pytest.approx(0.5)
            np.testing.assert_array_equal(src.read_plane(0, 0, 0, 0), data)


def test_a_plain_folder_is_still_no_image(tmp_path):
    folder = tmp_path / "0"
    folder.mkdir()
    (folder / ".zattrs").write_text('{"something": 1}')
    assert format_of(folder) is None and format_of(tmp_path / "missing") is None
    with pytest.raises(InputError, match=r"unsupported file type \(no extension\)"):
        open_source(folder)


def test_the_cli_segments_an_image_of_a_plate(tmp_path, capsys):
    from napari_batchseg.cli import main

    model = Path(__file__).resolve().parents[1] / "examples" / "models" / "batchseg_nuclei_cp3"
    plate = tmp_path / "plate.ome.zarr"
    write_plate(plate, 2, ["A/1", "A/2"])
    out = tmp_path / "out"
    assert main(["segment", str(plate), "--model", str(model), "--output-dir", str(out), "--dry-run"]) == 1
    said = capsys.readouterr().out
    assert "HCS plate" in said and str(plate / "A" / "2" / "0") in said
    assert main(["segment", str(plate / "A" / "1" / "0"), str(plate / "A" / "2" / "0"), "--model", str(model),
                 "--output-dir", str(out), "--dry-run"]) == 0  # one folder for both: their names differ
    said = capsys.readouterr().out
    assert str(out / "plate_A_1_0_vSM.ome.tif") in said and str(out / "plate_A_2_0_vSM.ome.tif") in said
    assert not out.exists()


def test_an_image_of_a_plate_is_segmented_beside_the_plate_not_into_it(tmp_path):
    """Without --output-dir the outputs go beside the plate (before: into its well folder, i.e. the input)."""
    from napari_batchseg.api import segment_files

    model = Path(__file__).resolve().parents[1] / "examples" / "models" / "batchseg_nuclei_cp3"
    plate = tmp_path / "plate.ome.zarr"
    write_plate(plate, 2, ["A/1"])
    before = sorted(p.relative_to(plate) for p in plate.rglob("*"))
    summary = segment_files([plate / "A" / "1" / "0"], model=str(model), diameter=17)
    assert [r.status for r in summary.reports] == ["done"], summary
    assert sorted(p.relative_to(plate) for p in plate.rglob("*")) == before  # the input is untouched
    assert (tmp_path / "plate_A_1_0_vSM.ome.tif").is_file() and (tmp_path / "plate_A_1_0_vSM.log").is_file()
