"""The tracks the "Track cells" dock shows, without Qt: the layers showing them, what of them is saved.

``_napari._track_widget.TrackWidget`` holds one :class:`TrackShown`: the tracking result and its
corrections (an :class:`~napari_batchseg.tracking.edit.EditHistory`), the Labels layer tracked (as last
seen once it is removed: :class:`~.track_form.SourceSeen`), the tracked labels and Tracks layers showing
them, and the corrections in effect at the last save. Tracks replaced by *Track cells*
(:meth:`TrackShown.show`) or forgotten once both layers showing them are removed
(:meth:`TrackShown.layers_gone`) never lose corrections unsaid: the dock's status line names those not
saved (:func:`lost_text`), and the *Track cells* button's tooltip says beforehand that it replaces them
(:meth:`TrackShown.track_tip`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..tracking import TrackResult
from ..tracking.edit import EditHistory
from ..tracking.files import SavedTracks
from .track_form import NOTHING_SEEN, SourceSeen, source_seen

__all__ = ["LOST_REPLACED", "LOST_WITH_THEM", "RESULT_REMOVED", "TRACK_TIP", "TrackShown", "lost_text"]

#: both layers showing the result were removed: the dock forgets it
RESULT_REMOVED = ("The tracked labels and tracks layers were removed: their tracks are forgotten, Save "
                  "tracks is off (Track cells tracks the layer again).")
#: what the result forgotten, or the tracks replaced, lost (``{lost}``: :func:`lost_text`)
LOST_WITH_THEM = " Lost with them: {lost}."
LOST_REPLACED = " The tracks replaced lost {lost}."
#: the *Track cells* button's tooltip
TRACK_TIP = "Track the chosen Labels layer (a reopened tracked layer: read its saved tracks back)"


def lost_text(lost: list[str], shown: int = 3) -> str:
    """The corrections ``lost`` as the status line names them: how many, the first ``shown`` ("": none)."""
    if not lost:
        return ""
    more = f"; and {len(lost) - shown} more" if len(lost) > shown else ""
    return f"{len(lost)} track correction(s) not saved ({'; '.join(lost[:shown])}{more})"


@dataclass
class TrackShown:
    """The tracks the dock shows (``result`` ``None``: none) and the layers showing them."""

    result: TrackResult | None = None
    history: EditHistory | None = None  # the corrections since tracking, undone last first
    source: Any = None  # the Labels layer tracked
    seen: SourceSeen = NOTHING_SEEN  # it when last seen (once it is removed: saves go beside its mask file)
    of_edits: bool = False  # the tracks were made of its corrections not saved then
    tracked: Any = None  # its copy relabelled by track id (reopened tracks: the layer itself)
    tracks: Any = None  # the Tracks layer
    earlier: list[str] = field(default_factory=list)  # saved before the saved tracks were reopened
    saved_in: Path | None = None  # the folder of the reopened tracks (saves go back there)
    saved: list[str] = field(default_factory=list)  # :attr:`records` at the last save
    failed_on: Any = None  # the layer whose tracking failed, as the status line says (cleared with it)

    @property
    def records(self) -> list[str]:
        """The corrections in effect, one line each (the log's ``track correction`` records on save)."""
        return self.history.records if self.history is not None else []

    def unsaved(self) -> list[str]:
        """The corrections in effect that the last save does not hold (``[]``: none)."""
        records, same = self.records, 0
        while same < min(len(records), len(self.saved)) and records[same] == self.saved[same]:
            same += 1
        return records[same:]

    def track_tip(self) -> str:
        """The *Track cells* tooltip: what tracking again drops, when corrections are not saved."""
        lost = lost_text(self.unsaved())
        return f"{TRACK_TIP}; it replaces the tracks shown and their {lost}" if lost else TRACK_TIP

    def source_now(self) -> SourceSeen:
        """The layer tracked, read again (its metadata changes without an event), else as last seen."""
        return self.seen if self.source is None else source_seen(self.source, False, self.of_edits)

    def show(self, layer: Any, result: TrackResult, saved: SavedTracks | None, of_edits: bool) -> str:
        """Show ``result`` of ``layer`` (reopened: ``saved``) in place of the tracks shown.

        Returns what the status line adds: the corrections of the tracks replaced not saved (``""``).
        """
        lost = lost_text(self.unsaved())
        # (only a result shown replaces the reopened tracks' earlier corrections and folder)
        self.earlier, self.saved_in = ([], None) if saved is None else (
            list(saved.corrections), saved.tracks_csv.parent)
        self.result, self.history, self.saved = result, EditHistory(result), []
        self.source, self.of_edits, self.failed_on = layer, of_edits, None
        return LOST_REPLACED.format(lost=lost) if lost else ""

    def failure(self, layer: Any, text: str) -> str:
        """Tracking ``layer`` failed: the status line says ``text`` until ``layer`` is removed."""
        self.failed_on = layer
        return text

    def layers_gone(self, present: Callable[[Any], bool]) -> str | None:
        """Let go of the layers no longer ``present``; what the status line says then (``None``: as it is).

        The layer tracked removed: kept as last seen (its unsaved corrections said). Both layers showing
        the tracks removed: they are forgotten, their corrections not saved named. The layer a failure
        was about removed: the failure is no longer said (``""``).
        """
        gone = [name for name in ("source", "tracked", "tracks", "failed_on")
                if getattr(self, name) is not None and not present(getattr(self, name))]
        said = "" if "failed_on" in gone else None
        if "source" in gone:
            self.seen = source_seen(self.source, removed=True, of_edits=self.of_edits)
            said = self.seen.removal_note() or said  # its unsaved corrections: the tracks no longer match
        for name in gone:
            setattr(self, name, None)
        if gone and self.result is not None and self.tracked is self.tracks is None:  # shown nowhere
            lost = lost_text(self.unsaved())
            said = RESULT_REMOVED + (LOST_WITH_THEM.format(lost=lost) if lost else "")
            self.forget()
        return said

    def forget(self) -> None:
        """Show nothing: let go of the tracks, their corrections and the layers."""
        self.result = self.history = self.source = self.tracked = self.tracks = self.saved_in = None
        self.seen, self.of_edits, self.earlier, self.saved = NOTHING_SEEN, False, [], []
