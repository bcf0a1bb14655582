import pytest

from napari_batchseg.params import ParameterError, SegmentationParams, ZRange


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("all", ZRange("all")),
        ("best", ZRange("best", radius=0)),
        ("best:3", ZRange("best", radius=3)),
        ("2-5", ZRange("range", start=2, stop=5)),
        ("4", ZRange("range", start=4, stop=4)),
    ],
)
def test_zrange_parse_roundtrip(text, expected):
    z = ZRange.parse(text)
    assert z == expected
    assert ZRange.parse(str(z)) == z


@pytest.mark.parametrize("text", ["5-2", "best:-1", "middle", "1-2-3", ""])
def test_zrange_rejects(text):
    with pytest.raises(ParameterError):
        ZRange.parse(text)


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("suffix", "a_b", "suffix"),
        ("suffix", "ok/../x", "suffix"),
        ("suffix", "tracked", "ends like batchseg track's tracked copies"),  # a review: invisible to
        ("suffix", "run-Tracked", "-tracked"),  # every folder command
        ("diameter", -1, "diameter"),
        ("method", "stardist", "method"),
        ("z_projection", "sum", "z_projection"),
        ("existing", "replace", "existing"),
        ("start_frame", -2, "start_frame"),
        ("niter", 1.5, "niter"),
        ("axes", "TXY", "axes"),
        ("axes", "TTYX", "repeats"),
        ("tile_shape", "1,2,3", "tile_shape"),
        ("tile_shape", "512,0", "tile_shape"),
    ],
)
def test_invalid_values_name_the_parameter(field, value, fragment):
    with pytest.raises(ParameterError, match=fragment):
        SegmentationParams(**{field: value})


def test_end_before_start_rejected():
    with pytest.raises(ParameterError, match="end_frame"):
        SegmentationParams(start_frame=5, end_frame=3)


def test_yaml_roundtrip(tmp_path):
    p = SegmentationParams(model="nuclei", diameter=17, channel="DAPI", z_range="best:2",
                           z_projection="max", suffix="run-2", tile_shape="512x512", end_frame=9)
    f = tmp_path / "p.yaml"
    p.save(f)
    q = SegmentationParams.load(f)
    assert q == p
    assert q.tile_shape == (512, 512)


def test_yaml_unknown_key_and_bad_file(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("model: cyto3\ndiamter: 3\n")
    with pytest.raises(ParameterError, match="diamter") as typo:
        SegmentationParams.load(f)
    # a walk: a typo was named without the file or the parameter it is close to
    assert str(typo.value) == f"parameter file {f}: unknown parameter(s): diamter (did you mean diameter?)"
    with pytest.raises(ParameterError, match=r"^unknown parameter\(s\): zzz$"):
        SegmentationParams.from_dict({"zzz": 1})  # nothing close: no guess
    f.write_text("- just\n- a list\n")
    with pytest.raises(ParameterError, match="mapping"):
        SegmentationParams.load(f)
    with pytest.raises(ParameterError, match="cannot read"):
        SegmentationParams.load(tmp_path / "missing.yaml")


def test_channel_digit_string_becomes_index():
    assert SegmentationParams(channel="2").channel == 2
    assert SegmentationParams(channel="GFP").channel == "GFP"


def test_std_of_one_slice_refused():
    with pytest.raises(ParameterError, match="std"):
        SegmentationParams(z_range="best", z_projection="std")
    SegmentationParams(z_range="best:1", z_projection="std")


@pytest.mark.parametrize(
    ("name", "choices"),
    [("method", "METHODS"), ("z_projection", "PROJECTIONS"), ("existing", "EXISTING_POLICIES"),
     ("sam_mode", "SAM_MODES")],
)
def test_literal_annotations_are_the_accepted_choices(name, choices):
    import typing

    from napari_batchseg import params as params_module

    allowed = typing.get_args(typing.get_type_hints(SegmentationParams)[name])
    assert allowed == getattr(params_module, choices) and len(allowed) >= 2
    for value in allowed:
        assert getattr(SegmentationParams(**{name: value}), name) == value
    with pytest.raises(ParameterError, match=name):
        SegmentationParams(**{name: "nonsense"})
