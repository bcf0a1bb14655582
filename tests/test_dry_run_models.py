"""``segment --dry-run`` checks model files without downloading or writing anything.

(A review: the dry run resolved built-in weights as the run does, so a missing Cellpose 4 ``cpsam``
was downloaded, ~1.2 GB, into the model folder by a command that promises to write nothing; micro-sam
models were not checked at all.) No test here touches the network: every downloader is replaced by one
that fails the test, and the model folders are not created.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.cli import main
from napari_batchseg.segmenters.catalog import cellpose_major
from napari_batchseg.segmenters.cellpose import files as cp_files


def _no_download(*_args, **_kwargs):
    raise AssertionError("a dry run tried a download")


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "img.tif"
    tifffile.imwrite(path, np.zeros((32, 32), np.uint16))
    return path


@pytest.fixture
def cellpose_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "models"  # not created: the dry run must not create it either
    monkeypatch.setenv("CELLPOSE_LOCAL_MODELS_PATH", str(folder))
    monkeypatch.delenv("BATCHSEG_OFFLINE", raising=False)
    monkeypatch.setattr(cp_files, "_download", _no_download)
    monkeypatch.setattr(cp_files, "_check_host", _no_download)
    return folder


def _builtin() -> str:
    return "cpsam" if cellpose_major() >= 4 else "cyto3"


def test_cellpose_builtin_missing_is_a_would_download_line(image, tmp_path, cellpose_folder, capsys):
    name = _builtin()
    args = ["segment", str(image), "--output-dir", str(tmp_path / "out"), "--model", name, "--diameter", "30",
            "--dry-run"]
    assert main(args) == 0
    said = capsys.readouterr()
    text = " ".join((said.out + said.err).split())
    assert "would download" in text and f"file '{name}'" in text and str(cellpose_folder) in text
    assert cp_files.model_url(name) in text  # the address
    assert "img_vSM.ome.tif" in said.out  # the plan is listed as before
    assert not cellpose_folder.exists() and not (tmp_path / "out").exists()


@pytest.mark.cp3  # Cellpose 4 has no size model
def test_cellpose_size_model_is_checked_too(image, tmp_path, cellpose_folder, capsys):
    cellpose_folder.mkdir()
    (cellpose_folder / "cyto3").write_bytes(b"")  # the weights are there; the size model is not
    args = ["segment", str(image), "--output-dir", str(tmp_path / "out"), "--model", "cyto3",
            "--diameter", "0", "--dry-run"]
    assert main(args) == 0
    text = " ".join(capsys.readouterr().err.split())
    assert "'size_cyto3.npy'" in text and "would download" in text and "file 'cyto3'" not in text
    assert sorted(p.name for p in cellpose_folder.iterdir()) == ["cyto3"]


def test_cellpose_builtin_present_says_nothing(image, tmp_path, cellpose_folder, capsys):
    name = _builtin()
    cellpose_folder.mkdir()
    (cellpose_folder / name).write_bytes(b"")
    args = ["segment", str(image), "--output-dir", str(tmp_path / "out"), "--model", name, "--diameter", "30",
            "--dry-run"]
    assert main(args) == 0
    assert "would download" not in capsys.readouterr().err


def test_cellpose_builtin_missing_offline_says_the_run_would_fail(image, tmp_path, cellpose_folder,
                                                                  monkeypatch, capsys):
    monkeypatch.setenv("BATCHSEG_OFFLINE", "1")
    name = _builtin()
    args = ["segment", str(image), "--output-dir", str(tmp_path / "out"), "--model", name, "--diameter", "30",
            "--dry-run"]
    assert main(args) == 2
    text = " ".join(capsys.readouterr().err.split())
    assert "the run would fail" in text and f"'{name}'" in text and str(cellpose_folder) in text
    assert not cellpose_folder.exists()


def test_real_run_still_downloads(tmp_path, cellpose_folder, monkeypatch):
    """Outside a dry run the resolver still downloads (here: into the folder, with a fake downloader)."""
    got = []
    monkeypatch.setattr(cp_files, "_download", lambda url, dest: (got.append(url), dest.write_bytes(b"x")))
    name = _builtin()
    assert cp_files.ensure_builtin_file(name, name, "weights") == cellpose_folder / name
    assert got == [cp_files.model_url(name)] and (cellpose_folder / name).is_file()


# --------------------------------------------------------------------------- micro-sam
needs_microsam = pytest.mark.skipif(importlib.util.find_spec("micro_sam") is None,
                                    reason="micro_sam not installed ([sam])")


@pytest.fixture
def sam_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from napari_batchseg.segmenters.microsam import weights

    cache = tmp_path / "microsam"
    monkeypatch.setenv("MICROSAM_CACHEDIR", str(cache))
    monkeypatch.delenv("BATCHSEG_OFFLINE", raising=False)
    monkeypatch.setattr(weights, "_download", _no_download)
    return cache / "models"


@pytest.mark.sam
@needs_microsam
def test_sam_builtin_missing_is_a_would_download_line(image, tmp_path, sam_cache, capsys):
    base = ["segment", str(image), "--output-dir", str(tmp_path / "out"), "--method", "sam",
            "--model", "vit_b_lm", "--dry-run"]
    assert main([*base, "--sam-mode", "ais"]) == 0
    text = " ".join(capsys.readouterr().err.split())
    assert "would download" in text and str(sam_cache) in text
    assert "'vit_b_lm'" in text and "'vit_b_lm_decoder'" in text and "https://" in text
    assert main([*base, "--sam-mode", "amg"]) == 0  # no decoder needed
    text = " ".join(capsys.readouterr().err.split())
    assert "'vit_b_lm'" in text and "_decoder" not in text
    sam_cache.mkdir(parents=True)
    for name in ("vit_b_lm", "vit_b_lm_decoder"):
        (sam_cache / name).write_bytes(b"")
    assert main([*base, "--sam-mode", "ais"]) == 0
    assert "would download" not in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.sam
@needs_microsam
def test_sam_offline_and_bad_checkpoint_are_errors(image, tmp_path, sam_cache, monkeypatch, capsys):
    base = ["segment", str(image), "--output-dir", str(tmp_path / "out"), "--method", "sam", "--dry-run"]
    assert main([*base, "--model", "vit_b", "--checkpoint", str(tmp_path / "nope.pt")]) == 2
    assert "nope.pt" in capsys.readouterr().err
    ckpt = tmp_path / "mine.pt"
    ckpt.write_bytes(b"")
    assert main([*base, "--model", "vit_b", "--checkpoint", str(ckpt)]) == 0  # exists: not read here
    assert main([*base, "--model", "vit_q_lm"]) == 2
    capsys.readouterr()
    monkeypatch.setenv("BATCHSEG_OFFLINE", "1")
    assert main([*base, "--model", "vit_b_lm"]) == 2
    text = " ".join(capsys.readouterr().err.split())
    assert "the run would fail" in text and str(sam_cache / "vit_b_lm") in text
    assert not sam_cache.exists() and not (tmp_path / "out").exists()


@pytest.mark.sam
@needs_microsam
def test_sam_check_imports_no_torch(tmp_path, sam_cache):
    """The check reads micro-sam's registry from its source: a dry run does not pay torch's import."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from napari_batchseg.params import SegmentationParams\n"
        "from napari_batchseg.segmenters import check_model\n"
        "notes = check_model(SegmentationParams(method='sam', model='vit_b_lm'))\n"
        "assert notes and 'torch' not in sys.modules and 'micro_sam.util' not in sys.modules, notes\n"
    )
    env = {**__import__("os").environ, "MICROSAM_CACHEDIR": str(sam_cache.parent)}
    env.pop("BATCHSEG_OFFLINE", None)
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)


@pytest.mark.cp3  # restore models are Cellpose 3's
def test_cellpose_restore_model_is_checked_too(image, tmp_path, cellpose_folder, capsys):
    """``--restore``: a missing built-in is a "would download" line, a wrong file the run's own error."""
    cellpose_folder.mkdir()
    (cellpose_folder / "cyto3").write_bytes(b"")  # the segmentation weights are there
    args = ["segment", str(image), "--output-dir", str(tmp_path / "out"), "--model", "cyto3",
            "--diameter", "30", "--restore", "denoise_cyto3", "--dry-run"]
    assert main(args) == 0
    text = " ".join(capsys.readouterr().err.split())
    assert "would download" in text and "'denoise_cyto3'" in text and "file 'cyto3'" not in text
    assert sorted(p.name for p in cellpose_folder.iterdir()) == ["cyto3"]

    args[args.index("denoise_cyto3")] = str(tmp_path / "no_such_restore")
    assert main(args) == 2
    text = " ".join(capsys.readouterr().err.split())
    assert "no_such_restore" in text and "not found" in text
    seg_model = Path(__file__).resolve().parents[1] / "examples" / "models" / "batchseg_nuclei_cp3"
    args[args.index(str(tmp_path / "no_such_restore"))] = str(seg_model)  # a segmentation model
    assert main(args) == 2
    assert "not a restore model" in " ".join(capsys.readouterr().err.split())
    assert not (tmp_path / "out").exists()


@pytest.mark.sam
@needs_microsam
def test_sam_dry_run_refuses_what_the_run_refuses(image, tmp_path, sam_cache, capsys):
    """A built-in model without a decoder in ais/apg mode, ``--z-mode stitch``, vit_t without mobile_sam:
    the run refuses these after loading (or downloading) the model; the dry run says so first."""
    sam_cache.mkdir(parents=True)
    (sam_cache / "vit_b").write_bytes(b"")  # present: the refusal is not about a missing file
    base = ["segment", str(image), "--output-dir", str(tmp_path / "out"), "--method", "sam", "--dry-run"]
    for mode in ("ais", "apg"):
        assert main([*base, "--model", "vit_b", "--sam-mode", mode]) == 2
        text = " ".join(capsys.readouterr().err.split())
        assert f"sam_mode '{mode}' needs a model with an instance-segmentation decoder" in text
    assert main([*base, "--model", "vit_b", "--sam-mode", "amg"]) == 0
    assert main([*base, "--model", "vit_b", "--sam-mode", "auto"]) == 0  # auto: amg without a decoder
    capsys.readouterr()
    assert main([*base, "--model", "vit_b", "--sam-mode", "amg", "--z-mode", "stitch"]) == 2
    assert "stitch is Cellpose's" in " ".join(capsys.readouterr().err.split())
    if importlib.util.find_spec("mobile_sam") is None:
        assert main([*base, "--model", "vit_t_lm"]) == 2
        assert "needs the mobile_sam package" in " ".join(capsys.readouterr().err.split())
    assert sorted(p.name for p in sam_cache.iterdir()) == ["vit_b"] and not (tmp_path / "out").exists()
