"""errors.describe: one line for any exception, whatever its message."""

from __future__ import annotations

from napari_batchseg.errors import describe


def test_describe_is_the_type_and_the_first_line():
    assert describe(ValueError("bad value\nsecond line\nthird")) == "ValueError: bad value"
    assert describe(KeyError()) == "KeyError"
    assert describe(OSError("  \n")) == "OSError"
