"""``train_model`` called from Python hides Cellpose's tqdm bars off a terminal, as ``batchseg train`` does.

(Session 45 API trial: a script training into a log file got it full of carriage-return bars; only the
command line hid them.) A real, short training on two crops of the DSB2018 image with the project's starter
model, stderr a pipe: what the training wrote there holds no bar, and tqdm's ``trange`` is tqdm's own
again afterwards.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
import tifffile

from napari_batchseg.errors import CancelledError
from napari_batchseg.segmenters.catalog import cellpose_major

ROOT = Path(__file__).resolve().parents[1]
STARTER = ROOT / "examples" / "models" / "batchseg_nuclei_cp3"

pytestmark = pytest.mark.skipif(cellpose_major() != 3, reason="training uses Cellpose 3's train_seg")


class _Pipe(io.StringIO):
    """A stderr that is not a terminal (a log file, a pipe)."""

    def isatty(self) -> bool:
        return False


def _pairs(folder: Path) -> Path:
    folder.mkdir()
    img = tifffile.imread(ROOT / "examples" / "data" / "dsb2018_nuclei.tif")
    gt = tifffile.imread(ROOT / "examples" / "groundtruth" / "dsb2018_nuclei_masks.tif")
    for i, (y, x) in enumerate([(0, 0), (256, 256)]):
        tifffile.imwrite(folder / f"dsb{i}.tif", img[y:y + 128, x:x + 128])
        tifffile.imwrite(folder / f"dsb{i}_masks.tif", gt[y:y + 128, x:x + 128])
    return folder


def test_train_model_from_python_writes_no_progress_bars_into_a_log(tmp_path: Path, monkeypatch) -> None:
    tqdm = pytest.importorskip("tqdm")
    from napari_batchseg.training import TrainingParams, train_model

    monkeypatch.setenv("BATCHSEG_CONFIG_DIR", str(tmp_path / "config"))
    log = _Pipe()
    monkeypatch.setattr(sys, "stderr", log)
    original = tqdm.trange
    epochs: list[int] = []
    params = TrainingParams(base_model=str(STARTER), epochs=2, batch_size=2, images_per_epoch=2,
                            crop_size=64, validation_fraction=0.5, seed=0, min_masks=1)
    # stopped after its first epoch (nothing saved): the bars come before it (flows, diameters)
    with pytest.raises(CancelledError):
        train_model(_pairs(tmp_path / "pairs"), tmp_path / "model", params,
                    progress=lambda e: e.epoch is not None and epochs.append(e.epoch),
                    cancel=lambda: bool(epochs))
    assert epochs == [1]
    said = log.getvalue()
    assert "it/s" not in said and "%|" not in said, said[-2000:]
    assert tqdm.trange is original


def test_overlapping_trainings_put_the_original_back_once_the_last_ends(monkeypatch) -> None:
    """Two trainings in threads (API callers, the dock): the first out must not leave a disabled trange."""
    tqdm = pytest.importorskip("tqdm")
    from napari_batchseg.training.bars import no_progress_bars_off_a_terminal

    monkeypatch.setattr(sys, "stderr", _Pipe())
    original = tqdm.trange
    first, second = no_progress_bars_off_a_terminal(), no_progress_bars_off_a_terminal()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert tqdm.trange is not original and tqdm.trange.keywords == {"disable": True}  # the second trains on
    second.__exit__(None, None, None)
    assert tqdm.trange is original
