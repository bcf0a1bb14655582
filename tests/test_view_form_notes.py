"""The Settings form's Z and frame notes for the inputs listed and the one selected (view.form_state)."""

from __future__ import annotations

from napari_batchseg.view.form_state import frames_tip, slices_note, z_note_text


def test_the_z_note_names_the_selected_input_s_slices() -> None:
    assert z_note_text("stack.tif", 12, "file", True) == "stack.tif: 12 Z slice(s)"
    assert z_note_text("movie.tif", 1, "file", True) == "movie.tif: no Z slices (other files have some)"
    assert z_note_text("layer 'a'", 1, "layer", True) == "layer 'a': no Z slices (other layers have some)"
    assert z_note_text("layer 'a'", 1, "layer", False) == "no layer has Z slices"
    assert z_note_text("movie.tif", 1, "file", False) is None  # the list's note stays (slices_note)


def test_the_notes_for_the_inputs_listed() -> None:
    assert slices_note(30) == "up to 30 Z slices" and slices_note(1) == "no file has Z slices"
    assert frames_tip(53) == "0-based, inclusive; the longest file has 53 frame(s)"
    assert frames_tip(1) == "no time series"
