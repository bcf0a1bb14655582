"""``batchseg`` prints the package's own warnings as one ``warning: ...`` line, whatever their category
(io.atomic's RuntimeWarning about an earlier file it could not remove printed in Python's format:
``.../atomic.py:467: RuntimeWarning: ...`` and a source line); other packages' keep Python's format."""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import pytest

import napari_batchseg.io.atomic as atomic
from napari_batchseg.cli import _own_warnings_as_lines


@pytest.mark.parametrize("category", [RuntimeWarning, UserWarning])
def test_own_warnings_are_one_line(category: type[Warning]) -> None:
    err = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stderr(err):
        warnings.simplefilter("always")
        with _own_warnings_as_lines():
            warnings.warn_explicit("the earlier a.log could not be removed", category,
                                   filename=str(Path(atomic.__file__)), lineno=467)
            warnings.warn_explicit("a library's own", DeprecationWarning, filename="/elsewhere/lib.py",
                                   lineno=3)
    lines = err.getvalue().splitlines()
    assert lines[0] == "warning: the earlier a.log could not be removed", lines
    assert not any("a library's own" in line and line.startswith("warning:") for line in lines), lines
