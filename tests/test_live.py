"""The live view's policy (``napari_batchseg.live``), with a fake clock: no Qt, no napari."""

from __future__ import annotations

import pytest

from napari_batchseg.live import (
    Drop,
    FinishShow,
    LiveModel,
    MoveSlider,
    Redraw,
    Refresh,
    Show,
)
from napari_batchseg.live.timing import (
    FOLLOW_MS,
    REDRAW_MS,
    REFRESH_MS,
    SPLIT_MS,
    SWITCH_MOVE_MS,
)

FOLLOW, REFRESH, REDRAW, SPLIT, SWITCH_MOVE = (ms / 1000 for ms in (FOLLOW_MS, REFRESH_MS, REDRAW_MS,
                                                                    SPLIT_MS, SWITCH_MOVE_MS))


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class Screen:
    """A stand-in for the napari scheduler: applies the model's commands the way the widget does and
    records them with their clock time. ``slider``: the slot at napari's slider per output."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.model = LiveModel(self.clock)
        self.log: list[tuple[float, object]] = []
        self.slider: dict[str, int] = {}

    def apply(self, cmds) -> None:
        for cmd in cmds:
            self.log.append((self.clock.t, cmd))
            if isinstance(cmd, Show):
                self.model.shown(cmd.key, split=True)
                if cmd.late:
                    self.model.shown_late(cmd.key)
            elif isinstance(cmd, FinishShow):
                self.model.split_done()
            elif isinstance(cmd, MoveSlider):
                self.slider[cmd.key] = cmd.index

    def until(self, t: float) -> None:
        """Run the schedule up to clock time ``t`` (every command at its due time)."""
        while True:
            due = self.model.next_due()
            if due is None or due > t:
                break
            self.clock.t = max(self.clock.t, due)
            self.apply(self.model.take())
        self.clock.t = max(self.clock.t, t)

    def start(self, key: str, n: int = 1) -> str:
        decision = self.model.output_started(key, n)
        if decision == "show":
            self.apply([Show(key)])
        return decision

    def done(self, key: str) -> None:
        on_screen = self.model.viewed == key
        self.apply(self.model.output_done(key, self.slider.get(key, 0) if on_screen else None, on_screen))

    def frame(self, key: str, slot: int) -> None:
        on_screen = self.model.viewed == key
        self.model.frame(key, slot, self.slider.get(key, 0) if on_screen else None, on_screen)

    def of(self, kind):
        return [(t, c) for t, c in self.log if isinstance(c, kind)]


def test_first_output_is_shown_at_once_and_the_next_waits_for_its_turn():
    s = Screen()
    s.model.run_started()
    assert s.start("a") == "show"
    s.until(s.clock.t + 0.3)
    s.done("a")
    assert s.start("b") == "wait"  # 0.3 s after the switch to a
    assert s.model.waiting == "b" and s.model.viewed == "a" and s.model.switching
    t_b = s.clock.t
    s.until(t_b + 0.69)
    assert s.model.viewed == "a"
    s.until(t_b + 0.71)  # a FOLLOW_MS after the switch to a
    assert s.model.viewed == "b"
    (t, show), = [(t, c) for t, c in s.of(Show) if c.key == "b"]
    assert show.late and t == pytest.approx(t_b - 0.3 + FOLLOW)


def test_an_output_overtaken_while_waiting_is_never_shown():
    s = Screen()
    s.model.run_started()
    s.start("a")
    s.until(s.clock.t + 0.2)
    s.done("a")
    s.start("b")
    s.until(s.clock.t + 0.2)
    s.done("b")
    assert s.start("c") == "wait"  # b finished unseen; c waits instead, due when b was
    s.until(s.clock.t + 2)
    assert [c.key for _, c in s.of(Show)] == ["a", "c"]


@pytest.mark.parametrize("fails", [False, True])
def test_a_plate_of_short_outputs_switches_at_most_once_per_follow_period(fails):
    """Outputs of 0.15 s in a row (a plate of single images on a GPU), succeeding or failing."""
    s = Screen()
    s.model.run_started()
    keys = [f"well{i}" for i in range(24)]
    for key in keys:
        s.start(key)
        s.until(s.clock.t + 0.1)
        if fails:
            s.apply(s.model.output_ended(key))  # a waiting output that fails keeps waiting
        else:
            s.frame(key, 0)
            s.apply(s.model.output_done(key, 0, s.model.viewed == key))
        s.until(s.clock.t + 0.05)
    s.apply(s.model.run_finished())
    s.apply(s.model.settle())
    shows = s.of(Show)
    times = [t for t, _ in shows]
    during = times[:-1]  # the last one: when the run ended
    assert all(b - a >= FOLLOW - 1e-9 for a, b in zip(during, during[1:], strict=False)), times
    assert len(shows) <= 24 * 0.15 / FOLLOW + 2
    assert shows[-1][1].key == keys[-1] and s.model.viewed == keys[-1]  # the last one, when the run ends


def test_a_waiting_output_is_dropped_when_following_was_turned_off():
    s = Screen()
    s.model.run_started()
    s.start("a")
    s.until(s.clock.t + 0.1)
    s.done("a")
    s.start("b")
    s.model.follow = False
    s.until(s.clock.t + 2)
    assert [c for _, c in s.log if isinstance(c, (Show, Drop))] == [Show("a"), Drop("b")]
    assert s.model.viewed == "a" and not s.model.switching


def test_a_new_output_does_not_take_the_place_of_one_still_running():
    s = Screen()
    s.model.run_started()
    s.start("a")
    s.until(s.clock.t + 2)
    assert s.start("b") == "skip"  # parallel modes: a still runs
    s.apply(s.model.output_done("a", None, True))
    assert s.start("c") == "show"


def test_frames_are_refreshed_together_and_the_slider_moves_at_most_once_per_follow_period():
    s = Screen()
    s.model.run_started()
    s.start("movie", 40)
    s.until(s.clock.t + 0.05)
    t0 = s.clock.t
    for i in range(40):  # a frame every 50 ms for 2 s
        s.frame("movie", i)
        s.until(s.clock.t + 0.05)
    moves = s.of(MoveSlider)
    gaps = [b - a for (a, _), (b, _) in zip(moves, moves[1:], strict=False)]
    assert len(moves) >= 2 and all(g >= FOLLOW - 1e-9 for g in gaps), gaps
    assert len(moves) <= 2 / FOLLOW + 1
    refreshes = [t for t, _ in s.of(Refresh) if t >= t0]
    assert all(b - a >= REFRESH - 1e-9 for a, b in zip(refreshes, refreshes[1:], strict=False))
    # when the output is done, the slider ends on its last frame at once
    s.apply(s.model.output_done("movie", s.slider["movie"], True))
    assert s.log[-1][1] == MoveSlider("movie", 39) or s.slider["movie"] == 39


def test_a_pending_move_aims_at_the_newest_frame_even_where_the_slider_already_is():
    """The slider sits on frame 1 (napari's middle of the range) when frames 0, 1, 2 arrive in a burst:
    the pending move must not take it back to frame 0 once frame 1 is in."""
    s = Screen()
    s.model.run_started()
    s.start("movie", 3)
    s.slider["movie"] = 1
    s.frame("movie", 0)  # the newest frame is 0: a move back to it is pending
    assert s.model.move_pending == ("movie", 0)
    s.frame("movie", 1)  # the slider is on the newest frame already: no move back to 0
    assert s.model.move_pending is None
    s.until(s.clock.t + 2)
    assert s.slider["movie"] == 1
    s.frame("movie", 2)
    s.apply(s.model.output_done("movie", s.slider["movie"], True))
    assert s.slider["movie"] == 2


def test_the_slider_is_left_where_the_user_took_it():
    s = Screen()
    s.model.run_started()
    s.start("movie", 10)
    for i in range(4):
        s.frame("movie", i)
        s.until(s.clock.t + 1.1)
    assert s.slider["movie"] == 3
    s.slider["movie"] = 0  # the user goes back to frame 0
    for i in range(4, 9):
        s.frame("movie", i)
        s.until(s.clock.t + 1.1)
    assert s.slider["movie"] == 0
    s.apply(s.model.output_done("movie", 0, True))  # more than one frame back: left alone
    assert s.slider["movie"] == 0


def test_an_output_shown_late_moves_the_slider_to_its_newest_frame_shortly_after():
    s = Screen()
    s.model.run_started()
    s.start("still")
    s.until(s.clock.t + 0.1)
    s.apply(s.model.output_done("still", None, True))
    assert s.start("movie", 30) == "wait"
    for i in range(25):  # its frames arrive while it waits (kept in its buffers), then shown
        s.frame("movie", i)
        s.until(s.clock.t + 0.06)
    (t_show, _), = [(t, c) for t, c in s.of(Show) if c.key == "movie"]
    (t_move, move), = s.of(MoveSlider)
    assert move.key == "movie" and move.index >= 10
    assert t_move - t_show == pytest.approx(SWITCH_MOVE, abs=0.07)  # not a FOLLOW_MS later, not at once


def test_the_table_is_redrawn_with_the_layers():
    s = Screen()
    s.model.run_started()
    s.start("movie", 100)
    s.until(s.clock.t + 1.5)
    for i in range(60):  # a frame every 50 ms; every frame changes a row of the table
        s.model.table_changed()
        s.frame("movie", i)
        s.until(s.clock.t + 0.05)
    redraws = s.of(Redraw)
    assert len(redraws) >= 3
    for t, cmd in redraws:  # each in the same take as a layer change, right after it
        i = next(j for j, (tt, c) in enumerate(s.log) if c is cmd and tt == t)
        assert isinstance(s.log[i - 1][1], (Refresh, MoveSlider)) and s.log[i - 1][0] == t
    assert all(b - a <= REDRAW + FOLLOW for (a, _), (b, _) in zip(redraws, redraws[1:], strict=False))


def test_a_redraw_waits_for_a_refresh_put_off_by_a_slider_move():
    """The refresh the redraw waits for is put off by a slider move waiting for its turn: the redraw goes
    with the move (one composition), not on its own just before it."""
    s = Screen()
    s.model.run_started()
    s.start("movie", 50)
    s.frame("movie", 0)
    s.until(s.clock.t + 0.1)
    s.frame("movie", 1)  # the slider moves to frame 1 now: the next move only a FOLLOW_MS later
    s.until(s.clock.t + 0.1)
    t_moved = s.of(MoveSlider)[-1][0]
    t_changed = s.clock.t
    assert t_changed - t_moved < FOLLOW - REDRAW - REDRAW / 2  # the move comes after the old fallback
    s.model.table_changed()
    s.until(t_changed + REDRAW - 0.01)
    s.model.refresh("movie")  # a refresh due in REFRESH_MS (e.g. after the image half of a switch)
    s.until(t_changed + REDRAW + 0.001)  # the redraw is due: it waits for that refresh...
    s.frame("movie", 2)  # ...which becomes a move, put off to t_moved + FOLLOW
    s.until(t_moved + FOLLOW + 0.1)
    (t_redraw, redraw), = s.of(Redraw)
    i = next(j for j, (_, c) in enumerate(s.log) if c is redraw)
    assert t_redraw == pytest.approx(t_moved + FOLLOW) and isinstance(s.log[i - 1][1], MoveSlider)


def test_a_redraw_that_waited_for_a_refresh_which_drew_nothing_still_comes():
    s = Screen()
    s.model.run_started()
    s.start("a", 5)
    s.until(s.clock.t + 2)
    t0 = s.clock.t
    s.model.table_changed()
    s.until(t0 + REDRAW + 0.001)  # nothing to refresh: redrawn on its own
    assert [t for t, _ in s.of(Redraw)] == [pytest.approx(t0 + REDRAW)]


def test_the_run_end_shows_the_output_that_waited():
    s = Screen()
    s.model.run_started()
    s.start("a")
    s.until(s.clock.t + 0.2)
    s.done("a")
    s.start("b", 3)
    s.frame("b", 0)
    s.apply(s.model.output_done("b", None, False))
    s.apply(s.model.run_finished())
    assert s.model.viewed == "b" and s.log[-1][1] == Show("b", late=True)
    s.apply(s.model.settle())
    s.model.run_started()  # the next run's first output is shown at once
    assert s.start("c") == "show"


def test_a_switch_is_done_in_two_halves_and_one_layer_change_per_turn():
    s = Screen()
    s.model.run_started()
    s.start("a", 5)
    assert s.model.switching  # the image half is due
    s.model.table_changed()
    s.frame("a", 0)
    s.until(s.clock.t + 0.001)
    t = s.clock.t
    assert s.model.take() == []
    s.until(t + SPLIT)
    assert isinstance(s.log[-1][1], FinishShow) and not s.model.switching
    s.until(t + 1)
    takes = {}
    for when, cmd in s.log:
        if not isinstance(cmd, Redraw):
            takes[when] = takes.get(when, 0) + 1
    assert max(takes.values()) == 1


def test_nothing_is_due_after_close():
    s = Screen()
    s.model.run_started()
    s.start("a", 4)
    s.frame("a", 1)
    s.model.table_changed()
    s.model.close()
    assert s.model.next_due() is None and s.model.take() == []


# ------------------------------------------------------------------ volumes (z_mode 3d / stitch)
def test_a_volume_is_shown_once_stored_and_the_output_ends_after_its_last_one():
    """Volumes are a volume run's frames: each is shown (refreshed, the slider following T) only once a
    worker stored it into its buffer, and the output's end waits until none is left to store."""
    s = Screen()
    s.model.run_started()
    s.start("stack", 3)
    s.until(s.clock.t + 2)
    def changes() -> int:
        return len(s.of(Refresh)) + len(s.of(MoveSlider))

    for t in range(3):
        n_before = changes()
        s.model.storing("stack")
        assert s.model.done_waits("stack") and s.model.storing_any
        s.until(s.clock.t + 1.5)  # being stored: nothing refreshed yet
        assert changes() == n_before
        assert s.model.stored("stack")  # the last one under way
        s.frame("stack", t)
        s.until(s.clock.t + REFRESH + 0.001)
        assert len(s.of(Refresh)) + len(s.of(MoveSlider)) == n_before + 1, s.log
    assert s.slider["stack"] == 2 or s.model.move_pending == ("stack", 2)
    # two volumes under way when the output ends: it waits for both
    s.model.storing("stack")
    s.model.storing("stack")
    assert not s.model.stored("stack") and s.model.done_waits("stack")
    assert s.model.stored("stack") and not s.model.done_waits("stack") and not s.model.storing_any


def test_a_volume_output_keeps_its_movie_or_only_its_latest_volume():
    from napari_batchseg.live.volumes import BYTES_PER_VOXEL, volume_shape

    whole = 3 * 5 * 40 * 40 * BYTES_PER_VOXEL
    assert volume_shape(3, 5, (40, 40), whole) == ((3, 5, 40, 40), False)
    assert volume_shape(3, 5, (40, 40), whole - 1) == ((1, 5, 40, 40), True)
    assert volume_shape(1, 5, (40, 40), 1) == ((1, 5, 40, 40), False)  # one volume: it is the latest


def test_volume_slices_of_a_volume_run_only():
    from pathlib import Path

    import numpy as np

    from napari_batchseg.io.sources import SourceInfo
    from napari_batchseg.live.volumes import volume_slices
    from napari_batchseg.params import SegmentationParams

    info = SourceInfo(Path("stack.tif"), {"P": 1, "T": 2, "C": 1, "Z": 11, "Y": 40, "X": 40},
                      np.dtype(np.uint16), ["C0"])
    assert volume_slices(info, SegmentationParams()) is None  # project: 2D frames
    assert volume_slices(info, SegmentationParams(z_mode="3d")) == 11
    assert volume_slices(info, SegmentationParams(z_mode="stitch", z_range="3-7")) == 5
    assert volume_slices(info, SegmentationParams(z_mode="3d", z_range="3-20")) is None
    assert volume_slices(None, SegmentationParams(z_mode="3d")) is None


def test_store_volume_fills_its_slot_and_widens_labels_above_uint16():
    import numpy as np

    from napari_batchseg.live.volumes import store_volume
    from napari_batchseg.results import quick_range

    rng = np.random.default_rng(0)
    labels_buf = np.zeros((2, 3, 8, 8), np.uint16)
    image_buf = np.zeros((2, 3, 8, 8), np.float32)
    vol = rng.integers(0, 500, (3, 8, 8)).astype(np.int32)
    img = rng.random((3, 8, 8)).astype(np.float32)
    out = store_volume(labels_buf, image_buf, 1, vol, img, contrast=True)
    assert out.labels is None and out.contrast == quick_range(img[1])
    np.testing.assert_array_equal(labels_buf[1], vol)
    np.testing.assert_array_equal(image_buf[1], img)
    assert not labels_buf[0].any() and not image_buf[0].any()
    big = vol.copy()
    big[0, 0, 0] = 70000
    out = store_volume(labels_buf, image_buf, 0, big, None)
    assert out.labels is not None and out.labels.dtype == np.uint32 and out.contrast is None
    np.testing.assert_array_equal(out.labels[0], big)
    np.testing.assert_array_equal(out.labels[1], vol)  # what the old buffer held comes along
    assert not labels_buf[0].any()  # the old buffer is left as it was
    with pytest.raises(ValueError, match="does not fit"):
        store_volume(labels_buf, image_buf, 0, vol[:2], None)


def test_a_switch_in_more_parts_gets_one_turn_per_part():
    """Layers added in three parts (a new axis' slider, the image layer, the labels layer): each part
    is its own FinishShow, SPLIT_MS after the one before; the switch is over after the last."""
    model = LiveModel(Clock())
    clock = model.clock
    model.shown("placeholder", split=True)
    t0 = clock.t
    assert model.next_due() == pytest.approx(t0 + SPLIT)
    clock.t = t0 + SPLIT
    assert model.take() == [FinishShow()]
    model.split_more()  # parts are left: the next one a turn later, not at once
    assert model.switching and model.next_due() == pytest.approx(clock.t + SPLIT)
    assert model.take() == []
    clock.t += SPLIT
    assert model.take() == [FinishShow()]
    model.split_done()  # that was the last part
    assert not model.switching and model.next_due() is None
