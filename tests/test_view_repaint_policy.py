"""The repaint hold's policy without Qt: which napari versions it is used with, the decorator of held work."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from napari_batchseg.view.repaint_policy import NAPARI_MEASURED, hold_supported, version_tuple, within


def test_version_tuple_reads_major_and_minor():
    assert version_tuple("0.9.2rc1") == (0, 9)
    assert version_tuple("0.10.0") == (0, 10)  # compared as numbers, not text
    assert version_tuple("dev") == (0, 0)


def test_the_hold_is_used_only_with_the_measured_napari_versions():
    lo, hi = NAPARI_MEASURED
    assert hold_supported(f"{lo[0]}.{lo[1]}.0") and not hold_supported(f"{hi[0]}.{hi[1]}.0")
    assert not hold_supported("0.7.1") and hold_supported("0.9.2rc1") and not hold_supported("1.0.0")


def test_within_runs_each_call_inside_its_objects_context_even_when_it_raises():
    class Owner:
        def __init__(self) -> None:
            self.log: list[str] = []

        @contextlib.contextmanager
        def work(self) -> Iterator[None]:
            self.log.append("enter")
            try:
                yield
            finally:
                self.log.append("exit")

        @within(lambda owner: owner.work())
        def change(self, value: int, *, fail: bool = False) -> int:
            """Docstring kept."""
            self.log.append(f"change {value}")
            if fail:
                raise ValueError("no")
            return value * 2

    owner = Owner()
    assert owner.change(3) == 6
    with pytest.raises(ValueError):
        owner.change(4, fail=True)
    assert owner.log == ["enter", "change 3", "exit", "enter", "change 4", "exit"]
    assert Owner.change.__name__ == "change" and Owner.change.__doc__ == "Docstring kept."
