"""The dock's checks before Run, in order, each asked only when its turn comes (view.run_refusal)."""

from __future__ import annotations

from pathlib import Path

import pytest

from napari_batchseg.params import ParameterError
from napari_batchseg.view.run_refusal import NO_FILES, Refusal, refuse_or_params

FILES = [Path("a.tif"), Path("b.tif")]


def never() -> object:
    raise AssertionError("asked after a refusal")


def bad_params() -> object:
    raise ParameterError("diameter must be >= 0")


def test_each_check_refuses_in_turn_and_the_later_ones_are_not_asked() -> None:
    assert refuse_or_params([], never, never, never) == Refusal(NO_FILES)
    assert refuse_or_params(FILES, lambda: ["two outputs collide", "no folder"], never, never) == Refusal(
        "cannot run: two outputs collide; no folder")
    assert refuse_or_params(FILES, list, bad_params, never) == Refusal("diameter must be >= 0")
    refusal = refuse_or_params(FILES, list, lambda: "params", lambda: {FILES[1]: "no channel 2"})
    assert isinstance(refusal, Refusal) and refusal.files_tab
    assert refusal.text.startswith("cannot run: 1 file(s)") and "b.tif: no channel 2" in refusal.text


def test_nothing_refuses_the_parameters_are_given() -> None:
    assert refuse_or_params(FILES, list, lambda: "params", dict) == "params"


def test_an_error_other_than_a_parameter_error_is_not_a_refusal() -> None:
    def broken() -> object:
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        refuse_or_params(FILES, list, broken, dict)
