"""Import torch and the segmentation libraries in a background thread without freezing the others.

A GUI process (napari) imports torch and Cellpose in a worker thread while its event loop keeps
drawing. Two things in such an import stop every Python thread, the GUI's included:

* **The dynamic loader.** CPython calls ``dlopen`` for an extension module with the GIL held;
  ``libtorch_cpu`` takes a few hundred ms to map, relocate and run its static initialisers. Loading
  torch's core libraries first through ``ctypes`` (a foreign call releases the GIL) does that work
  while the other threads run; the import then finds them loaded.
* **The garbage collector.** The imports create a few hundred thousand objects; each generation-2
  collection they trigger scans them all (150-400 ms with napari, Qt and torch in memory), and the
  collections after them scan them again. The collector is paused during the imports and the imported
  objects are then moved to the permanent generation (:func:`gc.freeze`), which collections skip.

Measured here (2 cores, load 4.4; ``benchmarks/bench_import_stalls.py``): the longest stall of a thread
ticking every 5 ms while another imports torch and Cellpose fell from 300-800 ms to 35-70 ms.
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

__all__ = ["import_quietly", "paused_collector", "preload_torch_libraries"]

#: torch's largest shared libraries, loaded first (dependencies are resolved by the loader itself)
_TORCH_LIBRARIES = ("c10", "torch_cpu")
_LOCK = threading.Lock()
_handles: list[int] = []


def _library_names(stem: str) -> list[str]:
    if sys.platform == "darwin":
        return [f"lib{stem}.dylib"]
    return [f"lib{stem}.so"]


def preload_torch_libraries() -> bool:
    """Load torch's core shared libraries with the GIL released; ``True`` when they were loaded.

    Does nothing (``False``) when torch is imported already, is not installed, on Windows, or when the
    loader refuses a library (the plain import then loads it as usual).
    """
    if "torch" in sys.modules or os.name != "posix":
        return False
    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        return False
    libdir = Path(spec.origin).parent / "lib"
    try:
        libc = ctypes.CDLL(None)
        dlopen = libc.dlopen
    except (OSError, AttributeError):
        return False
    dlopen.restype = ctypes.c_void_p
    dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
    loaded = False
    for stem in _TORCH_LIBRARIES:
        for name in _library_names(stem):
            path = libdir / name
            if not path.is_file():
                continue
            handle = dlopen(os.fsencode(path), os.RTLD_NOW | os.RTLD_GLOBAL)  # GIL released meanwhile
            if not handle:
                return loaded
            _handles.append(handle)  # never closed: torch keeps using the library
            loaded = True
    return loaded


@contextlib.contextmanager
def paused_collector() -> Iterator[None]:
    """Pause the garbage collector for the block, then freeze what exists (see the module docstring).

    Nested or concurrent use is safe: the collector is re-enabled only if it was enabled before.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
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
        preload_torch_libraries()
        with paused_collector():
            return [importlib.import_module(name) for name in names]
