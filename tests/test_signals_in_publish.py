"""A signal while a group of outputs is renamed into place waits until the whole group is there.

``batchseg measure``, ``track`` and ``rethreshold`` turn SIGINT and SIGTERM into an exception wherever
the program is (``cli_stop``). One that came between the renames of a mask's tables (or its tracks,
tracked mask and log) left some new and some old files, the log describing another mask, and the
command said "nothing partial was kept". Here the signal is sent by the process to itself right after
the first rename of a group, as a real one would land there.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.cli_stop import Stopped, signals_stop
from napari_batchseg.io import atomic


def _movie(path: Path) -> Path:
    labels = np.zeros((3, 32, 32), np.uint16)
    for t in range(3):
        labels[t, 4 + t:12 + t, 4:12] = 1
        labels[t, 20:28, 18 + t:26 + t] = 2
    tifffile.imwrite(path, labels, metadata={"axes": "TYX"})
    return path


@pytest.fixture
def signal_after_first_rename(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """``io.atomic._replace`` that sends SIGTERM to this process after its first rename; the renamed."""
    renamed: list[Path] = []
    replace = atomic._replace

    def replace_then_signal(src: os.PathLike[str], dst: os.PathLike[str]) -> None:
        replace(src, dst)
        renamed.append(Path(dst))
        if len(renamed) == 1:
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(atomic, "_replace", replace_then_signal)
    return renamed


def _old(*paths: Path) -> None:
    for p in paths:
        p.write_text("an earlier output\n")


def test_tracks_tracked_mask_and_log_are_replaced_together(tmp_path: Path,
                                                          signal_after_first_rename: list[Path]) -> None:
    from napari_batchseg.tracking.files import track_file, track_paths

    mask = _movie(tmp_path / "m.tif")
    outputs = track_paths(mask, None)
    _old(*outputs)
    with pytest.raises(Stopped), signals_stop():
        track_file(mask, overwrite=True, force_labels=True, axes="TYX")
    assert signal_after_first_rename == list(outputs)  # all three, then the signal
    assert [p.read_text(errors="replace") != "an earlier output\n" for p in outputs] == [True] * 3
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["m.tif", *(p.name for p in outputs)])


def test_measure_tables_are_replaced_together(tmp_path: Path, signal_after_first_rename: list[Path]) -> None:
    from napari_batchseg.measure import measure_file, measurement_paths

    mask = _movie(tmp_path / "m.tif")
    image = tmp_path / "image.tif"
    tifffile.imwrite(image, np.random.default_rng(0).integers(0, 1000, (3, 32, 32), dtype=np.uint16),
                     metadata={"axes": "TYX"})
    objects, summary = measurement_paths(mask)
    _old(objects, summary)
    with pytest.raises(Stopped), signals_stop():
        measure_file(mask, overwrite=True, force_labels=True, axes="TYX", image=image)
    assert signal_after_first_rename == [summary, objects]  # the objects table last: it marks done
    assert "an earlier output" not in summary.read_text() + objects.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["image.tif", "m.tif", objects.name,
                                                                 summary.name])


def test_an_exports_files_are_moved_into_place_together(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A Cellpose-format export's files move from their hidden folder one by one: a signal after the
    first waits for the others (before, the ones moved were taken back: an --overwrite lost the old)."""
    from napari_batchseg.export import _common

    folder = tmp_path / "out"
    folder.mkdir()
    moved: list[str] = []
    replace = atomic._replace

    def replace_then_signal(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        replace(src, dst)
        moved.append(Path(dst).name)
        if len(moved) == 1:
            os.kill(os.getpid(), signal.SIGTERM)  # (SIGINT: ignored in a background job, as CI runs)

    with pytest.raises(Stopped), signals_stop():
        with _common.staged_files(folder, "x") as (hidden, written):
            for name in ("a_img.tif", "a_masks.tif", "b_img.tif"):
                (hidden / name).write_text(name)
            monkeypatch.setattr(atomic, "_replace", replace_then_signal)
    monkeypatch.undo()
    assert moved == ["a_img.tif", "a_masks.tif", "b_img.tif"]
    assert sorted(p.name for p in folder.iterdir()) == moved and len(written) == 3


def _signal_before(monkeypatch: pytest.MonkeyPatch, module: object, name: str = "publish_all") -> None:
    """``module.<name>`` (publish_all or signals_held) with SIGTERM sent just before it begins: the
    signal lands between the end of the writes and the renames."""
    real = getattr(module, name)

    def signal_first(*args: object, **kwargs: object) -> object:
        os.kill(os.getpid(), signal.SIGTERM)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, signal_first)


def _volume(folder: Path) -> tuple[Path, Path]:
    labels = np.zeros((2, 4, 16, 16), np.uint16)
    labels[:, 1:3, 4:8, 4:8] = 1
    tifffile.imwrite(folder / "vol.ome.tif", labels, metadata={"axes": "TZYX"})
    image = np.ones((2, 4, 16, 16), np.uint16)
    tifffile.imwrite(folder / "img.ome.tif", image, metadata={"axes": "TZYX"})
    return folder / "vol.ome.tif", folder / "img.ome.tif"


@pytest.mark.parametrize("what", ["measure", "measure 3D", "track"])
def test_a_stop_before_the_renames_leaves_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            what: str) -> None:
    """Before, the signal came after ``with staged()`` had ended: its temporary files stayed, hidden."""
    from napari_batchseg import measure, measure_3d
    from napari_batchseg.tracking import files

    if what == "measure 3D":
        mask, image = _volume(tmp_path)
        _signal_before(monkeypatch, measure_3d)
        run = lambda: measure.measure_file(mask, image=image, force_labels=True)  # noqa: E731
    elif what == "measure":
        mask, image = _movie(tmp_path / "m.tif"), tmp_path / "image.tif"
        tifffile.imwrite(image, np.ones((3, 32, 32), np.uint16), metadata={"axes": "TYX"})
        _signal_before(monkeypatch, measure)
        run = lambda: measure.measure_file(mask, force_labels=True, axes="TYX", image=image)  # noqa: E731
    else:
        mask = _movie(tmp_path / "m.tif")
        _signal_before(monkeypatch, files)
        run = lambda: files.track_file(mask, force_labels=True, axes="TYX")  # noqa: E731
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(Stopped), signals_stop():
        run()
    assert sorted(p.name for p in tmp_path.iterdir()) == before
