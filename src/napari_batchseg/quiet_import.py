"""Import torch and the segmentation libraries in a background thread without freezing the others.

A GUI process (napari) imports torch and Cellpose in a worker thread while its event loop keeps
drawing. Two things in such an import stop every Python thread, the GUI's included:

* **The dynamic loader.** CPython calls ``dlopen`` for an extension module with the GIL held;
  ``libtorch_cpu`` takes a few hundred ms to map, relocate and run its static initialisers. Loading
  torch's core libraries first through ``ctypes`` (a foreign call releases the GIL) does that work
  while the other threads run; the import then finds them loaded.
* **The garbage collector.** The imports create a few hundred thousand objects, and every
  generation-2 collection they trigger on the way scans everything (150-400 ms each with napari, Qt
  and torch in memory). The collector is paused during the imports, and at their end the objects they
  made join the oldest generation without a collection (:func:`settle_new_objects`): otherwise they
  are still owed one full collection (250-850 ms, stopping every thread), which fell due in whatever
  thread allocated next (the widget's metadata reader, the first batch). Nothing stays frozen.

Measured here (``benchmarks/bench_import_stalls.py``, a thread ticking every 5 ms while another imports
torch and Cellpose, then one full collection): see docs/performance.md.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import importlib.util
import os
import sys
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["LIBRARIES", "import_quietly", "paused_collector", "preload_libraries", "preload_torch_libraries",
           "settle_new_objects"]

#: the largest shared libraries of packages imported at start-up, as (Linux, macOS) glob patterns relative
#: to the package folder; their dependencies are resolved by the loader itself
LIBRARIES: dict[str, tuple[tuple[str, str], ...]] = {
    "torch": (("lib/libc10.so", "lib/libc10.dylib"), ("lib/libtorch_cpu.so", "lib/libtorch_cpu.dylib")),
    "llvmlite": (("binding/libllvmlite.so", "binding/libllvmlite.dylib"),),  # numba's compiler
    "pyarrow": (("libarrow.so.*", "libarrow.*.dylib"),),  # pandas and xarray import it when present
}
#: packages whose import loads the libraries of others
_LOADS: dict[str, tuple[str, ...]] = {
    "torch": ("torch",), "cellpose": ("torch",), "micro_sam": ("torch",), "numba": ("llvmlite",),
    "pandas": ("pyarrow",), "xarray": ("pyarrow",),
}
_LOCK = threading.Lock()
_handles: list[int] = []


#: third-party warnings that say nothing a user can act on: (the message's start, its category); torch's
#: notice about sparse tensors is raised inside Cellpose's mask computation, once per process
KNOWN_NOTICES: tuple[tuple[str, type[Warning]], ...] = (("Sparse invariant checks", UserWarning),)


def quiet_notices() -> None:
    """Ignore :data:`KNOWN_NOTICES` in this process.

    An application's choice, made by the CLI, the napari plugin and the worker processes (Dask, the
    local pool), which have filters of their own; the Python API leaves its caller's filters alone.
    """
    import warnings

    for message, category in KNOWN_NOTICES:
        warnings.filterwarnings("ignore", message=message, category=category)


def _dlopen() -> Any:
    libc = ctypes.CDLL(None)
    dlopen = libc.dlopen
    dlopen.restype = ctypes.c_void_p
    dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
    return dlopen


def preload_libraries(packages: Iterable[str]) -> list[str]:
    """Load the :data:`LIBRARIES` of ``packages`` with the GIL released; return the files loaded.

    A package already imported, not installed or not listed is passed over, as is every package on
    Windows; a library the loader refuses is left to the plain import, which then loads it as usual.
    """
    if os.name != "posix":
        return []
    try:
        dlopen = _dlopen()
    except (OSError, AttributeError):
        return []
    column = 1 if sys.platform == "darwin" else 0
    loaded: list[str] = []
    for package in packages:
        if package in sys.modules or package not in LIBRARIES:
            continue
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            continue
        folder = Path(spec.origin).parent
        for patterns in LIBRARIES[package]:
            for path in sorted(folder.glob(patterns[column])):
                handle = dlopen(os.fsencode(path), os.RTLD_NOW | os.RTLD_GLOBAL)  # GIL released meanwhile
                if not handle:
                    return loaded
                _handles.append(handle)  # never closed: the package keeps using the library
                loaded.append(path.name)
    return loaded


def preload_torch_libraries() -> bool:
    """:func:`preload_libraries` for torch; ``True`` when its libraries were loaded now."""
    return bool(preload_libraries(["torch"]))


@contextlib.contextmanager
def paused_collector() -> Iterator[None]:
    """Pause the garbage collector for the block (see the module docstring).

    Nested use is safe: the collector is re-enabled only if it was enabled before.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def import_quietly(names: Iterable[str]) -> list[ModuleType]:
    """Import ``names`` (e.g. ``["torch", "cellpose.models"]``) without long stalls of other threads.

    Parameters
    ----------
    names
        Module names, imported in this order.

    Returns
    -------
    list of module
        The imported modules.

    Raises
    ------
    ImportError
        As :func:`importlib.import_module` does, for the first module that cannot be imported.
    """
    names = list(names)
    with _LOCK:
        if all(name in sys.modules for name in names):
            return [sys.modules[name] for name in names]
        preload_libraries(dict.fromkeys(p for name in names for p in _LOADS.get(name.split(".")[0], ())))
        with paused_collector():
            try:
                return [importlib.import_module(name) for name in names]
            finally:
                settle_new_objects()


def settle_new_objects() -> bool:
    """Move every object tracked by the collector into its oldest generation, owing no collection.

    :func:`gc.freeze` then :func:`gc.unfreeze`: two list moves, no scan. Objects made while the collector
    was paused (an import's few hundred thousand) would otherwise go through a generation-0 and a
    generation-1 collection and then be counted towards a full one; this way the collector counts them
    as if they had been there at its last full collection (the next one comes when the process has grown
    by a quarter since then, and scans them). Nothing stays frozen. Not done (``False``) when the host
    process keeps objects frozen itself (:func:`gc.unfreeze` would release those too).
    """
    if gc.get_freeze_count():
        return False
    gc.freeze()
    gc.unfreeze()
    return True
