"""Exports of masks given twice, of masks of one name, and exported again over an earlier export.

Reviews: ``batchseg export rois out/a_vSM.ome.tif out/`` (a mask and its folder) stopped with "two
inputs would both write a_vSM_rois.zip" and wrote nothing, where ``measure`` measures such a mask once;
two masks of one name in two folders were refused without naming them; and ``cellpose --overwrite`` of
a mask segmented again over fewer frames left the earlier export's pairs of the other frames in the
training folder, listed in no provenance file, for Cellpose to train on.

The masks are tiny synthetic label movies (the point is the files, not the labels).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.errors import InputError, OutputError
from napari_batchseg.export import ExportOptions, export_masks
from napari_batchseg.io.masks import write_mask


def _movie(folder: Path, n_frames: int, name: str = "a_vSM.ome.tif") -> tuple[Path, Path]:
    """A label mask of ``n_frames`` frames (no log) and an image of the same frames beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = np.zeros((n_frames, 12, 14), np.uint16)
    for t in range(n_frames):
        labels[t, 2:6, 3 + t:8 + t] = 1
        labels[t, 7:11, 2:6] = 2
    image = folder / "image.tif"
    tifffile.imwrite(image, (labels * 100 + 5).astype(np.uint16), metadata={"axes": "TYX"})
    return write_mask(folder / name, labels), image


def test_a_mask_given_twice_is_exported_once(tmp_path):
    from napari_batchseg.cli_downstream import main

    mask, _ = _movie(tmp_path / "in", 2)
    result = export_masks("rois", [mask, mask.parent / "." / mask.name, str(mask)], tmp_path / "api")
    assert list(result.outputs) == [mask] and result.failed == {}
    assert main(["export", "rois", str(mask), str(mask.parent), "--output-dir", str(tmp_path / "cli")]) == 0
    for out in (tmp_path / "api", tmp_path / "cli"):
        assert sorted(p.name for p in out.iterdir()) == ["a_vSM_rois.zip", "a_vSM_rois.zip.provenance.json"]


def test_two_masks_of_one_name_are_refused_naming_both(tmp_path):
    first, _ = _movie(tmp_path / "run1", 2)
    second, _ = _movie(tmp_path / "run2", 2)
    with pytest.raises(OutputError, match=f"{first}.*{second}.*a_vSM_rois.zip"):
        export_masks("rois", [first, second], tmp_path / "out")
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_cellpose_overwrite_takes_away_the_earlier_pairs_of_the_mask(tmp_path):
    mask, image = _movie(tmp_path / "in", 3)
    out = tmp_path / "train"
    out.mkdir()
    other = out / "a_vSM_t0009_notes.txt"  # not an export's: kept
    other.write_text("mine")
    export_masks("cellpose", [mask], out, ExportOptions(image=image))
    assert (out / "a_vSM_t0002_masks.tif").is_file()
    mask, image = _movie(tmp_path / "again", 2)  # the same name, segmented again over 2 frames
    result = export_masks("cellpose", [mask], out, ExportOptions(image=image, overwrite=True))
    pairs = sorted(p.name for p in out.glob("a_vSM_t*.tif"))
    assert pairs == ["a_vSM_t0000.tif", "a_vSM_t0000_masks.tif", "a_vSM_t0001.tif", "a_vSM_t0001_masks.tif"]
    assert sorted(p.name for p in result.outputs[mask]) == pairs
    record = json.loads((out / "a_vSM_cellpose.provenance.json").read_text())
    assert sorted(Path(p).name for p in record["files"]) == pairs
    assert other.read_text() == "mine"


def test_dacapo_annotated_frames_outside_the_mask_are_refused(tmp_path):
    """``--annotated-frames 2-3`` of a mask of input frames 2-3 (its frames 0-1): a container whose
    ``mask`` was 0 everywhere (no frame marked complete) was written without a word."""
    mask, image = _movie(tmp_path / "in", 2)
    movie = tmp_path / "in" / "movie.tif"
    tifffile.imwrite(movie, np.concatenate([tifffile.imread(image)] * 2), metadata={"axes": "TYX"})
    out = tmp_path / "out"
    said = r"a_vSM\.ome\.tif: --annotated-frames 2-3 are not frames of this mask: .*0-1 \(input frames 2-3\)"
    later = ExportOptions(image=movie, start_frame=2, annotated_frames=[2, 3])  # input frames 2-3
    with pytest.raises(InputError, match=said):
        export_masks("dacapo", [mask], out, later)
    corrected = ExportOptions(image=movie, start_frame=2, annotated_frames="corrected")
    with pytest.raises(InputError, match=r"a_vSM\.ome\.tif: --annotated-frames corrected: .*no manual corr"):
        export_masks("dacapo", [mask], out, corrected)
    assert not out.exists() or list(out.iterdir()) == []
    (written,) = export_masks("dacapo", [mask], out, ExportOptions(image=movie, start_frame=2,
                                                                     annotated_frames=[1])).outputs[mask]
    import zarr

    assert [int(np.asarray(zarr.open(str(written), mode="r")["mask"])[t].max()) for t in range(2)] == [0, 1]


def test_a_start_frame_other_than_the_logs_is_refused(tmp_path):
    """``--start-frame`` is for masks without a log: given for a mask of input frames 2-3 whose log says
    so, its outlines were named ``t0000``, ``t0001`` (and an export with pixels read frames 0-1)."""
    from napari_batchseg import SegmentationParams, segment_files
    from napari_batchseg.errors import InputError
    from napari_batchseg.testing import ThresholdSegmenter

    movie = np.zeros((5, 24, 24), np.uint16)
    movie[:, 4:10, 4:10] = 900
    movie[:, 14:20, 12:20] = 600
    tifffile.imwrite(tmp_path / "mov.tif", movie, metadata={"axes": "TYX"})
    params = SegmentationParams(output_dir=str(tmp_path / "seg"), start_frame=2, end_frame=3)
    (report,) = segment_files([tmp_path / "mov.tif"], params, segmenter=ThresholdSegmenter()).reports
    mask = Path(str(report.mask))
    said = r"mov_vSM\.ome\.tif: its log says its first frame is input frame 2, not --start-frame 0"
    for kind in ("outlines", "ome-zarr"):
        with pytest.raises(InputError, match=said):
            export_masks(kind, [mask], tmp_path / kind, ExportOptions(start_frame=0))
        assert not (tmp_path / kind).exists()
    export_masks("outlines", [mask], tmp_path / "same", ExportOptions(start_frame=2))  # what the log says
    assert sorted(p.name for p in (tmp_path / "same").rglob("*.png")) == ["mov_vSM_t0002.png",
                                                                         "mov_vSM_t0003.png"]
    given = ExportOptions(start_frame=0, image=tmp_path / "mov.tif")  # another image's frames: its own
    export_masks("outlines", [mask], tmp_path / "image", given)
    assert sorted(p.name for p in (tmp_path / "image").rglob("*.png")) == ["mov_vSM_t0000.png",
                                                                          "mov_vSM_t0001.png"]
    (out,) = export_masks("ome-zarr", [mask], tmp_path / "zarr").outputs[mask]  # the log's frames 2-3
    import zarr

    np.testing.assert_array_equal(np.asarray(zarr.open_group(str(out), mode="r")["0"]), movie[2:4])
