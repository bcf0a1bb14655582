"""The Qt face of the trained-models registry, shared by the Train widget and the segmentation form.

:func:`trained_models_signal`: one process-wide ``added(path)`` signal, emitted whenever a model is
remembered (:func:`napari_batchseg.training.registry.remember_model`; from a training worker, delivered
queued on the GUI thread). :func:`load_recent_models_later` reads the persisted list off the GUI thread.
"""

from __future__ import annotations

import threading

from qtpy.QtCore import QObject, Signal

from ..training import registry


class TrainedModels(QObject):
    """``added(path)``: a trained model exists at ``path`` (emitted on the GUI thread)."""

    added = Signal(str)


_SIGNAL: TrainedModels | None = None


def trained_models_signal() -> TrainedModels:
    """The process-wide :class:`TrainedModels`; create it on the GUI thread (the first widget does)."""
    global _SIGNAL
    if _SIGNAL is None:
        _SIGNAL = TrainedModels()
        registry.add_listener(_SIGNAL.added.emit)  # emitted from the worker: delivered queued
    return _SIGNAL


def load_recent_models_later() -> None:
    """Emit ``added`` for each remembered model, oldest first, from a daemon thread."""
    signal = trained_models_signal()

    def read() -> None:
        for path in reversed(registry.recent_models()):
            signal.added.emit(path)

    threading.Thread(target=read, name="batchseg-recent-models", daemon=True).start()
