"""Which kept layers keep an output in other units off the screen (:func:`in_other_units`), and the note."""

from __future__ import annotations

from types import SimpleNamespace

from napari_batchseg.view.stream_layers import PLACEHOLDER, in_other_units, not_shown_note

UM_T = ("pixel", "µm", "µm")
PX = ("pixel", "pixel", "pixel")


def _layer(name, units, role="mask", key=None):
    meta = {"batchseg": {"role": role, "task_key": key}} if role else {}
    return SimpleNamespace(name=name, units=units, metadata=meta)


def test_kept_layers_in_other_units_are_named():
    edited = _layer("a.ome.tif (edited)", ("pixel", "micrometer", "micrometer"), key="a")
    own = _layer("my points", ("pixel", "pixel"), role=None)  # the user's own layer: not checked
    idle = _layer("batch segmentation: idle", UM_T, key=PLACEHOLDER)  # empty, reused or removed
    assert in_other_units([edited, own, idle], PX, (None, None)) == [edited]
    assert in_other_units([edited, own, idle], UM_T, (None, None)) == []
    assert in_other_units([edited], PX, (edited, None)) == []  # the pair about to be reused


def test_time_units_and_fewer_axes_compare_from_the_last_axis():
    timed = _layer("t.nd2", ("second", "micrometer", "micrometer"), role="prepared", key="t")
    opened = _layer("a_vSM.ome.tif", ("micrometer", "micrometer"))  # a 2D mask opened with File > Open
    assert in_other_units([timed, opened], UM_T, (None, None)) == [timed]  # frames vs seconds
    assert in_other_units([opened], ("second", "µm", "µm"), (None, None)) == []


def test_note_names_the_file_its_units_and_the_layers():
    note = not_shown_note("b.tif", PX, [_layer("a.ome.tif (edited)", UM_T)])
    assert note.startswith("b.tif: not shown: it is in pixels (its file has no pixel size)")
    assert "'a.ome.tif (edited)'" in note and "saved" in note and "close those layers" in note


def test_note_names_the_time_axis_when_only_time_differs():
    """Both in µm, one with a time step: the note said "it is in µm, unlike ..." (in µm too)."""
    timed = _layer("t.nd2 (edited)", ("second", "micrometer", "micrometer"))
    note = not_shown_note("b.tif", UM_T, [timed])
    assert note.startswith("b.tif: not shown: its frames have no time step, unlike")
    note = not_shown_note("t2.nd2", ("second", "µm", "µm"), [_layer("a.ome.tif (edited)", UM_T)])
    assert note.startswith("t2.nd2: not shown: its frames are a time step apart, unlike"), note
    both = not_shown_note("b.tif", PX, [timed])  # pixels against µm: the pixel size is said first
    assert both.startswith("b.tif: not shown: it is in pixels (its file has no pixel size), unlike"), both
