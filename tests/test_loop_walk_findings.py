"""Problems found walking the whole loop (segment -> correct -> measure/export -> train -> segment) as a user.

Each test shows one problem the walk met, on real data (a dry run passing a model that does not exist, an
uncalibrated OME-Zarr read as 1 µm pixels, our DaCapo export called corrupt, a folder's kept corrected copy
not named); each failed on the code before its fix. The segmenter is the package's deterministic
threshold segmenter where the model is not the point (``napari_batchseg.testing``), as in the other CLI
tests; the images are the committed real ones.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.cli import FACTORY_ENV, main
from napari_batchseg.io.masks import read_mask

ROOT = Path(__file__).resolve().parents[1]
DSB = ROOT / "examples" / "data" / "dsb2018_nuclei.tif"
STARTER = ROOT / "examples" / "models" / "batchseg_nuclei_cp3"


@pytest.fixture
def uncalibrated(tmp_path: Path) -> Path:
    """A crop of the real DSB2018 nuclei image, a TIFF without any pixel size (as the original)."""
    path = tmp_path / "in" / "nuclei.tif"
    path.parent.mkdir()
    tifffile.imwrite(path, tifffile.imread(DSB)[:160, :160])
    return path


@pytest.fixture
def mask_of(uncalibrated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The ``_vSM.ome.tif`` of :func:`uncalibrated` (threshold segmenter), with its log."""
    monkeypatch.setenv(FACTORY_ENV, "napari_batchseg.testing:threshold_segmenter")
    out = tmp_path / "results"
    assert main(["segment", str(uncalibrated), "--output-dir", str(out), "-q"]) == 0
    mask = out / "nuclei_vSM.ome.tif"
    assert read_mask(mask).pixel_size.x is None  # nothing known, nothing invented (so far)
    return mask


def test_dry_run_refuses_a_model_that_does_not_exist(uncalibrated: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """(Was: --dry-run did not check the model: a mistyped --model was listed '[new]' with exit status 0.)"""
    missing = tmp_path / "models" / "my_nuclei"  # e.g. the path of a model not trained yet / a typo
    args = ["segment", str(uncalibrated), "--model", str(missing), "--output-dir", str(tmp_path / "out")]
    assert main(args) == 2  # the real run: a usage error, naming the model
    said = capsys.readouterr()
    run_says = said.out + said.err
    assert "not found" in run_says
    assert main([*args, "--dry-run"]) == 2  # the dry run: the same status and the same message
    said = capsys.readouterr()
    assert " ".join((said.out + said.err).split()) == " ".join(run_says.split())
    assert not (tmp_path / "out").exists()


def test_dry_run_passes_a_model_file_that_exists(uncalibrated: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    args = ["segment", str(uncalibrated), "--model", str(STARTER), "--output-dir", str(tmp_path / "out")]
    assert main([*args, "--dry-run"]) == 0
    assert "[new]" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()


def test_ome_zarr_export_of_an_uncalibrated_image_reads_back_uncalibrated(
        mask_of: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("bioio_ome_zarr")
    exports = tmp_path / "exports"
    assert main(["export", "ome-zarr", str(mask_of), "--output-dir", str(exports)]) == 0
    zarr_path = exports / "nuclei_vSM.ome.zarr"
    # segment the exported image again (e.g. another lab received the OME-Zarr)
    monkeypatch.setenv(FACTORY_ENV, "napari_batchseg.testing:threshold_segmenter")
    again = tmp_path / "again"
    assert main(["segment", str(zarr_path), "--output-dir", str(again), "-q"]) == 0
    (mask,) = again.glob("*_vSM.ome.tif")
    size = read_mask(mask).pixel_size
    assert (size.x, size.y, size.t) == (None, None, None), size


def test_info_does_not_call_our_own_dacapo_export_corrupt(mask_of: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("bioio_ome_zarr")
    exports = tmp_path / "exports"
    assert main(["export", "dacapo", str(mask_of), "--output-dir", str(exports)]) == 0
    container = exports / "nuclei_vSM.zarr"
    import zarr

    assert np.asarray(zarr.open_group(str(container), mode="r")["labels"]).max() > 0  # a sound container
    capsys.readouterr()
    main(["info", str(container)])
    said = capsys.readouterr()
    text = said.out + said.err
    assert "corrupt" not in text and "IndexError" not in text, text
    assert "a Zarr container with no OME-NGFF image" in text and "DaCapo export" in text, text


def test_train_on_a_folder_points_to_the_kept_corrected_copy(mask_of: Path, uncalibrated: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """(Was: after 'segment --existing overwrite' kept a hand-corrected mask as <name>.corrected.ome.tif,
    'train FOLDER --frames corrected' stopped with 'no corrected frames recorded in its log', not naming
    the copy that holds them.) The folder still leaves the copy out (no input twice); the message names it."""
    from napari_batchseg import corrections as cx
    from napari_batchseg import open_mask

    labels = open_mask(mask_of).labels
    assert cx.save_corrections(mask_of, cx.remove_small(labels, 30)).frames == [0]
    # a new run over it (other settings): the corrected pair is kept beside it
    assert main(["segment", str(uncalibrated), "--output-dir", str(mask_of.parent), "--existing", "overwrite",
                 "--min-size", "20", "-q"]) == 0
    kept = mask_of.with_name("nuclei_vSM.corrected.ome.tif")
    assert kept.is_file()
    capsys.readouterr()
    status = main(["train", str(mask_of.parent), "--frames", "corrected", "--epochs", "1", "--min-masks", "1",
                   "--from", str(STARTER), "--output", str(mask_of.parent.parent / "model")])
    said = capsys.readouterr()
    assert status == 2  # nothing to train on in the new mask
    assert kept.name in said.out + said.err
    assert "give that file" in said.out + said.err


def test_a_rerun_log_names_the_log_it_repeats_and_why_its_existing_policy(
        mask_of: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """(Was: a rerun's log did not name the log it repeats, and its parameters said ``existing: error``
    where the repeated run had ``skip``, with nothing saying why.)"""
    from napari_batchseg.provenance import parse_log

    first = mask_of.with_name("nuclei_vSM.log")
    assert parse_log(first.read_text("utf-8")).params.existing == "skip"
    assert main(["rerun", str(first), "--suffix", "again", "-q"]) == 0
    text = mask_of.with_name("nuclei_vSM-again.log").read_text("utf-8")
    own = text.split("--- earlier processing", 1)[0]
    assert f"rerun of: {first.resolve()}" in own
    (line,) = [r for r in own.splitlines() if "existing: error" in r and "rerun" in r]
    assert "skip" in line and "--existing" in line  # the one used, the repeated run's, and why
    logged = parse_log(text)
    assert logged.params.existing == "error"  # the policy actually used
    assert logged.rerun_of == str(first.resolve())
    assert parse_log(first.read_text("utf-8")).rerun_of is None
