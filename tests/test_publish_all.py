"""``io.atomic.publish_all`` puts a group of outputs in place whole, or leaves them all as they were.

Before, a rename that failed part-way (no permission, a full disk, a folder in the way) left the targets
renamed before it new and the others old (a mask's summary table beside the objects table of an
earlier run), and ``batchseg track`` said "FAILED (nothing written)" though its tracks CSV was replaced.
Faults are injected in ``io.atomic._replace``, the rename of a commit.
"""

from __future__ import annotations

import errno
import os
import signal
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.cli_stop import Stopped
from napari_batchseg.errors import OutputError
from napari_batchseg.io import atomic
from napari_batchseg.io.atomic import atomic_write_text, publish_all, staged


def _fail_at(monkeypatch: pytest.MonkeyPatch, name: str, fault: Callable[[], None],
             after: bool = False) -> None:
    """``fault()`` at the rename onto the file called ``name``: before it, or (``after``) once it is done."""
    real = atomic._replace

    def replace(src: os.PathLike[str], dst: os.PathLike[str]) -> None:
        if Path(dst).name != name:
            return real(src, dst)
        if after:
            real(src, dst)
        fault()

    monkeypatch.setattr(atomic, "_replace", replace)


def _eperm() -> None:
    raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))


def _stop() -> None:
    raise Stopped(signal.SIGTERM)


def _group(folder: Path, names: tuple[str, ...], text: str) -> None:
    with staged() as stage:
        for name in names:
            atomic_write_text(folder / name, f"{text} {name}\n")
        publish_all(stage, [folder / name for name in names])


def _contents(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.iterdir())}


NAMES = ("a.csv", "b.csv", "c.log")


def test_all_in_place_and_nothing_else_left(tmp_path: Path) -> None:
    _group(tmp_path, NAMES, "old")
    _group(tmp_path, NAMES, "new")
    assert _contents(tmp_path) == {n: f"new {n}\n" for n in NAMES}


@pytest.mark.parametrize(("failing", "fault", "links"), [
    ("b.csv", _eperm, True), ("c.log", _eperm, True), ("c.log", _eperm, False), ("b.csv", _stop, True),
], ids=["second", "last", "no-hard-links", "stop"])
def test_a_failed_rename_puts_back_those_renamed_before_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          failing: str, fault: Callable[[], None],
                                                          links: bool) -> None:
    """(A real signal waits: ``signals_held``; an interruption raised inside a rename is undone too.)"""
    _group(tmp_path, NAMES, "old")
    if not links:  # (the earlier files are then renamed aside)
        monkeypatch.setattr(atomic.os, "link", lambda *a, **k: _eperm())
    _fail_at(monkeypatch, failing, fault)
    with pytest.raises(OutputError if fault is _eperm else Stopped) as err:
        _group(tmp_path, NAMES, "new")
    assert _contents(tmp_path) == {n: f"old {n}\n" for n in NAMES}  # and no hidden file left
    if fault is _eperm:
        assert str(tmp_path / failing) in str(err.value) and os.strerror(errno.EPERM) in str(err.value)


def test_a_target_that_was_not_there_is_removed_again(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "b.csv").write_text("old b.csv\n")
    _fail_at(monkeypatch, "c.log", _eperm)
    with pytest.raises(OutputError):
        _group(tmp_path, NAMES, "new")
    assert _contents(tmp_path) == {"b.csv": "old b.csv\n"}


def test_a_folder_in_the_way_fails_the_group(tmp_path: Path) -> None:
    _group(tmp_path, NAMES[:2], "old")
    (tmp_path / "c.log").mkdir()
    with pytest.raises(OutputError, match="c.log"):
        _group(tmp_path, NAMES, "new")
    assert (tmp_path / "c.log").is_dir()
    assert {n: (tmp_path / n).read_text() for n in NAMES[:2]} == {n: f"old {n}\n" for n in NAMES[:2]}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(NAMES)


def test_an_interruption_once_all_are_in_place_keeps_them(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    _group(tmp_path, NAMES, "old")
    _fail_at(monkeypatch, "c.log", _stop, after=True)
    with pytest.raises(Stopped):
        _group(tmp_path, NAMES, "new")
    assert _contents(tmp_path) == {n: f"new {n}\n" for n in NAMES}


def test_track_says_its_outputs_were_left_as_they_were(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """``batchseg track``: the tracked mask's rename fails; the tracks CSV it had replaced is put back."""
    from napari_batchseg.cli_track import track_masks_cli
    from napari_batchseg.tracking.files import track_paths

    labels = np.zeros((3, 32, 32), np.uint16)
    for t in range(3):
        labels[t, 4 + t:12 + t, 4:12] = 1
    mask = tmp_path / "m.tif"
    tifffile.imwrite(mask, labels, metadata={"axes": "TYX"})
    outputs = track_paths(mask, None)
    for p in outputs:
        p.write_text("an earlier output\n")
    _fail_at(monkeypatch, outputs[1].name, _eperm)
    errors: list[str] = []
    status = track_masks_cli([mask], None, report=lambda s: None, error=errors.append, overwrite=True,
                             axes="TYX", force_labels=True)
    assert status == 1 and len(errors) == 1
    assert [p.read_text() for p in outputs] == ["an earlier output\n"] * 3
    assert str(outputs[1]) in errors[0] and os.strerror(errno.EPERM) in errors[0]
    assert "put back" in errors[0] and "nothing written" not in errors[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["m.tif", *(p.name for p in outputs)])


def _no_link(errnum: int) -> Callable[..., None]:
    def link(*args: object, **kwargs: object) -> None:
        raise OSError(errnum, os.strerror(errnum))

    return link


@pytest.mark.parametrize("errnum", [errno.ENOSYS, errno.EPERM])  # ENOSYS: FUSE (gcsfuse, sshfs, rclone)
def test_a_file_system_without_hard_links_still_takes_a_rerun(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              errnum: int) -> None:
    """Before, an ENOSYS link error failed every rerun over existing outputs (not in the no-links list)."""
    _group(tmp_path, NAMES, "old")
    monkeypatch.setattr(atomic.os, "link", _no_link(errnum))
    monkeypatch.setattr(atomic, "_link", _no_link(errnum))
    _group(tmp_path, NAMES, "new")
    assert _contents(tmp_path) == {n: f"new {n}\n" for n in NAMES}
    with staged() as stage:  # a no-replace publish: a new name is taken, an existing one is not replaced
        atomic_write_text(tmp_path / "d.csv", "d\n")
        atomic_write_text(tmp_path / "a.csv", "other\n")
    assert atomic.publish(stage.files.pop(tmp_path / "d.csv"), tmp_path / "d.csv", replace=False)
    assert not atomic.publish(stage.files.pop(tmp_path / "a.csv"), tmp_path / "a.csv", replace=False)
    assert _contents(tmp_path) == {**{n: f"new {n}\n" for n in NAMES}, "d.csv": "d\n"}


def test_an_earlier_file_that_cannot_be_removed_is_said(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Before, the hidden second name of a replaced file that could not be removed stayed unsaid."""
    _group(tmp_path, NAMES, "old")
    real = os.unlink

    def unlink(path: str | os.PathLike[str], *args: object, **kwargs: object) -> None:
        if atomic.ASIDE_MARK in Path(path).name and Path(path).name.startswith(".b.csv"):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        real(path)

    monkeypatch.setattr(atomic.os, "unlink", unlink)
    with pytest.warns(RuntimeWarning, match=r"b\.csv.*could not be removed.*batchseg clean"):
        _group(tmp_path, NAMES, "new")
    monkeypatch.undo()
    assert {n: (tmp_path / n).read_text() for n in NAMES} == {n: f"new {n}\n" for n in NAMES}
