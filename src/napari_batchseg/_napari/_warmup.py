"""One-time costs of a process paid ahead, in worker threads (device detection, napari's first layers).

The device detection itself is Qt-free: :mod:`napari_batchseg.view.device_probe`.

Run in order by :class:`._startup.Startup` when the widget opens.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any

from ..view.device_probe import detect_device

#: what napari's first Image and Labels layer models import (xarray, pandas, SciPy, scikit-image, numba:
#: ~700 modules, ~1.1 s here), imported ahead by :func:`prepare_layers`
LAYER_DEPENDENCIES = ("xarray", "pandas", "scipy.ndimage", "scipy.special", "scipy.linalg", "numba",
                      "skimage.color", "skimage.exposure", "skimage.util")


def prepare_layers() -> Any:
    """What napari's first layers need, paid in a worker thread: imports, caches, a unit registry.

    Imports :data:`LAYER_DEPENDENCIES` and napari's layer visuals quietly
    (:func:`..quiet_import.import_quietly`; the first layers import them on the GUI thread otherwise:
    0.3-1.8 s of frozen GUI per step), loads napari's numba colour mapping and fills vispy's dash pattern
    cache (0.1-0.3 s of the first Labels layer's polygon overlay). A module that is not installed is
    passed over (napari imports it only when present). The objects made join the collector's oldest
    generation without a collection, as after the imports (:func:`..quiet_import.settle_new_objects`).

    Returns
    -------
    pint.UnitRegistry or None
        A unit registry like pint's application registry, built here (0.3-1.3 s of pure Python that
        napari's first layer with units paid on the GUI thread), for :func:`install_units`; ``None``
        when pint's own is built already (or pint is missing). It is a registry of its own: pint's
        lazy application registry must not be built from two threads at once.
    """
    from ..quiet_import import paused_collector, settle_new_objects

    with paused_collector():
        registry = _layer_costs()
        settle_new_objects()
    return registry


def _layer_costs() -> Any:
    import importlib.util

    from ..quiet_import import import_quietly

    present = [name for name in LAYER_DEPENDENCIES if importlib.util.find_spec(name.split(".")[0])]
    with contextlib.suppress(ImportError):
        import_quietly(present)
    with contextlib.suppress(ImportError):
        import_quietly(["napari._vispy.layers.image", "napari._vispy.layers.labels"])
    try:  # the first Labels model loads napari's numba colour mapping (~0.3 s): loaded here instead
        import numpy as np
        from napari.utils.colormaps.colormap_utils import label_colormap

        cmap = label_colormap(49)
        for dtype in (np.uint8, np.uint16, np.uint32, np.int32, np.int64):
            cmap._data_to_texture(np.arange(16, dtype=dtype).reshape(4, 4))
            cmap._data_to_texture(dtype(0))
    except Exception:  # noqa: BLE001, S110 - private napari API; only an optimisation
        pass
    with contextlib.suppress(Exception):  # lru-cached patterns (module level) every agg line visual makes
        from vispy.visuals.line.dash_atlas import DashAtlas  # type: ignore[import-untyped]

        DashAtlas()
    return _registry_apart()


def _registry_apart() -> Any:
    try:
        import pint
        from pint.registry import LazyRegistry
    except ImportError:
        return None
    if not isinstance(pint.get_application_registry().get(), LazyRegistry):
        return None
    return pint.UnitRegistry(on_redefinition="raise")  # what pint's lazy registry builds


def install_units(registry: Any) -> None:
    """Make ``registry`` (from :func:`prepare_layers`) pint's application registry, which napari uses.

    On the GUI thread, the only one that builds pint's lazy registry: done only when it is still unbuilt
    (a layer made meanwhile built it: that one stays, units of two registries cannot be compared).
    """
    import pint
    from pint.registry import LazyRegistry

    if registry is not None and isinstance(pint.get_application_registry().get(), LazyRegistry):
        pint.set_application_registry(registry)


@functools.cache  # paid once per process
def first_layer_models() -> None:
    """Make a first napari Image and Labels model, not shown (thread-safe: no viewer, no Qt).

    Their first-time costs (napari's slicing and colour-mapping paths) are paid here, in a worker,
    not by the first layers shown. Skipped while pint's application registry is unbuilt (a model with
    units would build it in this thread): then napari's first layer pays them.
    """
    import numpy as np
    import pint
    from napari.layers import Image, Labels
    from pint.registry import LazyRegistry

    if isinstance(pint.get_application_registry().get(), LazyRegistry):
        return
    Image(np.zeros((2, 4, 4), np.float32), scale=(1, 0.5, 0.5), units="µm")
    labels = Labels(np.zeros((2, 4, 4), np.uint32), scale=(1, 0.5, 0.5), units="µm")
    try:  # compiles (or loads from cache) napari's label colour mapping, else done on the first frame
        labels._raw_to_displayed(np.arange(16, dtype=np.uint32).reshape(4, 4))
    except Exception:  # noqa: BLE001, S110 - private napari API; only an optimisation
        pass


def layers_then_device() -> str:
    """:func:`first_layer_models`, then :func:`detect_device` (the start-up worker's second job)."""
    with contextlib.suppress(Exception):  # an optimisation only
        first_layer_models()
    return detect_device()

