"""Review 44b: ``gpu``/``debug``/``keep_flows`` given as 1 or 0 (a YAML parameter file) were accepted before.

Session 44 made these settings true-or-false only (a YAML ``debug: "false"``, a string, is truthy), which
also refuses the integers 1 and 0 that a parameter file could give before (``bool(1)``): ``gpu: 1`` now
stops ``batchseg segment --config`` with "gpu must be true or false, got 1".
"""

from __future__ import annotations

import pytest

from napari_batchseg.params import ParameterError, SegmentationParams


@pytest.mark.parametrize("name", ["gpu", "debug", "keep_flows"])
def test_one_and_zero_are_true_and_false(name: str) -> None:
    assert getattr(SegmentationParams(**{name: 1}), name) is True
    assert getattr(SegmentationParams(**{name: 0}), name) is False
    with pytest.raises(ParameterError, match=f"{name} must be true or false"):
        SegmentationParams(**{name: 2})


def test_a_string_is_still_refused() -> None:
    with pytest.raises(ParameterError, match="debug must be true or false"):
        SegmentationParams(debug="false")
