"""The tracks the "Track cells" dock shows, without Qt (:mod:`napari_batchseg.view.track_shown`)."""

from __future__ import annotations

from types import SimpleNamespace

from napari_batchseg.tracking import track_masks
from napari_batchseg.tracking.edit import split_track
from napari_batchseg.tracking.synthetic import synthetic_movie
from napari_batchseg.view.track_shown import RESULT_REMOVED, TRACK_TIP, TrackShown, lost_text


def _shown():
    """A :class:`TrackShown` of a tracked movie, its three layers, and a whole track to split."""
    movie = synthetic_movie(seed=4)
    result = track_masks(movie.masks, max_distance=movie.max_step + 1)
    spans = result.tracks.groupby("track_id")["frame"].agg(["min", "max"])
    whole = int(spans.index[(spans["min"] == 0) & (spans["max"] == 11)][0])
    source = SimpleNamespace(name="a_vSM", metadata={"batchseg": {"mask_path": "/d/a_vSM.ome.tif"}})
    shown = TrackShown()
    assert shown.show(source, result, None, False) == ""  # nothing replaced
    shown.tracked, shown.tracks = SimpleNamespace(name="a_vSM tracked"), SimpleNamespace(name="a_vSM tracks")
    return shown, whole


def _correct(shown: TrackShown, track: int, frame: int) -> str:
    assert shown.history is not None
    edited = split_track(shown.history.current, track, frame)
    shown.result = shown.history.apply(edited)
    return edited.record


def test_unsaved_corrections_are_those_since_the_last_save() -> None:
    shown, whole = _shown()
    assert shown.unsaved() == [] and shown.track_tip() == TRACK_TIP
    first = _correct(shown, whole, 3)
    assert shown.unsaved() == [first] and first in shown.track_tip()
    shown.saved = shown.records  # saved
    assert shown.unsaved() == [] and shown.track_tip() == TRACK_TIP
    second = _correct(shown, whole, 1)
    assert shown.unsaved() == [second]
    assert shown.history is not None
    shown.history.undo()
    shown.history.undo()  # the saved one undone: the file still holds it, nothing made since is lost
    assert shown.unsaved() == []


def test_forgetting_the_tracks_names_the_corrections_lost() -> None:
    """Known bug: both layers showing the tracks removed, their corrections not saved were forgotten
    unsaid."""
    shown, whole = _shown()
    record = _correct(shown, whole, 3)
    layers = [shown.source, shown.tracks]
    assert shown.layers_gone(lambda lay: lay in layers) is None and shown.result is not None  # one left
    layers.remove(shown.tracks)
    said = shown.layers_gone(lambda lay: lay in layers)
    assert said is not None and said.startswith(RESULT_REMOVED), said
    assert f"Lost with them: 1 track correction(s) not saved ({record})." in said
    assert shown.result is None and shown.records == [] and shown.source is None and not shown.saved


def test_forgetting_saved_tracks_loses_nothing_and_tracking_again_says_what_it_replaced() -> None:
    shown, whole = _shown()
    _correct(shown, whole, 3)
    shown.saved = shown.records
    assert shown.layers_gone(lambda lay: lay is shown.source) == RESULT_REMOVED  # all saved
    shown, whole = _shown()
    record = _correct(shown, whole, 3)
    again = track_masks(synthetic_movie(seed=4).masks, max_distance=20)
    said = shown.show(shown.source, again, None, False)
    assert said == f" The tracks replaced lost 1 track correction(s) not saved ({record})."
    assert shown.records == [] and shown.unsaved() == [] and shown.result is again


def test_lost_text_names_the_first_corrections_and_counts_the_rest() -> None:
    assert lost_text([]) == ""
    assert lost_text(["a", "b", "c", "d", "e"]) == "5 track correction(s) not saved (a; b; c; and 2 more)"
