"""Review 44: ``io.atomic.replace_all``'s ``keep`` targets (a mask that must never be replaced)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from napari_batchseg.io import atomic
from napari_batchseg.io.atomic import Appeared, atomic_write_text, publish_all, staged


def _no_link(*args: object, **kwargs: object) -> None:
    raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))


@pytest.mark.parametrize("links", [True, False], ids=["hard-links", "no-hard-links"])
def test_a_kept_target_that_appeared_is_never_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       links: bool) -> None:
    """Before, without hard links, the file that appeared was renamed aside (as if it were to be
    replaced), the new mask then took the free name and the one that appeared was deleted with the
    asides: ``segment --existing skip`` lost the mask of a run that ignored the lock."""
    if not links:
        monkeypatch.setattr(atomic.os, "link", _no_link)
        monkeypatch.setattr(atomic, "_link", _no_link)
    with staged() as stage:
        atomic_write_text(tmp_path / "a.log", "new log\n")
        atomic_write_text(tmp_path / "a.tif", "new mask\n")
    (tmp_path / "a.tif").write_text("theirs\n")  # appeared meanwhile
    with pytest.raises(Appeared):
        publish_all(stage, [tmp_path / "a.log", tmp_path / "a.tif"], keep={tmp_path / "a.tif"})
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == {"a.tif": "theirs\n"}
