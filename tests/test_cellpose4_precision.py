"""Cellpose 4 precision: ``--precision auto`` picks float32 on a CPU without native bfloat16 (emulated
bfloat16 is several times slower there, docs/cellpose4.md), bfloat16 where the device has it; forced
choices are kept; the log says which ran and why.

The tests that load a network (a CPSAM with random weights) need Cellpose 4: they run in ``.venv-cp4``
and are deselected in ``.venv``."""

from __future__ import annotations

import json

import pytest

from napari_batchseg.cli import build_parser
from napari_batchseg.cli_segment import params_from_args
from napari_batchseg.params import ParameterError, SegmentationParams
from napari_batchseg.segmenters.cellpose.v4 import choose_precision, cpu_bf16_flags
from test_cellpose4 import cp4, cpsam_dir  # noqa: F401  (pytest fixtures: Cellpose 4, a random CPSAM)

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


@pytest.mark.parametrize("supported", [True, False])
def test_auto_on_a_cuda_gpu_asks_torch(monkeypatch, supported):
    import torch

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: supported)
    expected = ("bfloat16", "auto: the GPU supports bfloat16") if supported else (
        "float32", "auto: the GPU has no bfloat16 support")
    assert choose_precision("auto", "cuda") == expected
    assert choose_precision("float32", "cuda") == ("float32", "forced (--precision)")


# ------------------------------------------------------------------ Cellpose 4 loaded (in .venv-cp4)
# A CPSAM network with random weights (tests/test_cellpose4.py's fixtures): only the precision matters.


@pytest.fixture
def cpsam_found(cpsam_dir, monkeypatch):  # noqa: F811 (the fixture imported above)
    monkeypatch.setenv("CELLPOSE_LOCAL_MODELS_PATH", str(cpsam_dir))
    monkeypatch.setenv("BATCHSEG_OFFLINE", "1")
    return cpsam_dir


def _loaded(**kw):
    import torch

    from napari_batchseg.segmenters import load_segmenter

    seg = load_segmenter(SegmentationParams(model="cpsam", diameter=0, **kw))
    dtype = next(seg.model.net.parameters()).dtype
    return seg.describe(), {torch.float32: "float32", torch.bfloat16: "bfloat16"}.get(dtype, str(dtype))


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_forced_precision_is_the_network_dtype_and_logged(cpsam_found, precision):
    info, dtype = _loaded(precision=precision)
    assert dtype == precision
    assert info["precision"] == precision and info["bfloat16"] is (precision == "bfloat16")
    assert info["precision_reason"] == "forced (--precision)"


def test_legacy_use_bfloat16_only_under_auto(cpsam_found):
    info, dtype = _loaded(extra={"use_bfloat16": False})
    assert (dtype, info["precision"]) == ("float32", "float32")
    assert info["precision_reason"] == "use_bfloat16 setting"
    info, dtype = _loaded(precision="bfloat16", extra={"use_bfloat16": False})  # --precision wins
    assert (dtype, info["precision_reason"]) == ("bfloat16", "forced (--precision)")


def test_cli_run_log_records_precision_and_why(cpsam_found, tmp_path):
    import numpy as np
    import tifffile

    from napari_batchseg.cli import main
    from napari_batchseg.provenance import SEGMENTER_PREFIX

    image = tmp_path / "img.tif"
    rng = np.random.default_rng(0)
    tifffile.imwrite(image, (rng.random((64, 64)) * 1000).astype(np.uint16))
    assert main(["segment", str(image), "--model", "cpsam", "--diameter", "0", "--precision", "float32",
                 "--output-dir", str(tmp_path / "out"), "-q"]) == 0
    text = (tmp_path / "out" / "img_vSM.log").read_text()
    line = next(ln for ln in text.splitlines() if SEGMENTER_PREFIX in ln)
    described = json.loads(line.split(SEGMENTER_PREFIX, 1)[1])
    assert described["precision"] == "float32" and described["precision_reason"] == "forced (--precision)"
    assert '"precision": "float32"' in text  # the parameters line too: a rerun forces the same
