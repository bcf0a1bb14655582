"""Form field specs without Qt: the mapping between what a control shows and a parameter value."""

from __future__ import annotations

import dataclasses

import pytest

from napari_batchseg.params import SegmentationParams
from napari_batchseg.view.fields import Field, by_key, choices
from napari_batchseg.view.form_state import (
    FORM_FIELDS,
    USER_MODEL,
    Z_FIELDS,
    Z_RANGE_KEYS,
    channel_choice,
    channel_entries,
    model_choices,
)


def test_a_special_spin_value_stands_for_none_both_ways():
    last = Field("end_frame", "int", lo=-1, hi=10, none_at=-1)
    assert last.to_param(-1) is None and last.to_param(4) == 4
    assert last.to_shown(None) == -1 and last.to_shown(3) == 3
    plain = Field("diameter")
    assert plain.to_param(0) == 0 and plain.to_shown(None) is None


def test_choices_and_keys():
    assert choices(("max", "mean")) == (("max", "max"), ("mean", "mean"))
    assert choices((("3d", "3D volume"),)) == (("3d", "3D volume"),)
    with pytest.raises(ValueError, match="'x'"):
        by_key([Field("x"), Field("x", "int")])


def test_z_fields_edit_params_fields_or_make_the_z_range():
    params = {f.name for f in dataclasses.fields(SegmentationParams)}
    keys = [f.key for f in Z_FIELDS]
    assert set(keys) - set(Z_RANGE_KEYS) <= params  # every other field is a parameter
    assert not set(Z_RANGE_KEYS) & params
    aniso = by_key(Z_FIELDS)["anisotropy"]
    assert aniso.to_param(0) is None and aniso.to_shown(SegmentationParams().anisotropy) == 0


def test_channel_lists_show_the_files_channels_and_one_asked_for_that_it_lacks():
    names = ["DAPI", "GFP"]
    assert channel_entries(names, 1) == [("DAPI", "0: DAPI"), (1, "1: GFP")]  # (by name: test_s46_channel_*)
    assert channel_entries(names, 3)[-1] == (3, "3: (not in the selected file)")
    assert channel_entries(names, "RFP")[-1] == ("RFP", "RFP (by name)")
    assert channel_entries(["C0", "C1"], None) == channel_entries(["C0", "C1"], 0)
    assert channel_choice(names, "GFP") == "GFP"  # a name of the file's is its entry
    assert channel_choice(names, "RFP") == "RFP" and channel_choice(names, 0) == 0


def test_form_fields_are_parameters_and_end_frame_none_is_last():
    params = {f.name for f in dataclasses.fields(SegmentationParams)}
    specs = by_key(FORM_FIELDS)
    assert set(specs) <= params
    defaults = SegmentationParams()
    assert specs["end_frame"].to_shown(defaults.end_frame) == -1 and specs["end_frame"].to_param(-1) is None
    assert {data for data, _ in specs["method"].choices} == {"cellpose", "sam"}


def test_model_lists_per_method():
    models, label, _ = model_choices("cellpose", ["/models/mine"])
    assert models[-2:] == ["/models/mine", USER_MODEL] and label == "Model file"
    assert "cyto3" in models or "cpsam" in models  # the installed Cellpose's built-ins
    sam_models, sam_label, hint = model_choices("sam", ["/models/mine"])
    assert USER_MODEL not in sam_models and "/models/mine" not in sam_models
    assert sam_label == "Checkpoint" and "optional" in hint


def test_the_forms_volume_z_modes_are_those_the_parameters_take():
    """One rule (review: it was written twice): a volume takes the Z modes the parameters accept for it."""
    from napari_batchseg.params import ParameterError, SegmentationParams
    from napari_batchseg.view.form_state import VOLUME_Z_MODES, Z_MODES, z_range_text

    for mode, _label in Z_MODES:
        z_range = z_range_text(mode, 2, 0, 3)
        try:
            SegmentationParams(z_mode="3d", z_range=z_range)
        except ParameterError:
            taken = False
        else:
            taken = True
        assert taken == (mode in VOLUME_Z_MODES), mode
    assert VOLUME_Z_MODES == ("all", "range")
