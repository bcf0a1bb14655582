"""How a trained model and its provenance file are put in place (quick: no training, files stand in).

Both are written under temporary names first (``io.atomic.staged``); then the provenance file is
renamed into place and the model last. A failure or stop before the model's rename puts the earlier
provenance file back (or removes the new one), so the model at the path and ``<model>.json`` stay a
pair; a model put in place is never removed. Faults are injected in ``io.atomic._replace``. The same
with real (one-epoch) trainings, and what ``batchseg train`` says: tests/test_training_run.py.
"""

from __future__ import annotations

import errno
import os
import signal
from pathlib import Path

import pytest

from napari_batchseg.cli_stop import Stopped
from napari_batchseg.errors import OutputError
from napari_batchseg.io import atomic
from napari_batchseg.io.atomic import atomic_path, atomic_write_text, staged
from napari_batchseg.training.run import _publish_together


def _publish(out: Path, model: bytes, prov: str) -> None:
    """As ``train_model``: the model and its provenance staged, then published together."""
    with staged() as stage:
        with atomic_path(out) as tmp:
            tmp.write_bytes(model)
        atomic_write_text(Path(f"{out}.json"), prov)
        _publish_together(stage, out, Path(f"{out}.json"))


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _fault_on(out: Path, fault, after_rename: bool, monkeypatch) -> None:
    """``fault()`` at the rename onto ``out``: before it, or once it is done."""
    real = atomic._replace

    def replace(src, dst):
        if Path(dst) != out:
            return real(src, dst)
        if after_rename:
            real(src, dst)
        fault()

    monkeypatch.setattr(atomic, "_replace", replace)


def _full_disk():
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _sigterm():
    raise Stopped(signal.SIGTERM)


def test_both_in_place(tmp_path):
    out = tmp_path / "m"
    _publish(out, b"model", "{}\n")
    assert out.read_bytes() == b"model" and Path(f"{out}.json").read_text() == "{}\n"
    assert _names(tmp_path) == ["m", "m.json"]


@pytest.mark.parametrize("fault", [_full_disk, _sigterm])
@pytest.mark.parametrize("old", [True, False], ids=["overwrite", "new"])
def test_a_fault_before_the_model_is_in_place_leaves_what_was_there(tmp_path, monkeypatch, fault, old):
    out = tmp_path / "m"
    if old:
        out.write_bytes(b"old model")
        Path(f"{out}.json").write_text("old provenance\n")
    _fault_on(out, fault, after_rename=False, monkeypatch=monkeypatch)
    with pytest.raises(OutputError if fault is _full_disk else Stopped):
        _publish(out, b"new model", "new provenance\n")
    if old:  # the provenance file, renamed in first, was put back
        assert out.read_bytes() == b"old model" and Path(f"{out}.json").read_text() == "old provenance\n"
        assert _names(tmp_path) == ["m", "m.json"]
    else:
        assert _names(tmp_path) == []


def test_a_stop_once_the_model_is_in_place_keeps_both_new_files(tmp_path, monkeypatch):
    """A signal can come inside ``publish``, after its rename: the model is there, and stays."""
    out = tmp_path / "m"
    out.write_bytes(b"old model")
    Path(f"{out}.json").write_text("old provenance\n")
    _fault_on(out, _sigterm, after_rename=True, monkeypatch=monkeypatch)
    with pytest.raises(Stopped):
        _publish(out, b"new model", "new provenance\n")
    assert out.read_bytes() == b"new model" and Path(f"{out}.json").read_text() == "new provenance\n"
    assert _names(tmp_path) == ["m", "m.json"]


def test_a_failed_provenance_rename_changes_nothing(tmp_path, monkeypatch):
    out = tmp_path / "m"
    out.write_bytes(b"old model")
    Path(f"{out}.json").write_text("old provenance\n")
    _fault_on(Path(f"{out}.json"), _full_disk, after_rename=False, monkeypatch=monkeypatch)
    with pytest.raises(OutputError):
        _publish(out, b"new model", "new provenance\n")
    assert out.read_bytes() == b"old model" and Path(f"{out}.json").read_text() == "old provenance\n"
    assert _names(tmp_path) == ["m", "m.json"]


def test_a_signal_as_the_provenance_rename_returns_waits_for_the_model(tmp_path, monkeypatch):
    """A real SIGTERM right after the provenance file's rename: it waits until the model is in place too
    (before, it stopped there: the new provenance beside the old model, and "the existing model is
    unchanged")."""
    from napari_batchseg.cli_stop import signals_stop

    out = tmp_path / "m"
    out.write_bytes(b"old model")
    Path(f"{out}.json").write_text("old provenance\n")
    real = atomic._replace

    def replace_then_signal(src, dst):
        real(src, dst)
        if Path(dst) == Path(f"{out}.json"):
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(atomic, "_replace", replace_then_signal)
    with pytest.raises(Stopped), signals_stop():
        _publish(out, b"new model", "new provenance\n")
    assert out.read_bytes() == b"new model" and Path(f"{out}.json").read_text() == "new provenance\n"
    assert _names(tmp_path) == ["m", "m.json"]
