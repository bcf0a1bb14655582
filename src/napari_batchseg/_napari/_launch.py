"""``batchseg gui``: napari with the Batch segmentation dock, its one-time costs paid before any window.

Opened from napari's Plugins menu, the widget pays its start-up work in worker threads while napari
runs (:mod:`._warmup`), including the full garbage collection torch's imports owe (250-350 ms of every
thread stopped, docs/performance.md). From the command line it is done here first (:func:`preload`).
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..discovery import FileFilter
from ..params import SegmentationParams
from ..view.device_probe import detect_device
from ._warmup import first_layer_models, install_units, prepare_layers

__all__ = ["launch", "preload", "run_napari"]

#: the plugin's name and its main widget's, as in ``napari.yaml``
PLUGIN = "napari-batchseg"
WIDGET = "Batch segmentation"


def preload(freeze: bool = False, say: Callable[[str], None] | None = None) -> str:
    """The widget's start-up work (:mod:`._warmup`), done now on the calling thread (no window yet).

    Parameters
    ----------
    freeze
        Then freeze every object alive (:func:`gc.freeze`, after a collection), so that no later
        collection scans these modules again: only in a fresh process (``batchseg gui``), where what
        is frozen (modules, classes, caches) is kept to its end anyway; not in a notebook.
    say
        Told each step's end, with the seconds since the start and the device found.

    Returns
    -------
    str
        The device a GPU run would use, as the widget shows it.
    """
    start = time.perf_counter()

    def step(text: str, more: str = "") -> None:
        if say is not None:
            say(f"{text} after {time.perf_counter() - start:.1f} s{more}")

    install_units(prepare_layers())
    with contextlib.suppress(Exception):  # an optimisation only, as in the widget
        first_layer_models()
    step("napari's layers ready")
    device = detect_device()
    step("torch and Cellpose ready", f"; device: {device}")
    if freeze:
        gc.collect()  # (detect_device collects on its first call only)
        gc.freeze()
    return device


def launch(paths: Sequence[str | Path] = (), params: SegmentationParams | None = None,
           file_filter: FileFilter | None = None, recursive: bool = False,
           show: bool = True, freeze: bool = False, viewer: Any = None,
           say: Callable[[str], None] | None = None) -> tuple[Any, Any]:
    """A napari viewer with the Batch segmentation dock set up: ``paths`` listed, ``params`` shown.

    Parameters
    ----------
    paths
        Files and folders for the file list (added by a worker, as the widget's *Add folder…*).
    params, file_filter
        Parameters to show in the widget, filters for the files found in folders (default: the widget's,
        its filter: name contains ``_BF``).
    recursive, show, freeze
        Also search the folders' sub-folders; show the window (``False`` for tests); freeze the objects
        alive before the window (:func:`preload`).
    viewer, say
        The viewer to dock the widget in (default: a new one, made after :func:`preload`); told the
        start-up steps as they end.

    Returns
    -------
    tuple
        ``(viewer, widget)``; the caller runs napari's event loop (``napari.run()``).
    """
    preload(freeze, say)
    if viewer is None:
        import napari

        viewer = napari.Viewer(show=show)
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET)
    if params is not None:
        widget.set_params(params)
    if file_filter is not None:
        widget.files.filters.show(file_filter)
    widget.files.recursive.setChecked(recursive)  # (the next Add folder… searches the same way)
    if paths:
        widget.files.add_paths_later([Path(p) for p in paths], recursive=recursive)
    return viewer, widget


def run_napari(poll: Callable[[], None] = lambda: None) -> None:
    """Run napari's event loop until its window is closed, calling ``poll`` in it every 200 ms."""
    import napari
    from qtpy.QtCore import QTimer

    timer = QTimer()  # (Python runs then, signal handlers too: poll acts on what cli_gui.SignalClose got)
    timer.timeout.connect(poll)
    timer.start(200)
    napari.run()
