"""Built-in model weights: said found or not as soon as a model is chosen; a missing one fails fast.

GUI trial (session 46): choosing ``cyto3`` or micro-sam's ``vit_b_lm`` without their weights on the
computer (and no internet) said nothing until Run; micro-sam then failed after ~20 s (the failure came
after importing micro-sam and torch); the Results table repeated the long download message on every
row. Every test here uses empty temporary model folders (the environment variables point at them) and
the real lookup, run and session code; none downloads anything (``BATCHSEG_OFFLINE`` where a download
could start).
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from _timing import time_bound
from napari_batchseg.cli import main
from napari_batchseg.segmenters.catalog import cellpose_major
from napari_batchseg.segmenters.on_disk import builtin_on_disk
from napari_batchseg.view.model_note import LatestNote, weights_note

SRC = Path(__file__).resolve().parents[1] / "src"
HAS_SAM = importlib.util.find_spec("micro_sam") is not None


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Empty Cellpose and micro-sam model folders, named by their environment variables; downloads on."""
    cp, ms = tmp_path / "cellpose-models", tmp_path / "microsam-cache"
    cp.mkdir()
    ms.mkdir()
    monkeypatch.setenv("CELLPOSE_LOCAL_MODELS_PATH", str(cp))
    monkeypatch.setenv("MICROSAM_CACHEDIR", str(ms))
    monkeypatch.delenv("BATCHSEG_OFFLINE", raising=False)
    return cp, ms


def _builtin() -> str:
    return "cpsam_v2" if cellpose_major() >= 4 else "cyto3"


def _weights_file(model: str) -> str:
    return f"{model}torch_0" if model in ("cyto", "cyto2", "nuclei") else model


def test_cellpose_note_follows_the_model_folder(folders, monkeypatch):
    cp, _ = folders
    name = _builtin()
    values = {"method": "cellpose", "model": name, "diameter": 30.0}
    note = weights_note(values)
    assert note.startswith(f"{name}: weights not on this computer"), note
    assert str(cp) in note and "CELLPOSE_LOCAL_MODELS_PATH" in note and "needs internet" in note
    monkeypatch.setenv("BATCHSEG_OFFLINE", "1")
    assert "BATCHSEG_OFFLINE is set, so the run will fail" in weights_note(values)
    (cp / _weights_file(name)).write_bytes(b"")  # where the run looks: the note reads the folder only
    assert weights_note(values) == f"{name}: weights on this computer, in {cp} (CELLPOSE_LOCAL_MODELS_PATH)"
    assert not list(cp.glob("*.tmp*")) and sorted(p.name for p in cp.iterdir()) == [_weights_file(name)]


@pytest.mark.skipif(cellpose_major() >= 4, reason="Cellpose 3's size model")
def test_cellpose3_diameter_zero_needs_the_size_model_too(folders):
    cp, _ = folders
    (cp / "cyto3").write_bytes(b"")
    assert builtin_on_disk("cellpose", "cyto3", diameter=30).present
    found = builtin_on_disk("cellpose", "cyto3", diameter=0)
    assert found is not None and found.missing == ("size_cyto3.npy",)
    assert found.note().startswith("cyto3: size_cyto3.npy not on this computer"), found.note()


def test_a_model_file_has_no_note(folders, tmp_path):
    model = tmp_path / "my_model"
    model.write_bytes(b"")
    assert weights_note({"method": "cellpose", "model": str(model)}) == ""
    assert weights_note({"method": "cellpose", "model": "no_such_builtin"}) == ""
    assert weights_note({"method": "sam", "model": "vit_b", "checkpoint": str(model)}) == ""


@pytest.mark.skipif(not HAS_SAM, reason="micro-sam is not installed")
def test_microsam_note_follows_the_cache_folder(folders):
    _, ms = folders
    note = weights_note({"method": "sam", "model": "vit_b_lm", "sam_mode": "auto"})
    assert note.startswith("vit_b_lm: weights not on this computer"), note
    assert str(ms / "models") in note and "MICROSAM_CACHEDIR" in note and "needs internet" in note
    found = builtin_on_disk("sam", "vit_b_lm", sam_mode="auto")
    assert found is not None and found.missing == ("vit_b_lm", "vit_b_lm_decoder")
    (ms / "models").mkdir()
    (ms / "models" / "vit_b_lm").write_bytes(b"")
    sam = {"method": "sam", "model": "vit_b_lm"}
    assert "weights on this computer" in weights_note({**sam, "sam_mode": "amg"})  # amg: no decoder
    assert "not on this computer" in weights_note({**sam, "sam_mode": "auto"})


def test_the_note_imports_no_torch_and_no_model_package(folders):
    """What the dock's thread runs: the file system only (no torch, Cellpose or micro-sam import)."""
    code = (
        "import sys\n"
        "from napari_batchseg.view.model_note import weights_note\n"
        f"a = weights_note({{'method': 'cellpose', 'model': {_builtin()!r}}})\n"
        "b = weights_note({'method': 'sam', 'model': 'vit_b_lm'})\n"
        "assert 'not on this computer' in a, a\n"
        "heavy = [m for m in ('torch', 'cellpose', 'cellpose.models', 'micro_sam', 'micro_sam.util')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_only_the_latest_request_is_shown(folders):
    delivered: list[tuple[int, str]] = []
    notes = LatestNote(lambda turn, text: delivered.append((turn, text)))
    first = notes.request({"method": "cellpose", "model": _builtin()})
    second = notes.request({"method": "cellpose", "model": "a/model/file"})
    first.join(10)
    second.join(10)
    assert sorted(turn for turn, _ in delivered) == [1, 2]
    answers = dict(delivered)
    assert notes.latest(2, answers[2]) == ""  # a model file: no note
    assert notes.latest(1, answers[1]) == ""  # the older answer, arriving last, is passed over


def _segment(image: Path, out: Path, *extra: str) -> list[str]:
    return ["segment", str(image), "--output-dir", str(out), *extra]


def test_dry_run_says_found_or_download(folders, dsb2018, tmp_path, capsys):
    cp, _ = folders
    name = _builtin()
    args = _segment(dsb2018[0], tmp_path / "out", "--model", name, "--diameter", "30", "--dry-run")
    assert main(args) == 0
    text = " ".join(capsys.readouterr().err.split())
    assert "would download" in text and "(needs internet)" in text, text
    (cp / _weights_file(name)).write_bytes(b"\x00")
    assert main(args) == 0
    said = capsys.readouterr()
    text = " ".join(said.err.split())
    assert f"note: {name}: weights on this computer, in {cp}" in text, text
    assert "would download" not in text and "dsb2018_nuclei_vSM.ome.tif" in said.out
    assert not (tmp_path / "out").exists()


_LOAD_SAM = (
    "import sys, time\n"
    "from napari_batchseg.errors import ModelError\n"
    "from napari_batchseg.params import SegmentationParams\n"
    "from napari_batchseg.segmenters import load_segmenter\n"
    "t = time.perf_counter()\n"
    "try:\n"
    "    load_segmenter(SegmentationParams(method='sam', model='vit_b_lm'))\n"
    "except ModelError as exc:\n"
    "    print(round(time.perf_counter() - t, 2)); print(exc)\n"
    "print('imported:', [m for m in ('torch', 'micro_sam.util') if m in sys.modules])\n"
)


def _load_sam(**env: str) -> list[str]:
    """Load micro-sam's ``vit_b_lm`` in a fresh process: [seconds to the error, its lines..., imported]."""
    done = subprocess.run([sys.executable, "-c", _LOAD_SAM], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(SRC), **env})
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.mark.skipif(not HAS_SAM, reason="micro-sam is not installed")
def test_microsam_missing_weights_fail_before_importing_micro_sam(folders):
    """``BATCHSEG_OFFLINE`` and no weights: the run's error at once, before micro-sam (and torch) load."""
    _, ms = folders
    lines = _load_sam(BATCHSEG_OFFLINE="1")
    text = "\n".join(lines)
    assert lines[-1] == "imported: []", text
    assert float(lines[0]) < time_bound(2.0), lines[0]
    assert "weights not found in the micro-sam cache folder" in lines[1], text
    assert "BATCHSEG_OFFLINE is set" in lines[1], text
    assert str(ms / "models" / "vit_b_lm_decoder") in text  # each file and its address, as before


def _resolves(host: str) -> bool:
    try:
        socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return True


@pytest.mark.skipif(not HAS_SAM, reason="micro-sam is not installed")
def test_microsam_no_connection_fails_before_importing_micro_sam(folders):
    """No name resolution (this machine: no internet): the download's clear error in a moment."""
    from napari_batchseg.segmenters.microsam.weights import _registry_urls

    url = (_registry_urls() or {}).get("vit_b_lm", "")
    host = url.split("/")[2] if "//" in url else ""
    if not host or _resolves(host) or any(k.lower().endswith("_proxy") and v for k, v in os.environ.items()):
        pytest.skip("the download host resolves here (or a proxy is set): a run would download")
    lines = _load_sam()
    assert lines[-1] == "imported: []", lines
    assert float(lines[0]) < time_bound(2.0), lines[0]
    assert "download failed: no connection to the server" in lines[1], lines


@pytest.mark.skipif(not HAS_SAM, reason="micro-sam is not installed")
def test_microsam_host_that_resolves_still_tries_the_real_download(folders, monkeypatch):
    """Where the host resolves (as with internet) the early check lets the run try micro-sam's download.

    The download itself is refused here as requests refuses it without a network (nothing is fetched).
    """
    import pooch
    import requests

    from napari_batchseg.errors import ModelError
    from napari_batchseg.params import SegmentationParams
    from napari_batchseg.segmenters import load_segmenter, on_disk

    calls: list[str] = []

    def no_network(self, url, output_file, pooch_obj, check_only=False):
        calls.append(url)
        raise requests.exceptions.ConnectionError(f"Max retries exceeded with url: {url}")

    monkeypatch.setattr(on_disk, "check_host", lambda url: None)  # the name resolves
    monkeypatch.setattr(pooch.HTTPDownloader, "__call__", no_network)
    with pytest.raises(ModelError, match="download failed: no connection to the server"):
        load_segmenter(SegmentationParams(method="sam", model="vit_b_lm"))
    assert calls and calls[0].endswith("vit_b.pt")


@pytest.mark.skipif(cellpose_major() >= 4, reason="Cellpose 3's downloader")
def test_a_cellpose_download_keeps_certificate_checks_on(folders, monkeypatch):
    """Cellpose's downloader sets ``ssl._create_default_https_context`` to an unverified one, for good.

    After a download attempt (failing here: no network, or the address refused) the process's HTTPS
    connections still check certificates.
    """
    import ssl

    from napari_batchseg.errors import ModelError
    from napari_batchseg.segmenters.cellpose import files as cp_files

    before = ssl._create_default_https_context
    monkeypatch.setattr(ssl, "_create_default_https_context", before)  # (restored after the test anyway)
    monkeypatch.setattr(cp_files, "_check_host", lambda url: None)  # go on to Cellpose's own downloader
    monkeypatch.setattr(cp_files, "model_url", lambda name: "https://127.0.0.1:9/" + name)  # refused at once
    with pytest.raises(ModelError, match="downloading it failed"):
        cp_files.ensure_builtin_file("cyto3", "cyto3", "weights")
    assert ssl._create_default_https_context is before
