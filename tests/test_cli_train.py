"""``batchseg train`` around the training itself, in-process and without training (quick):

* its progress bars are off only while it trains: a module first imported inside (as Cellpose is, once
  the base model is found) took the disabled ``tqdm.trange`` and kept it for the rest of the process;
* what it says when stopped: a stop after the model was put in place said ``nothing saved``.

The real training runs, with faults injected in the writes, are in tests/test_training_run.py.
"""

from __future__ import annotations

import functools
import importlib
import io
import signal
import sys
from pathlib import Path

import pytest

from napari_batchseg import cli_train
from napari_batchseg.cli_stop import Stopped
from napari_batchseg.training.bars import no_progress_bars_off_a_terminal

tqdm = pytest.importorskip("tqdm")


class _Pipe(io.StringIO):
    """A stderr that is not a terminal (a pipe, a batch system's log)."""

    def isatty(self) -> bool:
        return False


def _disabled(trange) -> bool:
    return isinstance(trange, functools.partial) and trange.keywords.get("disable") is True


@pytest.fixture
def late_module(tmp_path, monkeypatch):
    """The name of a module not imported yet that takes ``trange`` from tqdm (as cellpose.train does);
    stderr is a pipe. The module is forgotten afterwards."""
    (tmp_path / "late_cp_module.py").write_text("from tqdm import trange\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "stderr", _Pipe())
    yield "late_cp_module"
    sys.modules.pop("late_cp_module", None)


def test_a_module_imported_while_training_gets_the_original_trange_back(late_module):
    original = tqdm.trange
    with no_progress_bars_off_a_terminal():
        assert _disabled(tqdm.trange)
        late = importlib.import_module(late_module)
        assert _disabled(late.trange)  # off while training
    assert tqdm.trange is original
    assert late.trange is original  # was: functools.partial(<function trange>, disable=True) for good


def test_a_stop_inside_puts_every_trange_back(late_module):
    original = tqdm.trange
    with pytest.raises(Stopped), no_progress_bars_off_a_terminal():
        late = importlib.import_module(late_module)
        raise Stopped(signal.SIGINT)
    assert tqdm.trange is original and late.trange is original


def test_cellpose_train_first_imported_inside_keeps_no_disabled_trange(monkeypatch):
    """The reviewer's case: ``cellpose.train`` (and ``cellpose.dynamics``) first imported inside."""
    cellpose = pytest.importorskip("cellpose")
    pytest.importorskip("cellpose.train")  # (Cellpose 3)
    for name in ("cellpose.train", "cellpose.dynamics"):  # as if not imported yet (put back afterwards)
        monkeypatch.delitem(sys.modules, name)
        monkeypatch.delattr(cellpose, name.split(".")[1], raising=False)
    monkeypatch.setattr(sys, "stderr", _Pipe())
    original = tqdm.trange
    with no_progress_bars_off_a_terminal():
        fresh = importlib.import_module("cellpose.train")
        assert _disabled(fresh.trange) and _disabled(sys.modules["cellpose.dynamics"].trange)
    assert fresh.trange is original
    assert sys.modules["cellpose.dynamics"].trange is original


def test_modules_imported_before_get_their_own_trange_back(monkeypatch):
    cellpose_train = pytest.importorskip("cellpose.train")
    original = tqdm.trange

    def mine(*args, **kwargs):  # whatever the module held
        return original(*args, **kwargs)

    monkeypatch.setattr(cellpose_train, "trange", mine)
    monkeypatch.setattr(sys, "stderr", _Pipe())
    with no_progress_bars_off_a_terminal():
        assert _disabled(cellpose_train.trange) and cellpose_train.trange.func is mine
    assert cellpose_train.trange is mine and tqdm.trange is original


def test_on_a_terminal_nothing_is_touched(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stderr", Tty())
    original = tqdm.trange
    with no_progress_bars_off_a_terminal():
        assert tqdm.trange is original


# --------------------------------------------------------------------------- what a stop says
def _fake_run(monkeypatch, tmp_path, train_model):
    """``batchseg train`` with ``train_model`` instead of the training (inputs collected as nothing)."""
    from napari_batchseg import training
    from napari_batchseg.training import TrainingData

    monkeypatch.setenv("BATCHSEG_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setattr(training, "collect_training_data", lambda *a, **k: TrainingData())
    monkeypatch.setattr(training, "train_model", train_model)


def _stop_after(write_model: bool, sig=signal.SIGTERM):
    def train_model(data, output, params, **kwargs):
        out = Path(output)
        if write_model:  # as train_model: the provenance, then the model, then a stop (remember_model)
            out.parent.mkdir(parents=True, exist_ok=True)
            Path(f"{out}.json").write_text("{}\n")
            out.write_bytes(b"new model")
        raise Stopped(sig)

    return train_model


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_stop_after_the_model_is_in_place_says_where_it_is(tmp_path, monkeypatch, capsys, overwrite):
    out = tmp_path / "models" / "m"
    if overwrite:
        out.parent.mkdir()
        out.write_bytes(b"old model")
    _fake_run(monkeypatch, tmp_path, _stop_after(write_model=True))
    argv = [str(tmp_path), "--output", str(out)] + (["--overwrite"] if overwrite else [])
    assert cli_train.main(argv) == 143
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == f"stopped by SIGTERM: training had finished; model saved: {out} (provenance: {out}.json)"


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_stop_before_the_model_is_in_place_says_nothing_saved(tmp_path, monkeypatch, capsys, overwrite):
    out = tmp_path / "m"
    if overwrite:
        out.write_bytes(b"old model")
    _fake_run(monkeypatch, tmp_path, _stop_after(write_model=False, sig=signal.SIGINT))
    argv = [str(tmp_path), "--output", str(out)] + (["--overwrite"] if overwrite else [])
    assert cli_train.main(argv) == 130
    last = capsys.readouterr().err.strip().splitlines()[-1]
    kept = " (the existing model is unchanged)" if overwrite else ""
    assert last == f"stopped by SIGINT: training interrupted; nothing saved{kept}"
