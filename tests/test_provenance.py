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
