"""Where ``os.fchmod`` does not exist (Windows before Python 3.13), outputs and parameter files are still
written: both atomic writers called it unconditionally (``AttributeError``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from napari_batchseg.io.atomic import atomic_write_text
from napari_batchseg.params import SegmentationParams


def test_atomic_writes_without_fchmod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "fchmod")
    atomic_write_text(tmp_path / "a.log", "text")
    SegmentationParams(diameter=12.0).save(tmp_path / "p.yaml")
    assert (tmp_path / "a.log").read_text() == "text"
    assert SegmentationParams.load(tmp_path / "p.yaml").diameter == 12.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.log", "p.yaml"]  # no temporary file left
