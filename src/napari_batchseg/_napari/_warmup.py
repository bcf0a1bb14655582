"""One-time costs of a process paid ahead (device detection, napari's first layers).

Used by :class:`._widget.BatchSegWidget` when it opens.
"""

from __future__ import annotations

import contextlib
import functools
import gc
from collections.abc import Callable


@functools.cache
def detect_device() -> str:
    """What a GPU run would use (``devices.pick_device(True).description``); computed once per process.

    Also imports torch and Cellpose, through :func:`..quiet_import.import_quietly`: their shared
    libraries are loaded with the GIL released and the garbage collector is paused during the imports
    (without it, the GUI froze for 150-800 ms at a time, several times: see
    ``benchmarks/bench_import_stalls.py``).
    Done now, while the user sets up the batch, rather than at the start of the first run.
    Then it runs one full garbage collection. The imports (torch, Cellpose, SciPy: ~200,000 objects)
    leave Python owing a generation-2 collection, which stops every thread for 250-450 ms with napari,
    Qt and torch in memory; unpaid, it falls due a few seconds later, i.e. in the middle of the first
    batch. Paid here, during the widget's opening, the next one is due only after the process has grown
    by another quarter (a batch that streams frames into the same layers does not).
    """
    from ..quiet_import import import_quietly

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
    with contextlib.suppress(Exception):
        from ..segmenters.cellpose.files import cellpose_models

        cellpose_models()  # quietly too; under Cellpose 4 with its torchvision step
    gc.collect()
    return text


#: what napari's first Image and Labels layer models import (xarray, pandas, SciPy, scikit-image, numba:
#: ~700 modules, ~1.1 s here), imported ahead by :func:`import_layer_dependencies`
LAYER_DEPENDENCIES = ("xarray", "pandas", "scipy.ndimage", "scipy.special", "scipy.linalg", "numba",
                      "skimage.color", "skimage.exposure", "skimage.util")


def import_layer_dependencies() -> None:
    """Import :data:`LAYER_DEPENDENCIES` quietly (:func:`..quiet_import.import_quietly`), in a worker thread.

    The first layer models import them on the GUI thread otherwise: 0.3-1.8 s of frozen GUI per step.
    A module that is not installed is passed over (napari imports it only when present).
    """
    import importlib.util

    from ..quiet_import import import_quietly

    present = [name for name in LAYER_DEPENDENCIES if importlib.util.find_spec(name.split(".")[0])]
    with contextlib.suppress(ImportError):
        import_quietly(present)
    try:  # the first Labels model loads napari's numba colour mapping (~0.3 s): loaded here instead
        import numpy as np
        from napari.utils.colormaps.colormap_utils import label_colormap

        cmap = label_colormap(49)
        for dtype in (np.uint8, np.uint16, np.uint32, np.int32, np.int64):
            cmap._data_to_texture(np.arange(16, dtype=dtype).reshape(4, 4))
            cmap._data_to_texture(dtype(0))
    except Exception:  # noqa: BLE001, S110 - private napari API; only an optimisation
        pass


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
