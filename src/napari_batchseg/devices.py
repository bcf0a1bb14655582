"""Choose the torch device a segmenter runs on: CUDA, then Apple MPS, then the CPU.

:func:`pick_device` never fails: when a GPU was asked for but none is usable it falls back to the
CPU and says why in :attr:`DeviceChoice.warning`, which callers show to the user and write to the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class DeviceChoice:
    """The device chosen for a run.

    Attributes
    ----------
    device
        The ``torch.device`` to use.
    description
        Human-readable, e.g. ``"CUDA: NVIDIA H100 80GB HBM3 (79.1 GiB)"``, ``"Apple MPS"`` or
        ``"CPU (8 threads)"``.
    warning
        Set when a GPU was asked for but could not be used (the run goes on on the CPU).
    """

    device: torch.device
    description: str
    warning: str | None = None

    @property
    def is_gpu(self) -> bool:
        """True for CUDA and MPS."""
        return self.device.type != "cpu"


def _cuda_usable() -> tuple[bool, str]:
    """Whether CUDA works (a tiny allocation succeeds) and, if not, why."""
    import torch

    if not torch.cuda.is_available():
        return False, "no CUDA device found"
    try:
        torch.zeros(1, device="cuda:0")
    except Exception as exc:  # a driver or memory problem: report it, fall back
        return False, f"CUDA found but not usable ({exc})"
    return True, ""


def _mps_usable() -> tuple[bool, str]:
    """Whether Apple's Metal (MPS) backend works and, if not, why."""
    import torch

    backend = getattr(torch.backends, "mps", None)
    if backend is None or not backend.is_available():
        return False, "no Apple MPS device found"
    try:
        torch.zeros(1, device="mps")
    except Exception as exc:
        return False, f"Apple MPS found but not usable ({exc})"
    return True, ""


def _cuda_description(index: int = 0) -> str:
    import torch

    try:
        props = torch.cuda.get_device_properties(index)
        return f"CUDA: {props.name} ({props.total_memory / 2**30:.1f} GiB)"
    except Exception:
        return "CUDA"


def cpu_description() -> str:
    """``"CPU (N threads)"`` with torch's intra-op thread count."""
    import torch

    return f"CPU ({torch.get_num_threads()} threads)"


def pick_device(gpu: bool) -> DeviceChoice:
    """Pick the device for a run.

    Parameters
    ----------
    gpu
        Use a GPU when one is usable: CUDA first, then Apple MPS. ``False`` always gives the CPU.

    Returns
    -------
    DeviceChoice
        The device, a description, and a warning when ``gpu`` was asked for but none is usable.
    """
    import torch

    if not gpu:
        return DeviceChoice(torch.device("cpu"), cpu_description())
    ok_cuda, why_cuda = _cuda_usable()
    if ok_cuda:
        return DeviceChoice(torch.device("cuda:0"), _cuda_description(0))
    ok_mps, why_mps = _mps_usable()
    if ok_mps:
        return DeviceChoice(torch.device("mps"), "Apple MPS")
    return DeviceChoice(
        torch.device("cpu"),
        cpu_description(),
        warning=f"GPU requested but none is usable ({why_cuda}; {why_mps}); running on the CPU",
    )
