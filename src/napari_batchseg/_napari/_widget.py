"""The *Batch segmentation* dock: files, output, parameters, run, live results, corrections."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qtpy.QtWidgets import QWidget

from ..events import Event, ModelLoaded, ModelLoading, Plan, Planned, RunFailed
from ..live import Redraw
from ..live.startup import STARTING
from ..params import ParameterError, SegmentationParams
from ..runners import RunSession, TaskState
from ..view.dock_jobs import params_job
from ..view.file_list import positions_note, read_parameter_file
from ..view.layer_inputs import layer_plan
from ..view.phrasing import finish_message, for_widget, run_message
from ..view.run_refusal import Refusal, refuse_or_params
from ._correct import CorrectionPanel
from ._files import FileListPanel, InfoCache
from ._form import ParamsForm
from ._jobs import Background, RunController, close_all, close_with, delete_with_dock
from ._layers import LayerPanel
from ._output import OutputPanel
from ._pages import FILES_TAB, RESULTS_TAB, lay_out
from ._qtutil import single_shot
from ._status import StatusTable
from ._stream import LayerStreamer
from ._warmup import Startup

#: a settings change is compared with existing outputs' logs (by a worker) once typing pauses this long
PREVIEW_PAUSE_MS = 300


class BatchSegWidget(QWidget):
    """Segment a list of files with Cellpose or micro-sam and watch the masks arrive."""

    def __init__(self, napari_viewer: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = napari_viewer
        self.infos = InfoCache(self)
        self.files = FileListPanel(self.infos)
        self.output = OutputPanel()
        self._preview_timer = single_shot(self, PREVIEW_PAUSE_MS, self._update_preview)
        self.form = ParamsForm()
        self.controller = RunController(self)
        self.streamer = LayerStreamer(napari_viewer, self)
        self.status = StatusTable()
        self.correction = CorrectionPanel(napari_viewer)
        self.layers = LayerPanel(napari_viewer)
        self.background = Background(self)
        #: the start-up work in worker threads (see :mod:`._warmup`); a Run clicked before it ends waits
        self.startup = Startup(self.background, self._device_found)
        self._base_params = SegmentationParams()
        #: the current (or last) run: tasks, statuses, frames, outputs; the views below observe it
        self.session = RunSession()
        self._params: SegmentationParams | None = None
        self._run_error = False
        self._started = 0.0

        ui = lay_out(self, (self.files, self.output, self.layers), self.form, self.status, self.correction,
                     self.save_params_later, self.load_params_later)
        self.tabs, self.bar, self.follow = ui.tabs, ui.bar, ui.follow
        self.parallel_row, self.parallel, self.processes = ui.parallel_row, ui.parallel, ui.processes
        self.run_btn, self.cancel_btn, self.message = self.bar.run_btn, self.bar.cancel_btn, self.bar.message

        self.files.files_changed.connect(lambda: self._inputs_changed(by_user=True))
        self.files.current_changed.connect(lambda _p: self._update_file_dependent())
        # the Settings describe the selected image layers until a file is picked again
        self.files.picked.connect(self.layers.files_picked)
        self.layers.changed.connect(self._update_file_dependent)
        # metadata arrives file by file from a worker: recompute the dependent controls once per burst
        self._inputs_timer = single_shot(self, 100, self._inputs_changed)
        self._dirty_rows: dict[str, TaskState] = {}
        # the table and progress bar are redrawn when the live model says (with the layers, if it can)
        self.streamer.scheduler.on(Redraw, lambda _cmd: self._redraw_now())
        self.infos.updated.connect(lambda _p: self._inputs_timer.start())
        self.output.changed.connect(self._update_preview)
        self.output.changed.connect(self.bar.changed)
        self.output.heads_up.connect(lambda _note: self._update_run_state())  # its folder checked
        self.form.changed.connect(self._form_changed)
        self.run_btn.clicked.connect(self.run)
        self.layers.run_btn.clicked.connect(self.run_layers)
        self.cancel_btn.clicked.connect(self.cancel)
        self.follow.toggled.connect(lambda on: setattr(self.streamer, "follow", on))
        ui.open_btn.clicked.connect(lambda: self.status.request_open())
        self.status.open_requested.connect(self.show_result)
        self.correction.saved.connect(self.status.corrections_saved)
        self.streamer.message.connect(self.message.setText)
        self.controller.run_event.connect(self.handle_event)
        self.controller.finished.connect(self._run_finished)
        self.controller.errored.connect(self._on_error)
        self._inputs_changed()
        # napari closing (or the dock removed): every worker stops (the slot holds no deleted widget)
        close_with(self, *self._closers())
        delete_with_dock(self)
        # napari's one-time costs of a first layer, then the device detection, in workers
        self.form.device_label.setText("looking for a GPU…")
        self.startup.start()

    @property
    def startup_done(self) -> bool:
        """The widget's start-up work (napari's first-layer costs, then the device detection) is over."""
        return self.startup.done

    def _device_found(self, text: str) -> None:  # the start-up work is over (a waiting Run just started)
        self.form.device_label.setText(text)
        self._update_run_state()

    def close_down(self) -> None:
        """Stop every worker (a run is cancelled) and deliver nothing more (napari or the dock closes)."""
        close_all(*self._closers())

    def _closers(self) -> tuple[Callable[[], None], ...]:
        return (self.startup.close, self.controller.close, self.infos.close, self.background.close,
                self.streamer.close, self.correction.close_down, self.files.close_down,
                self.output.close_down, self.layers.close_down)

    def _inputs_changed(self, by_user: bool = False) -> None:  # (else: metadata arrived)
        self.bar.changed(by_user)
        self._update_file_dependent()
        self._update_preview()

    def _update_file_dependent(self) -> None:
        infos = [i for i in map(self.files.run_info, self.files.files()) if i is not None]
        current = self.files.run_info(self.files.current_file())
        self.form.show_inputs(infos, current, self.layers.active_infos())
        self._channel_changed()

    def _channel_changed(self) -> None:  # files lacking the channel (frames, Z) asked for are flagged
        try:
            values = self.form.values()
            self.files.ask(values["channel"], values["start_frame"], values["z_mode"])
        except (KeyError, ValueError):
            pass

    def _form_changed(self) -> None:  # what Run does with outputs is said again once typing pauses
        self._channel_changed()
        self.bar.changed()
        self._preview_timer.start()

    def _update_preview(self) -> None:
        files = self.files.files()
        try:  # what each file would run with: existing outputs made with other parameters are said so
            params = {f: p for fs, p in self.files.setup.run_groups(files, self.params()) for f in fs}
        except (ParameterError, ValueError):
            params = None
        infos = {f: self.infos.get(f) for f in files}  # (only the positions chosen of each file are listed)
        self.output.update_preview(files, infos, params, self.files.setup.chosen_positions(infos))
        self._update_run_state()

    def _update_run_state(self) -> None:
        running = self.running
        self.run_btn.setEnabled(not running and bool(self.files.files()) and not self.output.problems())
        self.cancel_btn.setEnabled(running)
        self.files.show_count(running)  # (while running: "edits apply to the next run only")

    def params(self) -> SegmentationParams:
        """The parameters the form shows (raises :class:`ParameterError` when one is invalid)."""
        return self._base_params.replace(**self.form.checked_values(), **self.output.values(),
                                         axes=self.files.setup.default_axes)

    def set_params(self, params: SegmentationParams) -> None:
        """Show ``params``; fields the form has no control for are kept for the next run.

        Its ``positions`` run for every file without its own (Files tab), as the message line says.
        """
        self._base_params = params
        self.output.set_params(params)
        self.form.set_params(params)
        self.files.set_positions(params.positions)
        if note := positions_note(params.positions):
            self.bar.say(note)
        self.files.set_axes_choice(params.axes)  # shown in the Files tab, used for ambiguous files only
        self._update_preview()

    def save_params(self, path: str | Path) -> None:
        """Save the current parameters to a YAML file."""
        self.params().save(path)

    def save_params_later(self, path: str | Path) -> None:
        """:meth:`save_params` in a worker (*Save parameters…*): the message line says how it went."""
        params_job(self.background.submit, self.bar.say, "saved", path, lambda: self.params().save)

    def load_params_later(self, path: str | Path) -> None:
        """:meth:`load_params` read in a worker (*Load parameters…*; once the dock closed: nothing shown)."""
        params_job(self.background.submit, self.bar.say, "loaded", path, lambda: read_parameter_file,
                   lambda read: self.load_params(path, read))

    def load_params(self, path: str | Path, read: tuple[Any, ...] | None = None) -> str:
        """Load parameters from a YAML file into the form (its folder filters, if any, into Filters).

        Returns the message's note (:func:`positions_note`; ``""``: none). ``read``: the file read (worker).
        """
        params, file_filter, recursive = read or read_parameter_file(path)
        self.set_params(params)
        if file_filter is not None:  # (``batchseg segment --save-config`` writes them beside the parameters)
            self.files.filters.show(file_filter)
        self.files.recursive.setChecked(recursive or self.files.recursive.isChecked())
        return positions_note(params.positions)

    def run(self) -> bool:
        """Start the batch in a worker thread (once the start-up work is over); whether it starts."""
        if self.running:
            return False
        files = self.files.files()
        params = refuse_or_params(files, self.output.problems, self.params, self.files.problems)
        if isinstance(params, Refusal):
            self.bar.say(params.text, error=True)
            if params.files_tab:
                self.tabs.setCurrentIndex(FILES_TAB)
            return False
        parallel, processes = self.parallel.currentData() or "none", self.processes.value()
        return self._when_ready(lambda: self._start(params, files, parallel, processes))

    def _when_ready(self, start: Callable[[], bool]) -> bool:
        """Start the run now, or once the start-up work is over (see :mod:`._warmup`); its session now."""
        self.session = self.streamer.session = RunSession()
        if self.startup.gate.request(start):
            return start()
        self.bar.say(STARTING)
        self.tabs.setCurrentIndex(RESULTS_TAB)
        self._update_run_state()
        return True

    def _start(self, params: SegmentationParams, files: list[Path], parallel: str, processes: int,
               plan: Plan | None = None) -> bool:
        groups = None
        if plan is None:
            # files with axes (ambiguous files), a channel or frames of their own: one group per set; one
            # axes choice for all (e.g. the only file is ambiguous) is applied by the engine only to files
            # whose own axes are unknown
            by_params = self.files.setup.run_groups(files, params)
            groups, params = (by_params, params) if len(by_params) > 1 else (None, by_params[0][1])
        self._params = params
        self._run_error, self.streamer.pool.not_shown = False, ""
        self._started = time.perf_counter()
        self.bar.say("planning…")
        first = plan.tasks[0].info if plan is not None else self.files.run_info(files[0])
        self.streamer.prepare_run(first, params, plan)
        self.controller.start(files, params, parallel, processes, plan=plan, groups=groups)
        self.tabs.setCurrentIndex(RESULTS_TAB)
        self._update_run_state()
        return True

    def run_layers(self) -> bool:
        """Segment the selected image layers (whole, or the frame on screen) as files; whether it started."""
        if self.running:
            return False
        chosen = self.layers.chosen()
        if not chosen:
            self.bar.say("select image layer(s) in napari's layer list first", error=True)
            return False
        try:
            params = self._base_params.replace(positions=None,  # (a layer is one position: it runs whole)
                                               **self.form.checked_values(), **self.output.values())
            if self.layers.this_frame.isChecked():
                layer, axes = chosen[0]
                t = self.layers.current_frame(layer, axes)
                if t is not None:
                    params = params.replace(start_frame=t, end_frame=t)
            plan = layer_plan(chosen, params)
            self.layers.registered.extend(t.input for t in plan.tasks)
        except (ParameterError, ValueError) as exc:
            self.bar.say(str(exc), error=True)
            return False
        return self._when_ready(lambda: self._start(plan.params, [], "none", 1, plan))

    def cancel(self) -> None:
        """Stop the batch: the compute stops within the current frame, the widget is free at once."""
        if self.startup.gate.cancel():  # it waited for the start-up work: it never started
            self.bar.say("cancelled before it started")
            self._update_run_state()
        elif self.controller.running:
            self.controller.cancel()
            self.cancel_btn.setEnabled(False)
            self.bar.say("cancelling…")

    def _on_error(self, message: str) -> None:
        self._run_error = True
        self.bar.say(f"run stopped by an error: {for_widget(message)}", error=True, run=True)

    def _run_finished(self) -> None:
        self._redraw_now()
        for state in self.session.finish():  # tasks the run never reached
            self.status.show_state(state)
        if self.controller.cancel_event.is_set():
            self.bar.say("cancelled: finished files are complete; nothing partial was written")
        elif not self._run_error:
            skipped = [s.reason for s in self.session.tasks if s.status == "skipped"]
            done = finish_message(self.session.counts(), time.perf_counter() - self._started, skipped)
            self.bar.say("; ".join(filter(None, (done, self.streamer.pool.not_shown))))  # (said before)
        self._update_preview()  # outputs exist now: the Files tab says what the next Run does with them
        self.form.check_weights()  # the run may have downloaded them
        self.streamer.run_finished()
        self._update_run_state()

    @property
    def running(self) -> bool:
        """Whether a batch is in progress (or waits for the start-up work to start)."""
        return self.controller.running or self.startup.gate.queued is not None

    def handle_event(self, ev: Event) -> None:
        """Fold one event of the run into :attr:`session`, then redraw what it changed (GUI thread)."""
        state = self.session.apply(ev)
        if isinstance(ev, (Planned, ModelLoading, ModelLoaded, RunFailed)) or state is None:  # the run
            if isinstance(ev, Planned):
                self.status.reset(self.session)
            if self.session.error is not None:
                self._run_error = True
            failed = self.session.error is not None
            self.bar.say(run_message(self.session), error=failed, run=failed)
            return
        self._dirty_rows[state.key] = state
        self.streamer.live.table_changed()  # (redrawn when the live model says)
        self.streamer.update(state, ev)
        if state.status == "done":
            self.correction.refresh()

    def _redraw_now(self) -> None:
        """Redraw the changed rows and the progress bar at the live model's times, not once per event.

        Each repaint beside napari's canvas composes the whole window (``live.timing.REDRAW_MS``).
        """
        self.streamer.live.redrawn()
        dirty, self._dirty_rows = self._dirty_rows, {}
        for state in dirty.values():
            self.status.show_state(state)
        self.status.update_progress()

    def show_result(self, key: str) -> bool:
        """Show one output's result (from memory while it runs, else from disk)."""
        state = self.session.state(key)
        if state is None:
            return False
        if self.follow.isChecked() and self.running:
            self.follow.setChecked(False)  # the user chose what to look at
        shown = self.streamer.show(state.task, state.status, self._params)
        self.correction.refresh()
        return shown
