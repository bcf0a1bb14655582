"""Review 44b: the Segment dock reads a parameter file's ``recursive`` as ``batchseg segment`` does.

Session 44 refused a ``recursive`` that is not true or false in ``batchseg segment --config`` (a string
such as ``"no"`` is truthy), but the dock's :func:`view.file_list.read_parameter_file` kept
``bool(...)``: ``recursive: "no"`` searched folders recursively there.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from napari_batchseg.params import ParameterError
from napari_batchseg.view.file_list import read_parameter_file


@pytest.mark.parametrize("value", ['"no"', '"false"'])
def test_a_recursive_that_is_not_true_or_false_is_refused(tmp_path: Path, value: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(f"diameter: 30\nrecursive: {value}\n", encoding="utf-8")
    with pytest.raises(ParameterError, match=r"p\.yaml: recursive must be true or false"):
        read_parameter_file(path)


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("no", False), ("", False)])
def test_a_recursive_of_true_or_false_is_read(tmp_path: Path, value: str, expected: bool) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(f"diameter: 30\nrecursive: {value}\ncontains: a\n", encoding="utf-8")
    assert read_parameter_file(path)[2] is expected
