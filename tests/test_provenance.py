import pytest

from napari_batchseg.params import SegmentationParams
from napari_batchseg.provenance import RunLog, log_parameters, package_versions, parse_log


def test_log_roundtrip_parameters_and_history():
    params = SegmentationParams(model="nuclei", diameter=17.5, channel="DAPI", z_range="best:1")
    log = RunLog()
    log.info("input: /data/a_BF.nd2")
    log.info("position: 2 of 3 (P2)")
    log_parameters(log, params)
    text = log.text(history="2020-01-01 | registration | INFO | parameters: {\"bogus\": 1}")
    lines = text.splitlines()
    assert all(" | segmentation | INFO | " in line for line in lines[:3])
    logged = parse_log(text)
    assert logged.params == params
    assert str(logged.input_path) == "/data/a_BF.nd2"
    assert logged.position == 2


def test_parse_rejects_foreign_text():
    with pytest.raises(ValueError, match="not a napari-batchseg"):
        parse_log("hello\nworld\n")


def test_versions_include_core_packages():
    v = package_versions()
    assert {"python", "numpy", "tifffile"} <= set(v)


@pytest.mark.parametrize(("record", "name"), [
    ("position: 3 of 96 (B02)", "B02"),
    ("position: 1 of 2 (TileScan 3/C/3)", "TileScan 3/C/3"),
    ("position: 0 of 2 (well (A1))", "well (A1)"),  # a name with parentheses of its own
    ("position: 0 of 1 ()", None),  # the input named no position
    ("position: 4", None),  # no name recorded
])
def test_log_gives_the_position_name_in_parentheses(record, name):
    log = RunLog()
    log.info("input: /data/plate.nd2")
    log.info(record)
    log_parameters(log, SegmentationParams())
    logged = parse_log(log.text())
    assert logged.position == int(record.split()[1]) and logged.position_name == name


def test_log_without_a_position_record_has_no_position_name():
    log = RunLog()
    log_parameters(log, SegmentationParams())
    assert parse_log(log.text()).position_name is None
