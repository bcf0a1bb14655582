"""The device the widget names, without Qt (:mod:`napari_batchseg.view.device_probe`)."""

from __future__ import annotations

import pytest

from napari_batchseg import devices, quiet_import
from napari_batchseg.devices import DeviceChoice
from napari_batchseg.segmenters.cellpose import files as cellpose_files
from napari_batchseg.view import device_probe
from napari_batchseg.view.device_probe import detect_device, device_known, device_text


def _picks(monkeypatch: pytest.MonkeyPatch, result: DeviceChoice | BaseException) -> None:
    def pick(gpu: bool) -> DeviceChoice:
        assert gpu  # what a GPU run would use
        if isinstance(result, BaseException):
            raise result
        return result

    monkeypatch.setattr(devices, "pick_device", pick)


def test_device_text_names_the_gpu_or_says_why_there_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    _picks(monkeypatch, DeviceChoice(None, "CUDA: Some GPU (8.0 GiB)"))  # type: ignore[arg-type]
    assert device_text() == "CUDA: Some GPU (8.0 GiB)"
    _picks(monkeypatch, DeviceChoice(None, "CPU (4 threads)", warning="GPU requested but none"))  # type: ignore[arg-type]
    assert device_text() == "no GPU found: CPU (4 threads)"
    _picks(monkeypatch, RuntimeError("driver too old"))
    assert device_text() == "no GPU found (driver too old)"
    _picks(monkeypatch, ImportError("no torch"))
    assert device_text() == "device detection unavailable"


def test_detect_device_imports_then_probes_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(quiet_import, "import_quietly", lambda names: calls.append("import"))
    monkeypatch.setattr(device_probe, "device_text", lambda: calls.append("probe") or "Apple MPS")
    monkeypatch.setattr(cellpose_files, "cellpose_models", lambda: calls.append("cellpose"))
    detect_device.cache_clear()
    try:
        assert not device_known()
        assert detect_device() == "Apple MPS"
        assert device_known()
        assert detect_device() == "Apple MPS"
        assert calls == ["import", "probe", "cellpose"]  # torch, the device, then Cellpose; once
    finally:
        detect_device.cache_clear()  # the next caller detects the real device
