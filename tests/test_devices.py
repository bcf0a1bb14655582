from __future__ import annotations

import types

import pytest

torch = pytest.importorskip("torch")

from napari_batchseg import devices  # noqa: E402
from napari_batchseg.devices import DeviceChoice, pick_device  # noqa: E402


def test_cpu_when_gpu_not_requested():
    choice = pick_device(False)
    assert isinstance(choice, DeviceChoice)
    assert choice.device == torch.device("cpu")
    assert choice.warning is None
    assert not choice.is_gpu
    assert choice.description == f"CPU ({torch.get_num_threads()} threads)"


def test_gpu_requested_without_gpu_falls_back_with_warning(monkeypatch):
    monkeypatch.setattr(devices, "_cuda_usable", lambda: (False, "no CUDA device found"))
    monkeypatch.setattr(devices, "_mps_usable", lambda: (False, "no Apple MPS device found"))
    choice = pick_device(True)
    assert choice.device.type == "cpu"
    assert choice.warning and "GPU requested" in choice.warning
    assert "no CUDA device found" in choice.warning
    assert choice.description.startswith("CPU (")


def test_real_probe_on_this_machine_is_consistent():
    choice = pick_device(True)
    if torch.cuda.is_available():
        assert choice.device.type == "cuda" and choice.description.startswith("CUDA: ")
        assert choice.warning is None
    elif choice.device.type == "mps":
        assert choice.description == "Apple MPS"
    else:
        assert choice.warning is not None


def test_cuda_preferred_over_mps(monkeypatch):
    monkeypatch.setattr(devices, "_cuda_usable", lambda: (True, ""))
    monkeypatch.setattr(devices, "_mps_usable", lambda: (True, ""))
    props = types.SimpleNamespace(name="NVIDIA H100 80GB HBM3", total_memory=80 * 2**30)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index=0: props)
    choice = pick_device(True)
    assert choice.device == torch.device("cuda:0")
    assert choice.description == "CUDA: NVIDIA H100 80GB HBM3 (80.0 GiB)"
    assert choice.is_gpu and choice.warning is None


def test_mps_when_no_cuda(monkeypatch):
    monkeypatch.setattr(devices, "_cuda_usable", lambda: (False, "no CUDA device found"))
    monkeypatch.setattr(devices, "_mps_usable", lambda: (True, ""))
    choice = pick_device(True)
    assert choice.device == torch.device("mps")
    assert choice.description == "Apple MPS"
    assert choice.warning is None


def test_broken_cuda_is_reported(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)

    def boom(*args, **kwargs):
        raise RuntimeError("CUDA driver version is insufficient")

    real_zeros = torch.zeros

    def zeros(*args, **kwargs):
        if str(kwargs.get("device", "")).startswith("cuda"):
            boom()
        return real_zeros(*args, **kwargs)

    monkeypatch.setattr(torch, "zeros", zeros)
    monkeypatch.setattr(devices, "_mps_usable", lambda: (False, "no Apple MPS device found"))
    choice = pick_device(True)
    assert choice.device.type == "cpu"
    assert "driver version is insufficient" in choice.warning
