"""A mask's export is put in place whole, its provenance file last, or not at all (the old one kept).

Two reviews:

* ``export cellpose --overwrite`` where one rename failed (EPERM over another user's file in a sticky
  shared folder) took back the pairs already moved, which had replaced the old ones: the user's old
  pairs were gone, no new ones, and the error was a raw ``OSError`` traceback.
* A stop (SIGTERM) during the moves of a mask's files came once they were all moved, before its
  provenance file was written: pairs (or a ROI zip, an outline folder) without a record, an old record
  beside new pairs (``--overwrite``), and the stop message said nothing partial was kept.

The faults are injected at the rename of one named target (``os.replace``, the real rename otherwise);
masks are tiny synthetic label movies.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import tifffile

from _killed import kill_at_the_rois_rename, rois_export
from napari_batchseg.cli_downstream import main
from napari_batchseg.export import export_record
from napari_batchseg.io import atomic


def _inputs(tmp_path: Path, seed: int) -> tuple[Path, list[str]]:
    """An image (2 frames) and masks ``a.tif``, ``b.tif`` of it; ``seed`` changes the image's pixels."""
    img = tmp_path / "img.tif"
    rng = np.random.default_rng(seed)
    tifffile.imwrite(img, rng.integers(0, 999, (2, 24, 24), dtype=np.uint16), metadata={"axes": "TYX"})
    masks = []
    for k, name in enumerate(("a.tif", "b.tif")):
        lab = np.zeros((2, 24, 24), np.uint16)
        lab[:, 4:12, 4 + k:12 + k] = 1
        tifffile.imwrite(tmp_path / name, lab, metadata={"axes": "TYX"})
        masks.append(str(tmp_path / name))
    return img, masks


def _export(kind: str, img: Path, masks: list[str], out: Path, *more: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = main(["export", kind, *masks, "--output-dir", str(out), "--image", str(img),
                       "--force-labels", "--axes", "TYX", *more])
    return status, err.getvalue()


def _raise(exc: BaseException) -> None:
    raise exc


def _contents(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _of(mask: str, files: dict[str, bytes]) -> dict[str, bytes]:
    return {name: data for name, data in files.items() if name.startswith(f"{mask}_")}


@pytest.mark.parametrize(("name", "links"), [("a_t0001_masks.tif", True),  # 4th of 5
                                           ("a_cellpose.provenance.json", True),  # last
                                           ("a_t0001_masks.tif", False)])  # (earlier files renamed aside)
def test_a_failed_rename_keeps_the_old_export_and_names_the_file(tmp_path: Path, name: str, links: bool,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    img, masks = _inputs(tmp_path, seed=0)
    assert _export("cellpose", img, masks, out) == (0, "")
    old = _contents(out)
    img, masks = _inputs(tmp_path, seed=1)  # new pixels: new pairs differ from the old ones
    locked = out / name  # a's files before it are replaced by then
    real = atomic._replace  # (the rename of every output's commit)

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst) == locked:
            raise PermissionError(errno.EPERM, os.strerror(errno.EPERM), str(src), None, str(dst))
        real(src, dst)

    monkeypatch.setattr(atomic, "_replace", replace)
    if not links:  # a FUSE mount (gcsfuse, sshfs): link() fails with ENOSYS
        monkeypatch.setattr(atomic.os, "link", lambda *a, **k: _raise(OSError(errno.ENOSYS, "no link")))
    status, err = _export("cellpose", img, masks, out, "--overwrite")
    monkeypatch.undo()
    assert status == 1
    assert f"{locked}: {os.strerror(errno.EPERM)}" in err and "a.tif" in err
    new = _contents(out)
    assert _of("a", new) == _of("a", old)
    assert new["b_t0000.tif"] != old["b_t0000.tif"]  # the next mask was exported
    assert json.loads(new["b_cellpose.provenance.json"])["options"]["overwrite"] is True
    assert sorted(new) == sorted(old)  # no hidden file left


def test_a_folder_where_a_file_goes_is_refused_before_anything_moves(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    img, masks = _inputs(tmp_path, seed=0)
    for name in ("a_t0000.tif", "a_t0000_masks.tif", "a_t0001.tif"):
        (out / name).write_text("the user's own file")
    (out / "a_t0001_masks.tif").mkdir()
    (out / "a_t0001_masks.tif" / "x.txt").write_text("kept")
    old = _contents(out)
    status, err = _export("cellpose", img, masks[:1], out, "--overwrite")
    assert status == 1
    assert f"cannot replace {out / 'a_t0001_masks.tif'}: it is a folder, not a file" in err
    assert _contents(out) == old and sorted(p.name for p in out.iterdir()) == sorted(
        ["a_t0000.tif", "a_t0000_masks.tif", "a_t0001.tif", "a_t0001_masks.tif"])


@pytest.mark.parametrize(("kind", "first"), [("cellpose", "a_t0000.tif"), ("rois", "a_rois.zip"),
                                             ("outlines", "a_outlines")])
def test_a_stop_while_a_mask_is_put_in_place_comes_with_its_provenance(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, first: str) -> None:
    out = tmp_path / "out"
    img, masks = _inputs(tmp_path, seed=0)
    assert _export(kind, img, masks, out) == (0, "")
    old = _contents(out)
    real = atomic._replace
    sent: list[str] = []

    def replace_then_stop(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        real(src, dst)
        if Path(dst) == out / first and not sent:  # a's first output in place, the others not yet
            sent.append(str(dst))
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(atomic, "_replace", replace_then_stop)
    status, err = _export(kind, img, masks, out, "--overwrite")
    monkeypatch.undo()
    assert sent and status == 128 + signal.SIGTERM
    assert "1 mask(s) exported, 1 not (nothing partial was kept)" in err
    record = json.loads(export_record(kind, masks[0], out).read_text())
    assert record["options"]["overwrite"] is True  # a's new record, beside its new files
    assert all(Path(f).exists() for f in record["files"]) and record["files"]
    now = _contents(out)
    assert _of("b", now) == _of("b", old)
    assert sorted(now) == sorted(old)  # the same names: nothing hidden left, nothing missing
    if kind == "outlines":  # a's outlines are listed in the folder's index
        assert (out / "outlines_metadata.csv").read_text().count("a.tif") == 2


def test_a_kill_while_an_export_is_put_in_place_leaves_the_earlier_file_in_place(tmp_path: Path) -> None:
    """Before, the earlier file was renamed aside first: a kill before the new one's rename left no
    ``cells_vSM_rois.zip``, its only copy under a hidden name."""
    mask, out, old = rois_export(tmp_path)
    kill_at_the_rois_rename(mask, out)
    assert (out / "cells_vSM_rois.zip").read_bytes() == old


def test_any_exception_while_an_export_is_put_in_place_puts_the_earlier_files_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before, only an OSError did: a RuntimeError (MemoryError, ...) at the provenance file's rename
    left the new ROI zip beside the earlier provenance file."""
    from napari_batchseg.export import ExportOptions, export_masks

    mask, out, _old = rois_export(tmp_path)
    before = _contents(out)
    record = out / "cells_vSM_rois.zip.provenance.json"

    def failing(real):  # type: ignore[no-untyped-def]
        def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
            if Path(dst) == record:
                raise RuntimeError("injected at the provenance file's rename")
            real(src, dst)
        return replace

    monkeypatch.setattr(os, "replace", failing(os.replace))
    monkeypatch.setattr(atomic, "_replace", failing(atomic._replace))
    with pytest.raises(RuntimeError, match="injected"):
        export_masks("rois", [mask], out, ExportOptions(overwrite=True))
    monkeypatch.undo()
    assert _contents(out) == before and sorted(p.name for p in out.iterdir()) == sorted(before)


def test_a_mask_whose_earlier_files_could_not_all_be_put_back_is_not_said_to_have_nothing_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before, ``FAILED (nothing written for it)`` though its earlier file stayed under a hidden name."""
    out = tmp_path / "out"
    img, masks = _inputs(tmp_path, seed=0)
    assert _export("cellpose", img, masks[:1], out) == (0, "")
    real_replace, real_os_replace = atomic._replace, os.replace

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst).name == "a_t0001_masks.tif":
            raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))
        real_replace(src, dst)

    def put_back(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if atomic.ASIDE_MARK in Path(src).name and Path(dst).name == "a_t0000.tif":
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        real_os_replace(src, dst)

    monkeypatch.setattr(atomic, "_replace", replace)
    monkeypatch.setattr(os, "replace", put_back)
    status, err = _export("cellpose", img, masks[:1], out, "--overwrite")
    monkeypatch.undo()
    assert status == 1 and "nothing written" not in err
    assert f"{out / 'a_t0000.tif'} {atomic.NOT_PUT_BACK}" in err and "kept as" in err
    assert "(a_t0000_masks.tif, a_t0001.tif put back as before)" in err


def test_a_failed_rename_after_a_folder_output_puts_the_earlier_folder_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An outlines folder (renamed aside: no hard links for folders) comes back whole."""
    out = tmp_path / "out"
    img, masks = _inputs(tmp_path, seed=0)
    assert _export("outlines", img, masks[:1], out) == (0, "")
    before = _contents(out)
    img, masks = _inputs(tmp_path, seed=1)
    real = atomic._replace

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst).name.endswith(".provenance.json"):  # after the folder's rename
            raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))
        real(src, dst)

    monkeypatch.setattr(atomic, "_replace", replace)
    status, err = _export("outlines", img, masks[:1], out, "--overwrite")
    monkeypatch.undo()
    assert status == 1 and "put back as before" in err
    assert _contents(out) == before and not [p for p in out.iterdir() if p.name.startswith(".")]
