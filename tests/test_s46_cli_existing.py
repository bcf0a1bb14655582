"""A mask changed by hand outside this tool is never redone as "cut short" (CLI trial 46).

A mask re-saved by Fiji (``tifffile.imwrite(..., imagej=True)``: the log this tool embeds, and its
output id, are gone) or one whose ``.log`` was deleted cannot be what a cut-short commit leaves (the log
is renamed in before the mask). Before, both were "incomplete: will be redone" and the default
``--existing skip`` replaced the edited mask without keeping a copy. Real CLI runs (the threshold
segmenter), real files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.cli import FACTORY_ENV, main
from napari_batchseg.io.masks import read_embedded_log, read_mask


def _movie(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = np.full((2, 48, 64), 100, np.uint16)
    for k, (y, x) in enumerate([(10, 10), (30, 40), (12, 50)]):
        data[:, y:y + 8, x:x + 8] = 1000 + 100 * k  # three bright squares: three labels a frame
    path = folder / "a.tif"
    tifffile.imwrite(path, data, metadata={"axes": "TYX"}, photometric="minisblack")
    return path


@pytest.fixture
def made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    """``(input, mask, log)`` of a finished run."""
    monkeypatch.setenv(FACTORY_ENV, "napari_batchseg.testing:threshold_segmenter")
    movie = _movie(tmp_path / "in")
    out = tmp_path / "out"
    assert main(["segment", str(movie), "--output-dir", str(out), "-q"]) == 0
    mask, log = out / "a_vSM.ome.tif", out / "a_vSM.log"
    assert mask.exists() and log.exists()
    return movie, mask, log


def _fiji_edit(mask: Path) -> np.ndarray:
    """Delete one label and re-save the mask as Fiji would (ImageJ TIFF: no OME metadata, no log)."""
    labels = read_mask(mask).labels.copy()
    assert labels.max() >= 2
    labels[labels == labels.max()] = 0
    tifffile.imwrite(mask, labels, imagej=True)
    assert read_embedded_log(mask) == ""
    return labels


def _segment(movie: Path, mask: Path, *extra: str) -> int:
    return main(["segment", str(movie), "--output-dir", str(mask.parent), *extra])


def test_fiji_edited_mask_is_kept_by_skip_and_said(made, capsys):
    movie, mask, _ = made
    _fiji_edit(mask)
    edited = mask.read_bytes()
    assert _segment(movie, mask, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "incomplete" not in out and "will be redone" not in out
    assert "changed by hand" in out and "exists" in out and "skipped" in out
    assert _segment(movie, mask) == 0
    err = capsys.readouterr().err
    assert mask.read_bytes() == edited  # nothing destroyed
    assert "0 done, 1 skipped" in err and "a_vSM.ome.tif is kept as changed by hand" in err
    assert "Fiji" in err and "left as it is" in err


def test_fiji_edited_mask_is_kept_as_corrected_copy_by_overwrite(made, capsys):
    movie, mask, log = made
    labels = _fiji_edit(mask)
    old_log = log.read_text()
    assert _segment(movie, mask, "--existing", "overwrite", "--dry-run") == 0
    assert "hand-corrected: kept as .corrected.ome.tif" in capsys.readouterr().out
    assert _segment(movie, mask, "--existing", "overwrite") == 0
    kept, kept_log = mask.parent / "a_vSM.corrected.ome.tif", mask.parent / "a_vSM.corrected.log"
    assert np.array_equal(tifffile.imread(kept), labels)
    assert kept_log.read_text() == old_log
    assert read_mask(mask).labels.max() > labels.max()  # the new mask: all labels again
    assert "kept as a_vSM.corrected.ome.tif (and a_vSM.corrected.log)" in capsys.readouterr().err


def test_fiji_edited_mask_is_refused_by_error(made, capsys):
    movie, mask, _ = made
    _fiji_edit(mask)
    edited = mask.read_bytes()
    assert _segment(movie, mask, "--existing", "error") == 1
    assert "changed by hand" in capsys.readouterr().err
    assert mask.read_bytes() == edited


@pytest.mark.parametrize("fiji", [False, True])
def test_mask_whose_log_is_gone_is_kept_by_skip(made, capsys, fiji):
    movie, mask, log = made
    if fiji:
        _fiji_edit(mask)
    log.unlink()
    before = mask.read_bytes()
    assert _segment(movie, mask, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "will be redone" not in out and f"has no log {log.name}" in out
    assert _segment(movie, mask) == 0
    assert "0 done, 1 skipped" in capsys.readouterr().err
    assert mask.read_bytes() == before and not log.exists()


@pytest.mark.parametrize("fiji", [False, True])
def test_overwrite_of_a_mask_without_log_keeps_the_log_it_names(made, capsys, fiji):
    """Issue 4: the warning named a ``.corrected.log`` that was never written (the log was gone)."""
    movie, mask, log = made
    if fiji:
        _fiji_edit(mask)
    embedded = read_embedded_log(mask)
    log.unlink()
    before = mask.read_bytes()
    assert _segment(movie, mask, "--existing", "overwrite") == 0
    err = capsys.readouterr().err
    kept, kept_log = mask.parent / "a_vSM.corrected.ome.tif", mask.parent / "a_vSM.corrected.log"
    assert "kept as a_vSM.corrected.ome.tif (and a_vSM.corrected.log)" in err
    assert kept.read_bytes() == before
    text = kept_log.read_text()
    if fiji:
        assert "it had no log" in text and "a_vSM.log was missing" in text
    else:
        assert text == embedded  # the log the mask carries
    assert log.exists() and mask.exists()


def test_cut_short_commit_is_still_redone(made, capsys):
    """A new log beside the older mask (both with output ids) stays incomplete and is redone."""
    movie, mask, _ = made
    older = mask.read_bytes()
    assert _segment(movie, mask, "--existing", "overwrite", "-q") == 0
    mask.write_bytes(older)  # what a kill between the log's rename and the mask's leaves
    assert _segment(movie, mask, "--dry-run") == 0
    assert "belong to different runs (a run was cut short)" in capsys.readouterr().out
    assert _segment(movie, mask) == 0
    assert "1 done, 0 skipped" in capsys.readouterr().err


def test_unreadable_mask_without_log_is_redone(made, capsys):
    movie, mask, log = made
    log.unlink()
    data = mask.read_bytes()
    mask.write_bytes(data[: len(data) // 2])
    assert _segment(movie, mask, "--dry-run") == 0
    assert "incomplete: will be redone" in capsys.readouterr().out
    assert _segment(movie, mask) == 0
    assert read_mask(mask).labels.shape[0] == 2


def test_corrected_mask_whose_log_is_gone_keeps_the_log_the_warning_names(made, capsys):
    """Issue 4: a mask with ``correction`` records, its log deleted: the warning named a log never kept."""
    from napari_batchseg.corrections import save_corrections

    movie, mask, log = made
    labels = read_mask(mask).labels.copy()
    labels[labels == labels.max()] = 0
    save_corrections(mask, labels)
    embedded = read_embedded_log(mask)
    assert "| correction |" in embedded
    log.unlink()
    assert _segment(movie, mask, "--existing", "overwrite") == 0
    assert "kept as a_vSM.corrected.ome.tif (and a_vSM.corrected.log)" in capsys.readouterr().err
    assert (mask.parent / "a_vSM.corrected.log").read_text() == embedded
    assert np.array_equal(read_mask(mask.parent / "a_vSM.corrected.ome.tif").labels, labels)
