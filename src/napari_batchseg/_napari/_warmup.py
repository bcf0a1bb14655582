"""The widget's one-time start-up costs, paid in worker threads: napari's first layers, the device.

:class:`Startup` runs them in order when the widget opens: what napari's first layers import and cache
(:func:`prepare_layers`, its unit registry installed on the GUI thread), then a first Image and Labels
model and the device detection, which imports torch and Cellpose (:func:`layers_then_device`; Qt-free:
:mod:`napari_batchseg.view.device_probe`). The widget is usable at once; a Run clicked before the work
is over waits (:class:`~napari_batchseg.live.startup.StartupGate`): its layers would wait for the
import locks those threads hold.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..live.startup import StartupGate
from ..view.device_probe import detect_device, device_known

if TYPE_CHECKING:  # (not at run time: the launcher imports this module before napari, Qt or pandas)
    from ._jobs import Background

__all__ = ["Startup", "first_layer_models", "install_units", "prepare_layers"]

#: what napari's first Image and Labels layer models import (xarray, pandas, SciPy, scikit-image, numba:
#: ~700 modules, ~1.1 s here), imported ahead by :func:`prepare_layers`
LAYER_DEPENDENCIES = ("xarray", "pandas", "scipy.ndimage", "scipy.special", "scipy.linalg", "numba",
                      "skimage.color", "skimage.exposure", "skimage.util")


def prepare_layers() -> Any:
    """What napari's first layers need, paid in a worker thread: imports, caches, a unit registry.

    Otherwise the first layers pay it on the GUI thread (0.3-1.8 s of frozen GUI per step). The
    imports are quiet (:func:`..quiet_import.import_quietly`); modules not installed are passed over.

    Returns
    -------
    pint.UnitRegistry or None
        A registry like pint's application registry (0.3-1.3 s of pure Python), for
        :func:`install_units`; ``None`` when pint's own is built already (or pint is missing). A
        registry of its own: pint's lazy application registry must not be built from two threads.
    """
    from ..quiet_import import paused_collector, settle_new_objects

    with paused_collector():
        registry = _layer_costs()
        settle_new_objects()  # the objects made join the oldest generation without a collection
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

    On the GUI thread, and only while pint's lazy registry is unbuilt (a layer made meanwhile built
    it: that one stays, units of two registries cannot be compared).
    """
    import pint
    from pint.registry import LazyRegistry

    if registry is not None and isinstance(pint.get_application_registry().get(), LazyRegistry):
        pint.set_application_registry(registry)


@functools.cache  # paid once per process
def first_layer_models() -> None:
    """Make a first napari Image and Labels model, not shown (thread-safe: no viewer, no Qt).

    Skipped while pint's application registry is unbuilt (a model with units would build it in this
    thread): then napari's first layer pays these costs.
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


class Startup:
    """Runs the start-up work (see the module docstring); holds the run that waits for it."""

    def __init__(self, background: Background, on_device: Callable[[str], None]) -> None:
        self._background, self._on_device = background, on_device
        #: a run requested before the work is over: a function that starts it
        self.gate: StartupGate[Callable[[], object]] = StartupGate()

    @property
    def done(self) -> bool:
        """The start-up work is over (runs start at once)."""
        return self.gate.is_open

    def start(self) -> None:
        """Start the work (once, when the widget opens)."""
        self._background.submit(prepare_layers, on_item=install_units, on_done=self._detect,
                                name="batchseg-warmup")

    def _detect(self) -> None:
        if device_known():
            self._found(detect_device())
            return
        # a daemon thread that never touches Qt: closing napari meanwhile cannot crash (see _jobs)
        self._background.submit(layers_then_device, on_item=self._found, on_done=self._ended,
                                name="batchseg-device")

    def _ended(self) -> None:
        if not self.done:  # the detection raised: the start-up work is over all the same
            self._found("device detection unavailable")

    def close(self) -> None:
        """The widget closes: a run that waited never starts (the workers stop with the Background)."""
        self.gate.cancel()

    def _found(self, device: str) -> None:
        run = self.gate.open()
        if run is not None:
            run()
        self._on_device(device)
