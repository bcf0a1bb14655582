"""A segmentation output's files (debug stacks, log, mask) are put in place together, or none of them.

Before, ``_commit.commit`` renamed them one at a time: a mask's rename that failed (no permission, a
full disk) after its log's left, under ``--existing overwrite``, the new log beside the old mask; under
``skip``, a mask that appeared meanwhile was kept (as it must) beside this run's log. Faults are injected
in ``io.atomic._replace`` / ``_link``, the renames of a commit; the segmenter is the threshold one.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg import engine
from napari_batchseg.io import atomic
from napari_batchseg.params import SegmentationParams
from napari_batchseg.testing import ThresholdSegmenter


def _movie(folder: Path) -> Path:
    data = (np.random.default_rng(0).random((2, 32, 40)) * 1000).astype(np.uint16)
    tifffile.imwrite(folder / "a.tif", data, metadata={"axes": "TYX"}, photometric="minisblack")
    return folder / "a.tif"


def _run(movie: Path, **changes: object) -> list[engine.TaskEvent]:
    params = SegmentationParams(**changes)  # type: ignore[arg-type]
    return list(engine.run(engine.plan([movie], params), segmenter=ThresholdSegmenter()))


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_failed_mask_rename_puts_the_earlier_log_back(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    movie = _movie(tmp_path)
    _run(movie, debug=True)
    before = _files(tmp_path)
    real = atomic._replace

    def replace(src: os.PathLike[str], dst: os.PathLike[str]) -> None:
        if Path(dst).name == "a_vSM.ome.tif":
            raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))
        real(src, dst)

    monkeypatch.setattr(atomic, "_replace", replace)
    events = _run(movie, existing="overwrite", debug=True, min_size=5)  # (other parameters)
    failed = [e for e in events if isinstance(e, engine.TaskFailed)]
    assert len(failed) == 1 and "a_vSM.ome.tif" in failed[0].reason
    assert _files(tmp_path) == before  # the old log and debug stacks too; no hidden file


def test_skip_keeps_a_mask_that_appeared_meanwhile_and_the_log_beside_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that ignored the lock wrote its log (before this run's commit) and its mask (just before
    this run's mask): its pair is left whole, not this run's log beside its mask."""
    movie = _movie(tmp_path)
    theirs = {"a.tif": movie.read_bytes(), "a_vSM.log": b"its log\n", "a_vSM.ome.tif": b"its mask"}
    (tmp_path / "a_vSM.log").write_bytes(theirs["a_vSM.log"])  # (a log alone: not done, redone)
    real_link = atomic._link

    def link(src: os.PathLike[str], dst: os.PathLike[str], **kwargs: bool) -> None:
        if Path(dst).name == "a_vSM.ome.tif":
            Path(dst).write_bytes(theirs["a_vSM.ome.tif"])
        real_link(src, dst, **kwargs)

    monkeypatch.setattr(atomic, "_link", link)
    events = _run(movie)
    assert [e for e in events if isinstance(e, engine.TaskSkipped)]
    assert _files(tmp_path) == theirs
