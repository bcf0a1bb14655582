"""Trial 44: ``batchseg train --seed`` takes what NumPy's seeding takes.

A walk: ``batchseg train MASKS -o model --seed -1`` read the training data, then stopped in a traceback
from NumPy's ``default_rng`` (``ValueError: expected non-negative integer``) instead of one error line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.params import ParameterError
from napari_batchseg.training import TrainingParams


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, True])
def test_a_seed_numpy_refuses_is_a_parameter_error(seed: object) -> None:
    with pytest.raises(ParameterError, match=r"seed must be a whole number from 0 to 4294967295"):
        TrainingParams(seed=seed)  # type: ignore[arg-type]


def test_seeds_numpy_takes_are_kept() -> None:
    assert TrainingParams(seed=0).seed == 0
    assert TrainingParams(seed=2**32 - 1).seed == 2**32 - 1
    assert TrainingParams(seed=7.0).seed == 7  # type: ignore[arg-type]
    np.random.seed(TrainingParams(seed=2**32 - 1).seed)  # (what training does with it)


def test_cli_negative_seed_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from napari_batchseg.cli_train import main

    labels = np.zeros((64, 64), np.uint16)
    for i in range(6):
        labels[4 + 10 * i:10 + 10 * i, 5:12] = i + 1
    for name in ("a", "b", "c"):
        tifffile.imwrite(tmp_path / f"{name}.tif", (labels > 0).astype(np.uint16) * 500)
        tifffile.imwrite(tmp_path / f"{name}_masks.tif", labels)
    out = tmp_path / "model"
    assert main([str(tmp_path), "-o", str(out), "--seed", "-1", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "seed must be a whole number from 0 to 4294967295" in err and "Traceback" not in err
    assert not out.exists()
