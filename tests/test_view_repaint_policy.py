"""The repaint hold's policy without Qt: which napari versions it is used with."""

from __future__ import annotations

from napari_batchseg.view.repaint_policy import NAPARI_MEASURED, hold_supported, version_tuple


def test_version_tuple_reads_major_and_minor():
    assert version_tuple("0.9.2rc1") == (0, 9)
    assert version_tuple("0.10.0") == (0, 10)  # compared as numbers, not text
    assert version_tuple("dev") == (0, 0)


def test_the_hold_is_used_only_with_the_measured_napari_versions():
    lo, hi = NAPARI_MEASURED
    assert hold_supported(f"{lo[0]}.{lo[1]}.0") and not hold_supported(f"{hi[0]}.{hi[1]}.0")
    assert not hold_supported("0.7.1") and hold_supported("0.9.2rc1") and not hold_supported("1.0.0")
