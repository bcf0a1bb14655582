"""Cellpose 4 precision: ``--precision auto`` picks float32 on a CPU without native bfloat16 (emulated
bfloat16 is several times slower there, docs/cellpose4.md), bfloat16 where the device has it; forced
choices are kept; the log says which ran and why."""

from __future__ import annotations

import json

import pytest

from napari_batchseg.cli import build_parser
from napari_batchseg.cli_segment import params_from_args
from napari_batchseg.params import ParameterError, SegmentationParams
from napari_batchseg.segmenters.cellpose.v4 import choose_precision, cpu_bf16_flags

_FLAGS = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f {extra}\n\nprocessor\t: 1\nflags\t\t: fpu avx2\n"


@pytest.fixture
def cpuinfo(tmp_path):
    def write(extra: str) -> str:
        path = tmp_path / f"cpuinfo-{extra or 'none'}"
        path.write_text(_FLAGS.format(extra=extra))
        return str(path)

    return write


def test_cpu_flags_decide_auto(cpuinfo):
    plain = cpuinfo("")
    assert cpu_bf16_flags(plain) == []
    assert choose_precision("auto", "cpu", plain) == (
        "float32", "auto: the CPU has no native bfloat16 (no avx512_bf16 or amx_bf16 flag): float32")
    amx = cpuinfo("amx_bf16 amx_tile avx512_bf16")
    assert cpu_bf16_flags(amx) == ["avx512_bf16", "amx_bf16"]
    assert choose_precision("auto", "cpu", amx)[0] == "bfloat16"
    assert choose_precision("bfloat16", "cpu", plain) == ("bfloat16", "forced (--precision)")
    assert choose_precision("float32", "cpu", amx) == ("float32", "forced (--precision)")
    assert choose_precision("auto", "mps", plain)[0] == "bfloat16"
    assert cpu_bf16_flags("/nonexistent/cpuinfo") == []  # not Linux: no flags, float32


def test_this_machine_answers_from_its_own_flags():
    flags = cpu_bf16_flags()
    assert choose_precision("auto", "cpu")[0] == ("bfloat16" if flags else "float32")


def test_precision_option_and_parameter():
    args = build_parser().parse_args(["segment", "x.tif", "--precision", "float32"])
    assert params_from_args(args).precision == "float32"
    assert SegmentationParams().precision == "auto"
    assert SegmentationParams.from_dict(json.loads(json.dumps(SegmentationParams(precision="bfloat16")
                                                                .to_dict()))).precision == "bfloat16"
    with pytest.raises(ParameterError, match="precision .half. unknown; choose one of auto, float32, bf"):
        SegmentationParams(precision="half")  # type: ignore[arg-type]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["segment", "x.tif", "--precision", "fp16"])
