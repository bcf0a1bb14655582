"""Review 44b: a training seed that is no number is refused as such (ParameterError), not by int()."""

from __future__ import annotations

import math

import pytest

from napari_batchseg.params import ParameterError
from napari_batchseg.training.options import TrainingParams


@pytest.mark.parametrize("seed", ["abc", None, math.nan, math.inf, "7", 1.5, -1, True])
def test_a_seed_that_is_no_whole_number_is_refused_naming_it(seed: object) -> None:
    with pytest.raises(ParameterError, match="seed must be a whole number"):
        TrainingParams(seed=seed)  # type: ignore[arg-type]


def test_a_whole_seed_is_kept() -> None:
    assert TrainingParams(seed=7.0).seed == 7  # type: ignore[arg-type]
