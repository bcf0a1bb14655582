"""A short real training run: fine-tune a deliberately weakened copy of the project's starter model (its
weights perturbed by seeded noise) on real DSB2018 crops with their ground truth through ``batchseg train``.
The weights change, the training loss falls, the model reloads with plain Cellpose and its validation
AP@0.5 is strictly higher than the weakened start's on the same frames (measured again here,
independently, so a run that trains nothing fails), the provenance file matches the run, and a cancelled
run writes nothing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.errors import CancelledError
from napari_batchseg.segmenters.catalog import cellpose_major
from napari_batchseg.training import TrainingParams, recent_models, train_model

ROOT = Path(__file__).resolve().parents[1]
STARTER = ROOT / "examples" / "models" / "batchseg_nuclei_cp3"
EPOCHS = 60  # enough steps for batch normalisation to settle (a shorter fine-tune scores lower)
CROP = 64  # small training crops keep the CPU cost down
NOISE = 0.3  # perturbation of the start: Gaussian noise of NOISE x each weight tensor's standard deviation

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(cellpose_major() != 3, reason="training uses Cellpose 3's train_seg"),
]


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _state(path: Path) -> dict:
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)


def _weakened(path: Path) -> Path:
    """The starter model with seeded noise on its learned weights (running statistics and sizes kept)."""
    import torch

    state = _state(STARTER)
    gen = torch.Generator().manual_seed(0)
    for key, value in state.items():
        if value.is_floating_point() and value.numel() > 1 and "running" not in key:
            noise = torch.randn(value.shape, generator=gen) * (NOISE * float(value.float().std()))
            state[key] = (value.float() + noise).to(value.dtype)
    torch.save(state, path)
    return path


def _pairs(folder: Path) -> Path:
    """``folder`` made, with the four 256x256 quadrants of the DSB2018 image and of its annotation."""
    folder.mkdir()
    img = tifffile.imread(ROOT / "examples" / "data" / "dsb2018_nuclei.tif")
    gt = tifffile.imread(ROOT / "examples" / "groundtruth" / "dsb2018_nuclei_masks.tif")
    for i, (y, x) in enumerate([(0, 0), (0, 256), (256, 0), (256, 256)]):
        tifffile.imwrite(folder / f"dsb{i}.tif", img[y:y + 256, x:x + 256])
        tifffile.imwrite(folder / f"dsb{i}_masks.tif", gt[y:y + 256, x:x + 256])
    return folder


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """``batchseg train`` on the four 256x256 quadrants of the DSB2018 image (3 train, 1 validation)."""
    from napari_batchseg.cli_train import main

    root = tmp_path_factory.mktemp("train")
    mp = pytest.MonkeyPatch()
    mp.setenv("BATCHSEG_CONFIG_DIR", str(root / "config"))
    folder = _pairs(root / "pairs")
    out = root / "models" / "dsb_finetuned"
    start = _weakened(root / "weakened_start")
    argv = [str(folder), "--output", str(out), "--from", str(start), "--epochs", str(EPOCHS),
            "--learning-rate", "0.001", "--batch-size", "8", "--images-per-epoch", "8",
            "--crop-size", str(CROP), "--validation-fraction", "0.25", "--seed", "0", "--min-masks", "3"]
    import contextlib
    import io

    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        status = main(argv)
    yield {"status": status, "out": out, "folder": folder, "stdout": stdout.getvalue(), "root": root,
           "registry": recent_models(), "start": start}
    mp.undo()


def test_cli_reports_each_epoch_and_saves(run):
    assert run["status"] == 0, run["stdout"]
    lines = [ln for ln in run["stdout"].splitlines() if ln.startswith("epoch ")]
    assert len(lines) == EPOCHS and all("train loss" in ln and "validation loss" in ln for ln in lines)
    # a walk: "from 8 file(s)" counted each image and its mask; an lr of 0 (train_seg's warm-up) looked wrong
    assert "4 training frame(s) from 4 mask(s)" in run["stdout"]
    assert all(("lr 0.000000 (warm-up)" in ln) == ("lr 0.000000" in ln) for ln in lines)
    assert run["out"].is_file() and (run["out"].parent / "dsb_finetuned.json").is_file()
    assert run["registry"] == [str(run["out"])]


def test_weights_changed_and_training_loss_fell(run):
    start, trained = _state(run["start"]), _state(run["out"])
    assert start.keys() == trained.keys()
    learned = [k for k, v in start.items() if v.is_floating_point() and v.numel() > 1 and "running" not in k]
    changed = [k for k in learned if not np.array_equal(start[k].float().numpy(), trained[k].float().numpy())]
    assert len(changed) >= 0.9 * len(learned), f"{len(changed)} of {len(learned)} weight tensors changed"
    losses = json.loads((run["out"].parent / "dsb_finetuned.json").read_text())["losses"]["train"]
    first, last = float(np.mean(losses[:5])), float(np.mean(losses[-5:]))
    assert last < 0.9 * first, (first, last)


def test_model_reloads_with_plain_cellpose_and_beats_the_weakened_start(run):
    from cellpose import metrics, models
    from skimage.segmentation import relabel_sequential

    prov = json.loads((run["out"].parent / "dsb_finetuned.json").read_text())
    val = prov["validation_frames"]
    assert len(val) == 1
    images = [tifffile.imread(v["preparation"]["image"]).astype(np.float32) for v in val]
    # ids 1..N, as training renumbers them (the annotation skips some ids, which would count as misses)
    truths = [relabel_sequential(tifffile.imread(v["preparation"]["mask"]))[0] for v in val]
    diameter = prov["validation"]["diameter"]
    scores = {}
    for key, path in (("before", run["start"]), ("after", run["out"])):
        model = models.CellposeModel(pretrained_model=str(path))  # plain Cellpose, no helper
        preds = [model.eval(im, channels=[0, 0], diameter=diameter)[0] for im in images]
        _, tp, fp, fn = metrics.average_precision([t.astype(np.int32) for t in truths],
                                                  [p.astype(np.int32) for p in preds], threshold=[0.5])
        tp, fp, fn = tp.sum(), fp.sum(), fn.sum()
        scores[key] = tp / (tp + fp + fn)
        assert (prov["validation"][key]["tp"], prov["validation"][key]["fp"], prov["validation"][key]["fn"]) \
            == (tp, fp, fn)
        assert prov["validation"][key]["ap"] == pytest.approx(scores[key], abs=1e-4)
    assert scores["after"] > scores["before"], scores
    reloaded = models.CellposeModel(pretrained_model=str(run["out"]))
    assert float(reloaded.diam_labels) == pytest.approx(prov["model"]["diam_labels"], rel=1e-6)
    assert float(reloaded.diam_mean) == pytest.approx(17.0)  # the starter model's


def test_provenance_matches_the_run(run):
    prov = json.loads((run["out"].parent / "dsb_finetuned.json").read_text())
    assert prov["model"]["sha256"] == _sha(run["out"]) and prov["model"]["bytes"] == run["out"].stat().st_size
    assert prov["base_model"]["sha256"] == _sha(run["start"]) and prov["base_model"]["kind"] == "user"
    files = sorted(run["folder"].iterdir())
    assert prov["training_files"] == {str(p): _sha(p) for p in files}
    train = {(f["file"], f["frame"]) for f in prov["train_frames"]}
    val = {(f["file"], f["frame"]) for f in prov["validation_frames"]}
    assert len(train) == 3 and len(val) == 1 and not train & val
    assert {f for f, _ in train | val} == {str(p) for p in files if p.name.endswith("_masks.tif")}
    p = prov["parameters"]
    assert (p["epochs"], p["learning_rate"], p["batch_size"], p["images_per_epoch"], p["crop_size"],
            p["validation_fraction"], p["seed"], p["min_masks"]) == (EPOCHS, 0.001, 8, 8, CROP, 0.25, 0, 3)
    assert p["base_model"] == str(run["start"]) and p["weight_decay"] == 1e-5
    losses = prov["losses"]
    assert losses["epoch"] == list(range(1, EPOCHS + 1))
    # the per-epoch values reported live are the ones train_seg itself returns at the end
    assert losses["train"] == pytest.approx(losses["train_seg_returned_train"], rel=1e-5)
    for epoch in (0, 5, 10, 20, 30, 40, 50):  # train_seg computes its test loss at these epochs only
        returned = losses["train_seg_returned_test"][epoch]
        assert losses["validation"][epoch] == pytest.approx(returned, rel=1e-4)
    assert all(np.isfinite(losses["validation"]))
    assert prov["versions"]["cellpose"].startswith("3.") and prov["device"].startswith("CPU")
    assert prov["validation"]["before"] is not None
    assert prov["train_seg"]["function"] == "cellpose.train.train_seg"


def test_cancel_after_the_first_epoch_writes_nothing(run, tmp_path, monkeypatch):
    monkeypatch.setenv("BATCHSEG_CONFIG_DIR", str(tmp_path / "config"))
    epochs_seen = []

    def progress(event):
        if event.epoch is not None:
            epochs_seen.append(event.epoch)

    out = tmp_path / "cancelled"
    params = TrainingParams(base_model=str(STARTER), epochs=50, batch_size=2, images_per_epoch=2,
                            crop_size=64, validation_fraction=0.25, seed=0, min_masks=3)
    with pytest.raises(CancelledError, match="cancelled after epoch 1 of 50"):
        train_model([run["folder"]], out, params, progress=progress, cancel=lambda: bool(epochs_seen))
    assert epochs_seen == [1]
    assert list(tmp_path.iterdir()) == [] or [p.name for p in tmp_path.iterdir()] == ["config"]
    assert recent_models() == []


@pytest.mark.parametrize(("sig", "status"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_ctrl_c_and_sigterm_stop_as_segment_does(tmp_path, sig, status):
    """Walk: ``batchseg train`` stopped with SIGINT exited 1 (``error: training interrupted; nothing
    saved``), ``batchseg segment`` 130; an interrupted command exits 130 alike, and nothing is saved.
    SIGTERM (SLURM at a time limit) killed it (status -15, not a word): it stops as on Ctrl-C and
    exits 143, as segment does."""
    import os
    import signal
    import subprocess
    import sys

    folder = _pairs(tmp_path / "pairs")
    out = tmp_path / "models" / "stopped"
    env = {**os.environ, "BATCHSEG_CONFIG_DIR": str(tmp_path / "config")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "napari_batchseg.cli", "train", str(folder), "--output", str(out), "--from",
         str(STARTER), "--epochs", "500", "--batch-size", "2", "--images-per-epoch", "2", "--crop-size", "64",
         "--validation-fraction", "0.25", "--seed", "0", "--min-masks", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # (as a shell starts it)
    assert proc.stdout is not None
    for line in proc.stdout:  # stopped while it trains
        if line.startswith("epoch "):
            break
    proc.send_signal(getattr(signal, sig))
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == status, err
    assert err.strip().splitlines()[-1] == f"stopped by {sig}: training interrupted; nothing saved", err
    assert "Traceback" not in err, err
    # stderr is not a terminal: none of Cellpose's tqdm bars (train_seg's flows and diameters)
    assert "%|" not in err and "it/s]" not in err and "\r" not in err, err
    assert not out.exists() and not out.with_suffix(".json").exists()
    assert not out.parent.exists() or list(out.parent.iterdir()) == []  # no temporary file either


# --------------------------------------------------------------------------- the model and its provenance
# Faults are injected in the atomic writer (io.atomic._write, _replace) as tests/test_reliability.py does;
# tests/test_training_publish.py tries the others (a stop or a full disk at each rename) without training.
# Walk: with --overwrite, a failed (or stopped) provenance write after the new model had been renamed over
# the old one removed the new model: no model was left at all, only the old provenance file.
def _tiny(**kwargs) -> TrainingParams:
    """One epoch of two 64x64 crops: the output steps are what these tests look at, not the training."""
    return TrainingParams(base_model=str(STARTER), epochs=1, batch_size=2, images_per_epoch=2, crop_size=64,
                          validation_fraction=0.25, seed=0, min_masks=3, **kwargs)


def _old_pair(out: Path) -> tuple[bytes, bytes]:
    """A model and its provenance file at ``out`` (as an earlier training leaves them); their bytes."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(STARTER.read_bytes())
    Path(f"{out}.json").write_text(json.dumps({"model": {"path": str(out), "sha256": _sha(out)}}) + "\n")
    return out.read_bytes(), Path(f"{out}.json").read_bytes()


def _a_pair(out: Path) -> bool:
    """The model at ``out`` is the one its provenance file describes."""
    return json.loads(Path(f"{out}.json").read_text())["model"]["sha256"] == _sha(out)


def _no_disk_space(*_args, **_kwargs):
    import errno
    import os

    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_overwrite_with_a_failed_provenance_write_keeps_the_old_model_and_provenance(tmp_path, monkeypatch):
    from napari_batchseg.errors import OutputError
    from napari_batchseg.io import atomic

    folder = _pairs(tmp_path / "pairs")
    out = tmp_path / "models" / "m"
    old_model, old_prov = _old_pair(out)
    monkeypatch.setattr(atomic, "_write", _no_disk_space)  # (the provenance file's: torch saves the model)
    with pytest.raises(OutputError, match="No space left on device"):
        train_model([folder], out, _tiny(), overwrite=True, remember=False)
    assert out.read_bytes() == old_model and Path(f"{out}.json").read_bytes() == old_prov and _a_pair(out)
    assert sorted(p.name for p in out.parent.iterdir()) == ["m", "m.json"]  # no temporary file either


def test_a_stop_after_the_model_is_saved_says_where_it_is(tmp_path, monkeypatch, capsys):
    """Walk: stopped while the model was added to the recent models (both files written), ``batchseg
    train`` said ``training interrupted; nothing saved``."""
    import contextlib
    import io
    import signal

    from napari_batchseg.cli_stop import Stopped
    from napari_batchseg.cli_train import main
    from napari_batchseg.training import registry

    def stopped(_path):
        raise Stopped(signal.SIGINT)

    monkeypatch.setenv("BATCHSEG_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setattr(registry, "remember_model", stopped)
    folder = _pairs(tmp_path / "pairs")
    out = tmp_path / "models" / "m"
    old_model, _ = _old_pair(out)
    argv = [str(folder), "--output", str(out), "--overwrite", "--from", str(STARTER), "--epochs", "1",
            "--batch-size", "2", "--images-per-epoch", "2", "--crop-size", "64",
            "--validation-fraction", "0.25", "--seed", "0", "--min-masks", "3"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(argv) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"stopped by SIGINT: training had finished; model saved: {out} (provenance: {out}.json)"
    assert out.read_bytes() != old_model and _a_pair(out)
    assert json.loads(Path(f"{out}.json").read_text())["losses"]["epoch"] == [1]
    assert sorted(p.name for p in out.parent.iterdir()) == ["m", "m.json"]
