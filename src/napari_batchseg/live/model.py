"""The live view's policy: what is on screen when (output, layer refreshes, slider, status table).

Qt-free: fed with the run's events and a clock, it hands out plain commands.

Who applies them (the napari scheduler, ``napari_batchseg._napari._stream.LiveScheduler``) asks
:meth:`LiveModel.next_due` when to come back and :meth:`LiveModel.take` what to do then; events that
need the screen at once (an output finished, the run ended) return their commands directly.

The rules (delays in :mod:`.timing`):

* Following the run shows each output as it starts, but switches the layers to another output at most
  once per ``FOLLOW_MS``: an output that starts sooner *waits* (its frames go to its buffers) and is
  shown when its turn comes, or never if a later output starts meanwhile (that one waits instead); the
  run's last output is shown when the run ends. A waiting output that fails keeps waiting. While the
  viewed output is still running (parallel modes), a new one does not take its place.
* Frames of the output on screen are refreshed at most every ``REFRESH_MS``, and only where the frame on
  screen changed. The slider follows the newest frame while it sits on the newest frame, moving at most
  once per ``FOLLOW_MS``; an output shown late moves it to its newest frame ``SWITCH_MOVE_MS`` after the
  switch. When an output is done, the slider ends on its last frame (unless the user took it back).
* Pointing the layers at another output is done in two halves ``SPLIT_MS`` apart.
* The status table and progress bar are redrawn at most every ``REDRAW_MS``; a redraw that falls due
  while a layer refresh is due within ``FOLLOW_MS`` waits for it and goes with it (one composition of
  napari's window instead of two), also when that refresh is put off (a slider move waits for its
  turn), as long as it comes within ``FOLLOW_MS`` of the redraw's due time.
* At most one layer change per call of :meth:`take` (each is its own turn of the event loop).
* Volumes (``z_mode`` 3d/stitch) are frames like any other (a slot is a time point, its layers are
  ``(T, Z, Y, X)``), but each is copied into its buffer off the GUI thread first (:mod:`.volumes`): a
  volume counts as a frame only once stored (:meth:`storing`, :meth:`stored`), and an output is not
  done while any of its volumes is still being stored (:meth:`done_waits`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from .commands import Command, Drop, FinishShow, MoveSlider, Redraw, Refresh, Show
from .timing import FOLLOW_MS, REDRAW_MS, REFRESH_MS, SPLIT_MS, SWITCH_MOVE_MS

#: what :meth:`LiveModel.output_started` decides for a new output
Start = Literal["show", "wait", "skip"]
_NEVER = float("-inf")


def _s(ms: float) -> float:
    return ms / 1000.0


@dataclass
class _Output:
    """What the live view knows of one output of the run: its number of frames and the newest one."""

    n_slots: int
    last: int | None = None


class LiveModel:
    """What is on screen and when, for one widget; see the module's docstring for the rules.

    ``clock``: seconds, monotonic (``time.perf_counter`` by default; tests pass a fake one).
    """

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        #: follow the run: show each output as it starts, and its newest frame
        self.follow = True
        #: the output on screen, and the one waiting for its turn to be
        self.viewed: str | None = None
        self.waiting: str | None = None
        self.running: set[str] = set()
        self._outputs: dict[str, _Output] = {}
        self._switched_at = _NEVER
        self._switch_due: float | None = None
        self._split_due: float | None = None
        self._move: tuple[str, int] | None = None
        self._move_not_before = _NEVER
        self._refresh: dict[str, int | None] = {}
        self._refresh_due: float | None = None
        self._redraw_due: float | None = None
        #: when the pending redraw first fell due (it waits for a layer refresh at most FOLLOW_MS more)
        self._redraw_first_due: float | None = None
        #: volumes being stored into their buffers (off the GUI thread), per output
        self._storing: dict[str, int] = {}
        self.closed = False

    # ------------------------------------------------------------------ state read by the scheduler
    @property
    def switching(self) -> bool:
        """A switch of the layers is half done, or an output waits for its turn."""
        return self._split_due is not None or self.waiting is not None

    @property
    def switched_at(self) -> float | None:
        """The clock time the layers last switched to another output (``None``: none since the reset)."""
        return None if self._switched_at == _NEVER else self._switched_at

    @property
    def move_pending(self) -> tuple[str, int] | None:
        """The slider's next move: ``(output, frame)``; ``None`` when none is pending."""
        return self._move

    def last_frame(self, key: str) -> int | None:
        """The newest frame (slot) of a running output received so far."""
        out = self._outputs.get(key)
        return None if out is None else out.last

    def flush_due(self) -> float | None:
        """When the layers are next refreshed or the slider moved (clock time; ``None``: nothing pending)."""
        if not self._refresh and self._move is None:
            return None
        due = self._refresh_due if self._refresh_due is not None else self.clock()
        if self._move is not None:
            due = max(due, self._move_not_before)
        return due

    def next_due(self) -> float | None:
        """The clock time of the next command (``None``: nothing is pending)."""
        if self.closed:
            return None
        dues = [d for d in (self._split_due, self._switch_due, self.flush_due(), self._redraw_due)
                if d is not None]
        return min(dues) if dues else None

    # ------------------------------------------------------------------ the run
    def run_started(self) -> None:
        """A new run: its first output is shown at once."""
        self.running.clear()
        self._outputs.clear()
        self._switched_at = _NEVER

    def output_started(self, key: str, n_slots: int) -> Start:
        """An output starts: ``"show"`` it now, let it ``"wait"`` for its turn (buffers kept), or ``"skip"``.

        ``n_slots``: the frames its display buffer holds.
        """
        now = self.clock()
        self.running.add(key)
        self._outputs[key] = _Output(max(int(n_slots), 1))
        viewed_busy = self.viewed is not None and self.viewed != key and self.viewed in self.running
        if not (key == self.viewed or (self.follow and not viewed_busy)):
            return "skip"
        wait = self._switched_at + _s(FOLLOW_MS) - now
        if key != self.viewed and wait > _s(1):
            # switched a moment ago (short outputs in a row): shown when due, or not at all when a later
            # output starts meanwhile (it replaces this one; the due time stays)
            self.waiting = key
            if self._switch_due is None:
                self._switch_due = now + wait
            return "wait"
        self._switched_at = now
        return "show"

    def shown(self, key: str, split: bool = False) -> None:
        """The layers now show output ``key`` (a switch, or the user's choice).

        ``split``: the image half of the change comes ``SPLIT_MS`` later (:class:`FinishShow`).
        """
        now = self.clock()
        self.viewed = key
        self.waiting, self._switch_due = None, None  # any output shown replaces one waiting for its turn
        self._split_due = now + _s(SPLIT_MS) if split else None
        self._refresh.clear()
        self._refresh_due = None
        if self._move is not None and self._move[0] != key:
            self._move = None

    def split_more(self) -> None:
        """The second half of the last switch comes in parts: the next one ``SPLIT_MS`` from now."""
        self._split_due = self.clock() + _s(SPLIT_MS)

    def split_done(self) -> None:
        """The second half of the last switch is done (or dropped)."""
        self._split_due = None

    def frame(self, key: str, slot: int, slider: int | None, on_screen: bool) -> None:
        """A frame of output ``key`` is in its buffer at ``slot``.

        ``slider``: the slot of that output at napari's slider (``None``: the layers have no T axis on
        screen); ``on_screen``: its layers exist.
        """
        out = self._outputs.get(key)
        if out is None:
            out = self._outputs[key] = _Output(max(slot + 1, 1))
        if not on_screen:
            out.last = slot
            return
        if self.follow and out.n_slots > 1 and slider is not None:
            # follow only while the slider sits on the newest frame (a move may still be pending)
            at_newest = self._move is not None or out.last is None or slider == out.last
            if at_newest:  # one move per burst (see take), to the newest frame; none when it is there
                self._move = (key, slot) if slider != slot else None
        out.last = slot
        self.refresh(key, slot)

    def refresh(self, key: str, index: int | None = None) -> None:
        """The layers of ``key`` changed at frame ``index`` (``None``: any): refreshed in ``REFRESH_MS``."""
        if self._refresh_due is None:
            self._refresh_due = self.clock() + _s(REFRESH_MS)
        self._refresh[key] = index

    def output_done(self, key: str, slider: int | None, on_screen: bool) -> list[Command]:
        """Output ``key`` is complete: what is pending is done now.

        When following, the slider ends on its last frame (unless more than one frame back).
        """
        self.running.discard(key)
        out = self._outputs.get(key)
        if (self.follow and on_screen and out is not None and out.last is not None and out.n_slots > 1
                and slider is not None and out.last - 1 <= slider < out.last):
            self._move = (key, out.last)
        return self._flush(force=True)

    def output_ended(self, key: str) -> list[Command]:
        """Output ``key`` failed or was cancelled (one waiting for its turn keeps waiting)."""
        self.running.discard(key)
        return self._flush(force=False)

    def run_finished(self) -> list[Command]:
        """The run is over: an output that waited for its turn is shown now.

        The next run's first output will be shown at once. The pending refresh and move are done by
        :meth:`settle`.
        """
        self.running.clear()
        self._switched_at = _NEVER
        cmds: list[Command] = []
        if self.waiting is not None:
            cmds.append(self._late_switch())
        return cmds

    def settle(self) -> list[Command]:
        """Do the pending refresh or slider move now (the run ended)."""
        return self._flush(force=True)

    def _late_switch(self) -> Command:
        key, self.waiting, self._switch_due = self.waiting, None, None
        assert key is not None
        if not self.follow or self.closed:  # the user chose what to look at meanwhile
            return Drop(key)
        return Show(key, late=True)

    def shown_late(self, key: str) -> None:
        """The output that waited is on screen: the slider moves to its newest frame a moment later."""
        now = self.clock()
        self._switched_at = now
        self.refresh(key, None)
        out = self._outputs.get(key)
        if out is not None and out.last is not None and out.n_slots > 1:
            self._move = (key, out.last)
            self._move_not_before = now + _s(SWITCH_MOVE_MS)

    # ------------------------------------------------------------------ volumes stored off the GUI thread
    def storing(self, key: str) -> None:
        """A volume of output ``key`` is being stored into its buffer (a :meth:`frame` once stored)."""
        self._storing[key] = self._storing.get(key, 0) + 1

    def stored(self, key: str) -> bool:
        """One volume of ``key`` is stored (or dropped); whether none of its volumes is left to store."""
        left = self._storing.get(key, 0) - 1
        if left > 0:
            self._storing[key] = left
            return False
        self._storing.pop(key, None)
        return True

    def done_waits(self, key: str) -> bool:
        """Whether the end of output ``key`` waits (volumes of it are still being stored)."""
        return self._storing.get(key, 0) > 0

    @property
    def storing_any(self) -> bool:
        """Some volume is still being stored."""
        return bool(self._storing)

    # ------------------------------------------------------------------ the table
    def table_changed(self) -> None:
        """A row of the status table (or the progress) changed: redrawn within ``REDRAW_MS``."""
        if self._redraw_due is None:
            self._redraw_due = self._redraw_first_due = self.clock() + _s(REDRAW_MS)

    def redrawn(self) -> None:
        """The table was redrawn (now, outside the schedule)."""
        self._redraw_due = self._redraw_first_due = None

    def close(self) -> None:
        """Nothing more is shown (the widget closes)."""
        self.closed = True
        self._storing.clear()
        self.waiting = self._switch_due = self._split_due = self._move = None
        self.redrawn()
        self._refresh.clear()
        self._refresh_due = None

    # ------------------------------------------------------------------ commands
    def take(self) -> list[Command]:
        """What is due now: at most one layer change (one per turn of the event loop).

        The table's redraw comes with a layer change when it is due then.
        """
        if self.closed:
            return []
        now = self.clock()
        if self._split_due is not None and self._split_due <= now:
            self._split_due = None
            return [FinishShow()]
        if self._switch_due is not None and self._switch_due <= now:
            self._switch_due = None
            if self.waiting is not None:
                return [self._late_switch()]
        due = self.flush_due()
        if due is not None and due <= now:
            return self._flush(force=True)
        if self._redraw_due is not None and self._redraw_due <= now:
            first = self._redraw_first_due if self._redraw_first_due is not None else now
            if due is not None and due - first <= _s(FOLLOW_MS):
                # the layers are refreshed soon: redraw with them (that refresh takes the redraw along);
                # half a REDRAW_MS after it at the latest, should it be dropped
                self._redraw_due = due + _s(REDRAW_MS / 2)
            else:
                self.redrawn()
                return [Redraw()]
        return []

    def _flush(self, force: bool) -> list[Command]:
        """The pending slider move, else the pending refreshes; a due redraw goes with them.

        Without ``force`` a move within ``FOLLOW_MS`` of the last one waits (and the refreshes with it).
        """
        now = self.clock()
        if self._move is not None and not force and self._move_not_before - now > _s(1):
            return []
        cmds: list[Command] = []
        if self._move is not None:
            key, index = self._move
            self._move = None
            self._move_not_before = now + _s(FOLLOW_MS)
            cmds.append(MoveSlider(key, index))  # re-slices every layer: refreshes them all
        elif self._refresh:
            cmds.append(Refresh(tuple(self._refresh.items())))
        self._refresh.clear()
        self._refresh_due = None
        if cmds and self._redraw_due is not None:
            self.redrawn()
            cmds.append(Redraw())
        return cmds
