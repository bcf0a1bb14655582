"""Trial 44: on/off parameters from a YAML file or the API take true/false only.

A walk: ``debug: "false"`` (quoted in a parameter file) was kept as the string ``'false'``, truthy, so the
run wrote the debug flows it was told not to; ``keep_flows: "no"`` became ``True`` through ``bool()``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg import SegmentationParams
from napari_batchseg.cli import main
from napari_batchseg.params import ParameterError


@pytest.mark.parametrize("name", ["debug", "keep_flows", "gpu"])
@pytest.mark.parametrize("value", ["false", "no", "0", 2, None])
def test_on_off_parameter_refuses_other_values(name: str, value: object) -> None:
    with pytest.raises(ParameterError, match=rf"{name} must be true or false, got {value!r}"):
        SegmentationParams(**{name: value})


@pytest.mark.parametrize("name", ["debug", "keep_flows", "gpu"])
def test_on_off_parameter_keeps_bools(name: str) -> None:
    assert getattr(SegmentationParams(**{name: True}), name) is True
    assert getattr(SegmentationParams(**{name: np.bool_(False)}), name) is False
    assert getattr(SegmentationParams.from_dict({name: False}), name) is False


def test_segment_config_with_quoted_false_is_a_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "run.yaml"
    config.write_text('debug: "false"\n', encoding="utf-8")
    image = tmp_path / "img.tif"
    tifffile.imwrite(image, np.zeros((32, 32), np.uint16))
    with pytest.raises(SystemExit) as stop:
        main(["segment", str(image), "--config", str(config), "--dry-run"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert f"parameter file {config}: debug must be true or false, got 'false'" in err


@pytest.mark.parametrize("value", ['"no"', '"false"', "2"])
def test_segment_config_recursive_takes_true_or_false(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str) -> None:
    # a walk: recursive: "no" searched the sub-folders (a non-empty string is truthy)
    config = tmp_path / "run.yaml"
    config.write_text(f"recursive: {value}\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    tifffile.imwrite(tmp_path / "sub" / "img.tif", np.zeros((32, 32), np.uint16))
    with pytest.raises(SystemExit) as stop:
        main(["segment", str(tmp_path), "--config", str(config), "--dry-run"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert f"parameter file {config}: recursive must be true or false, got " in err
    assert "img_vSM" not in err
