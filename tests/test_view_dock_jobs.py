"""A segmentation run's job without Qt (:func:`napari_batchseg.view.dock_jobs.run_events`, ``run_source``)."""

from __future__ import annotations

import contextlib
import sys
import threading
import types
from pathlib import Path

import pytest

from napari_batchseg import torch_cancel
from napari_batchseg.params import SegmentationParams
from napari_batchseg.runners import RunGroup, RunOptions
from napari_batchseg.view import dock_jobs
from napari_batchseg.view.dock_jobs import run_events, run_source


def test_run_source_prefers_groups_then_plan_then_paths() -> None:
    params, other = SegmentationParams(), SegmentationParams(diameter=12.0)
    paths = [Path("a.tif"), Path("b.tif")]
    plan = object()
    source, given = run_source(paths, params, plan, [([Path("c.tif")], other)])
    assert source == [RunGroup([Path("c.tif")], other)] and given is None
    assert run_source(paths, params, plan, []) == (plan, None)
    source, given = run_source(paths, params)
    assert source == paths and source is not paths and given is params


@pytest.fixture
def stream(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """``execute`` and the torch guard replaced: what they were given, when the guard was on."""
    seen: dict[str, object] = {"guard": [], "closed": False}

    def execute(source, options, *, params, cancel, keep_images):  # type: ignore[no-untyped-def]
        seen.update(source=source, params=params, cancel=cancel, keep_images=keep_images)
        try:
            yield "planned"
            monkeypatch.setitem(sys.modules, "torch", types.ModuleType("torch"))  # the model loaded torch
            yield "loaded"
            yield "done"
        finally:
            seen["closed"] = True

    @contextlib.contextmanager
    def guard(cancel: threading.Event):  # type: ignore[no-untyped-def]
        seen["guard"].append("on")  # type: ignore[attr-defined]
        yield
        seen["guard"].append("off")  # type: ignore[attr-defined]

    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.setattr(dock_jobs, "execute", execute)
    monkeypatch.setattr(torch_cancel, "torch_cancellation", guard)  # (turned on by CancelOnceTorch)
    return seen


def test_run_events_guard_the_compute_once_torch_is_imported(stream: dict[str, object]) -> None:
    cancel = threading.Event()
    events = run_events(["a.tif"], None, RunOptions(), cancel)
    assert next(events) == "planned"
    assert next(events) == "loaded" and stream["guard"] == []  # no torch before the model load
    assert next(events) == "done" and stream["guard"] == ["on"]  # the compute after it is guarded
    assert list(events) == []
    assert stream["guard"] == ["on", "off"] and stream["closed"]
    assert stream["cancel"] is cancel and stream["keep_images"] is True and stream["params"] is None


def test_run_events_closed_early_close_the_run_and_the_guard(stream: dict[str, object]) -> None:
    events = run_events(["a.tif"], SegmentationParams(), RunOptions(), threading.Event())
    next(events), next(events), next(events)
    events.close()  # the widget went away
    assert stream["closed"] and stream["guard"] == ["on", "off"]
