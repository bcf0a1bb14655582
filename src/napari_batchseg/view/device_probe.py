"""The device a GPU run would use, in words, for the widget: detected once per process, in a worker thread.

Qt-free. The napari widget's start-up work (``_napari._warmup``) calls
:func:`detect_device` off the GUI thread and shows its answer.
"""

from __future__ import annotations

import contextlib
import functools
import gc

__all__ = ["detect_device", "device_known", "device_text"]


def device_text() -> str:
    """What :func:`~napari_batchseg.devices.pick_device` gives for a GPU run, as the widget says it.

    ``"no GPU found: <the CPU>"`` when no GPU is usable, ``"no GPU found (<error>)"`` when the probe
    fails, ``"device detection unavailable"`` without torch.
    """
    try:
        from ..devices import pick_device

        choice = pick_device(True)
        return f"no GPU found: {choice.description}" if choice.warning else str(choice.description)
    except ImportError:
        return "device detection unavailable"
    except Exception as exc:  # noqa: BLE001 - informative only
        return f"no GPU found ({exc})"


@functools.cache
def detect_device() -> str:
    """:func:`device_text`; computed once per process.

    Also imports torch and Cellpose, through :func:`..quiet_import.import_quietly`: their shared
    libraries are loaded with the GIL released and the garbage collector is paused during the imports
    (without it, the GUI froze for 150-800 ms at a time, several times: see
    ``benchmarks/bench_import_stalls.py``).
    Done now, while the user sets up the batch, rather than at the start of the first run.
    Then it runs one full garbage collection. The imports (torch, Cellpose, SciPy: ~200,000 objects)
    leave Python owing a generation-2 collection, which stops every thread for 250-450 ms with napari,
    Qt and torch in memory; unpaid, it falls due a few seconds later, i.e. in the middle of the first
    batch. Paid here, during the widget's opening, the next one is due only after the process has grown
    by another quarter (a batch that streams frames into the same layers does not). (The start-up work
    before it leaves no collection owed: ``_napari._warmup.prepare_layers``; a Run clicked meanwhile
    starts after it.)
    """
    from ..quiet_import import import_quietly

    with contextlib.suppress(ImportError):
        import_quietly(["torch"])
    text = device_text()
    with contextlib.suppress(Exception):
        from ..segmenters.cellpose.files import cellpose_models

        cellpose_models()  # quietly too; under Cellpose 4 with its torchvision step
    gc.collect()
    return text


def device_known() -> bool:
    """Whether :func:`detect_device` has its answer already (then calling it costs nothing)."""
    return detect_device.cache_info().currsize > 0
