"""The widget's start-up work, in worker threads of its :class:`._jobs.Background`, and the Run that waits.

In order: what napari's first layers import and cache (:func:`._warmup.prepare_layers`, its unit
registry installed on the GUI thread), then a first Image and Labels model and the device detection,
which imports torch and Cellpose (:func:`._warmup.layers_then_device`). The widget is usable at once;
a Run clicked before the work is over waits (:class:`~napari_batchseg.live.startup.StartupGate`): its
layers would wait for the import locks those threads hold.
"""

from __future__ import annotations

from collections.abc import Callable

from ..live.startup import StartupGate
from ..view.device_probe import detect_device, device_known
from ._jobs import Background
from ._warmup import install_units, layers_then_device, prepare_layers

__all__ = ["Startup"]


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
