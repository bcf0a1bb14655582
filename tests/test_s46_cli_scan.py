"""Folder scans: exports are outputs, not inputs; a dangling link is listed and fails (CLI trial 46).

Before, ``batchseg segment FOLDER -r`` planned a Cellpose export's ``*_t0000_masks.tif``, CTC's
``mask000.tif``, ``*_semantic.tif`` and the OME-Zarr export as inputs (the last two Zarr exports made
the dry run fail on colliding outputs), and a link to a missing file in a scanned folder was dropped
without a word (named, it fails "file not found"). Real exports of a real mask (the threshold
segmenter), the real CLI.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.cli import FACTORY_ENV, main
from napari_batchseg.discovery import collect_files
from napari_batchseg.export._common import PROVENANCE_SUFFIX as EXPORT_SUFFIX

_KINDS = ("ctc", "semantic", "ome-zarr", "dacapo", "cellpose", "rois", "outlines")


def _movie(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.full((2, 48, 64), 100, np.uint16)
    for k, (y, x) in enumerate([(10, 10), (30, 40), (12, 50)]):
        data[:, y:y + 8, x:x + 8] = 1000 + 100 * k
    tifffile.imwrite(path, data, metadata={"axes": "TYX"}, photometric="minisblack")
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``root/a.tif`` and, in ``root/out``, its mask, tracks and every export kind."""
    root = tmp_path_factory.mktemp("scan")
    movie = _movie(root / "a.tif")
    out = root / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(FACTORY_ENV, "napari_batchseg.testing:threshold_segmenter")
        assert main(["segment", str(movie), "--output-dir", str(out), "-q"]) == 0
        mask = out / "a_vSM.ome.tif"
        assert main(["track", str(mask)]) == 0  # (CTC exports the tracks)
        for kind in _KINDS:
            assert main(["export", kind, str(mask), "--output-dir", str(out)]) == 0, kind
    assert (out / "a_vSM_ctc" / "mask000.tif").exists() and (out / "a_vSM_t0000_masks.tif").exists()
    return root


def test_provenance_suffix_is_the_exports():
    from napari_batchseg import discovery  # (the io layer cannot import the export's constant)

    assert discovery.PROVENANCE_SUFFIX == EXPORT_SUFFIX


def test_recursive_scan_leaves_exports_out_and_says_so(exported, capsys, monkeypatch):
    monkeypatch.setenv(FACTORY_ENV, "napari_batchseg.testing:threshold_segmenter")
    assert main(["segment", str(exported), "-r", "--output-dir", str(exported / "out"), "--dry-run"]) == 0
    captured = capsys.readouterr()
    lines = [x for x in captured.out.splitlines() if "\t->\t" in x]
    assert len(lines) == 1 and lines[0].startswith("a.tif\t->\t") and "[exists: skipped]" in lines[0], lines
    # a_vSM.ome.tif, a_vSM-tracked.ome.tif; the 2 Cellpose pairs' 4 files, 2 CTC masks, semantic, 2 Zarrs
    assert "folder " + str(exported) + ": 11 file(s) are this tool's outputs" in captured.err
    for name in ("a_vSM_t0000_masks.tif", "mask000.tif", "a_vSM_semantic.tif", "a_vSM.ome.zarr"):
        assert name not in captured.out


def test_scan_of_an_export_folder_takes_nothing(exported):
    notes: list[str] = []
    assert collect_files([exported / "out" / "a_vSM_ctc"], notes=notes) == []
    assert "of its 3 file(s), 3 are this tool's outputs" in notes[0]  # (2 masks, res_track.txt)
    files = collect_files([exported / "out"], recursive=True)
    assert files == []


def test_input_named_as_an_export_pair_is_still_an_input_without_provenance(tmp_path):
    """Only the provenance file makes a Cellpose-pair name an export: a user's own ``_t0000.tif`` is read."""
    movie = _movie(tmp_path / "b_t0000.tif")
    assert collect_files([tmp_path]) == [movie]
    (tmp_path / "b_cellpose.provenance.json").write_text("{}")
    assert collect_files([tmp_path]) == []


def test_dangling_link_in_a_folder_is_listed_and_fails(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(FACTORY_ENV, "napari_batchseg.testing:threshold_segmenter")
    folder = tmp_path / "in"
    _movie(folder / "good_BF.tif")
    dangling = folder / "dangling_BF.tif"
    dangling.symlink_to(tmp_path / "nonexistent" / "x.tif")
    assert collect_files([folder]) == [dangling, folder / "good_BF.tif"]
    assert main(["segment", str(folder), "--dry-run"]) == 1
    assert f"[unreadable: {dangling}: file not found]" in capsys.readouterr().out
    assert main(["segment", str(folder), "-q"]) == 1
    err = capsys.readouterr().err
    assert "1 done, 0 skipped, 1 failed" in err and "file not found" in err
