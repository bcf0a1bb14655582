"""One-time costs of a process paid ahead (device detection, napari's first layers).

Used by :class:`._widget.BatchSegWidget` when it opens.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable


@functools.cache
def detect_device() -> str:
    """What a GPU run would use (``devices.pick_device(True).description``); computed once per process.

    Also imports torch and Cellpose, through :func:`..quiet_import.import_quietly`: their shared
    libraries are loaded with the GIL released and the garbage collector is paused during the imports,
    then the ~200,000 imported objects are frozen out of later collections. Without it, the GUI froze
    for 300-800 ms at a time during the imports and again at the generation-2 collections they caused
    (measured: ``benchmarks/bench_import_stalls.py``). Done now, while the user sets up the batch, rather
    than at the start of the first run.
    """
    from ..quiet_import import import_quietly, paused_collector

    with contextlib.suppress(ImportError):
        import_quietly(["torch"])
    try:
        from ..devices import pick_device

        choice = pick_device(True)
        text = f"no GPU found: {choice.description}" if choice.warning else str(choice.description)
    except ImportError:
        text = "device detection unavailable"
    except Exception as exc:  # noqa: BLE001 - informative only
        text = f"no GPU found ({exc})"
    with contextlib.suppress(Exception), paused_collector():
        from ..segmenters.cellpose.files import cellpose_models

        cellpose_models()  # under Cellpose 4 with its torchvision step
    return text


@functools.cache  # each of napari's one-time costs is paid once per process (see warm_up_steps)
def _units() -> None:
    import pint

    pint.get_application_registry().pixel  # noqa: B018 - builds the registry napari uses for units


@functools.cache
def _first_image() -> None:
    import numpy as np
    from napari.layers import Image

    Image(np.zeros((2, 4, 4), np.float32), scale=(1, 0.5, 0.5), units="µm")
    import napari._vispy.layers.image  # noqa: F401


@functools.cache
def _first_labels() -> None:
    import numpy as np
    from napari.layers import Labels

    labels = Labels(np.zeros((2, 4, 4), np.uint32), scale=(1, 0.5, 0.5), units="µm")
    try:  # compiles (or loads from cache) napari's label colour mapping, else done on the first frame
        labels._raw_to_displayed(np.arange(16, dtype=np.uint32).reshape(4, 4))
    except Exception:  # noqa: BLE001, S110 - private napari API; only an optimisation
        pass
    import napari._vispy.layers.labels  # noqa: F401


def warm_up_steps() -> list[Callable[[], None]]:
    """The one-time costs of napari's first layer, as steps for idle turns of the event loop.

    Otherwise the first Image and Labels layers of a session block the GUI for seconds right when the
    user clicks Run. The steps (unit registry, a first Image layer model, a first Labels layer model:
    150-300 ms each here, ~2 s in all when napari has shown no layer yet) run on the GUI thread, one per
    turn, so the widget appears at once: pint's registry is built lazily and must not be built from two
    threads at once. Each step is paid once per process; steps already paid are not returned.
    """
    return [step for step in (_units, _first_image, _first_labels) if step.cache_info().currsize == 0]


def device_known() -> bool:
    """Whether :func:`detect_device` has its answer already (then calling it costs nothing)."""
    return detect_device.cache_info().currsize > 0
