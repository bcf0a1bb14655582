"""Torch cancellation turned on in a run once torch is imported (torch_cancel.CancelOnceTorch)."""

from __future__ import annotations

import contextlib
import sys
import threading
import types
from collections.abc import Iterator

import pytest

from napari_batchseg import torch_cancel
from napari_batchseg.torch_cancel import CancelOnceTorch


@pytest.fixture
def guards(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, object]]:
    """No torch imported yet; :func:`torch_cancellation` replaced by a recorder of when it is on."""
    seen: list[tuple[str, object]] = []

    @contextlib.contextmanager
    def recorder(cancel: threading.Event) -> Iterator[None]:
        seen.append(("on", cancel))
        yield
        seen.append(("off", cancel))

    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.setattr(torch_cancel, "torch_cancellation", recorder)
    return seen


def test_on_from_the_first_check_with_torch_imported_until_closed(
        guards: list[tuple[str, object]], monkeypatch: pytest.MonkeyPatch) -> None:
    cancel = threading.Event()
    guard = CancelOnceTorch(cancel)
    guard.check()  # the model is not loaded yet: torch not imported
    assert guards == [] and not guard.on
    monkeypatch.setitem(sys.modules, "torch", types.ModuleType("torch"))  # the model loader imported it
    guard.check()
    guard.check()  # once only
    assert guards == [("on", cancel)] and guard.on
    guard.close()
    assert guards == [("on", cancel), ("off", cancel)]


def test_never_on_without_an_event_to_cancel_with(
        guards: list[tuple[str, object]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", types.ModuleType("torch"))
    for cancel in (None, object()):  # (batchseg segment's callers without a signal handler)
        guard = CancelOnceTorch(cancel)
        guard.check()
        guard.close()
        assert not guard.on
    assert guards == []
    CancelOnceTorch(threading.Event()).close()  # closed without a check: nothing to undo
    assert guards == []
