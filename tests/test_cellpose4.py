"""Cellpose 4 (Cellpose-SAM) beside Cellpose 3: the v4 adapter, its guards, weights, log and channels.

Tests marked by the ``cp4`` fixture need Cellpose 4 installed (``scripts/setup_cp4.sh`` builds
``.venv-cp4``; CI runs this file there). Elsewhere they skip, except where Cellpose 4 is expected
(``BATCHSEG_EXPECT_CELLPOSE=4``, or running from ``.venv-cp4``): there a missing Cellpose 4 fails.
The other tests (channel parsing and preparation, weights detection, the catalog per major) run in
both environments.

Offline, the real inference path runs on a CPSAM network with random weights that the session builds
once and saves in a temporary folder (bfloat16: ~0.6 GB, never committed). Random weights find random
objects: the tests assert identity with ``CellposeModel.eval`` (labels and network output), not
accuracy. A low ``cellprob_threshold`` and ``flow_threshold=0`` make those random objects numerous, so
that identity compares non-empty label images.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import tifffile

from _timing import time_bound
from napari_batchseg.errors import InputError, ModelError
from napari_batchseg.params import ParameterError, SegmentationParams, ZRange
from napari_batchseg.prepare import prepare_frame, resolve_channel, resolve_channels
from napari_batchseg.segmenters import catalog, load_segmenter
from napari_batchseg.segmenters.cellpose.files import cellpose_models, weights_major
from napari_batchseg.segmenters.cellpose.v4 import choose_precision

REPO = Path(__file__).resolve().parents[1]
CP3_MODEL = REPO / "examples" / "models" / "batchseg_nuclei_cp3"
MAJOR = catalog.cellpose_major() if catalog.cellpose_version() else None
EXPECTED = os.environ.get("BATCHSEG_EXPECT_CELLPOSE") == "4" or Path(sys.prefix).name == ".venv-cp4"
#: Settings that make a random network's objects numerous (see the module docstring).
RANDOM_NET = {"cellprob_threshold": -0.5, "flow_threshold": 0.0}
#: whether --precision auto runs bfloat16 on this machine's CPU (float32 without native bfloat16)
AUTO_BF16 = choose_precision("auto", "cpu")[0] == "bfloat16"


@pytest.fixture(scope="session")
def cp4() -> str:
    """The installed Cellpose 4's version; skips without it (fails where Cellpose 4 is expected)."""
    if MAJOR != 4:
        msg = f"needs Cellpose 4 (installed: {catalog.cellpose_version()}); scripts/setup_cp4.sh"
        if EXPECTED:
            pytest.fail(msg)
        pytest.skip(msg)
    cellpose_models()  # PyPI's torchvision beside a CPU-only torch: the project's compatibility step first
    return str(catalog.cellpose_version())


@pytest.fixture(scope="session")
def cpsam_dir(cp4, tmp_path_factory) -> Path:
    """A model folder holding ``cpsam``: a CPSAM network with random weights (seed 0, bfloat16)."""
    import torch
    from cellpose.vit import CPSAM

    folder = tmp_path_factory.mktemp("cp4_models")
    torch.manual_seed(0)
    CPSAM(dtype=torch.bfloat16).save_model(os.fspath(folder / "cpsam"))
    return folder


@pytest.fixture()
def model_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cellpose-models"
    monkeypatch.setenv("CELLPOSE_LOCAL_MODELS_PATH", str(folder))
    return folder


@pytest.fixture()
def no_download(monkeypatch) -> list:
    called: list = []
    monkeypatch.setattr("cellpose.utils.download_url_to_file", lambda *a, **k: called.append(a))
    return called


@pytest.fixture()
def no_load(monkeypatch) -> None:
    """Loading a network is an error: the guards must answer before it."""
    from cellpose import models as cp_models

    def refuse(*args, **kwargs):
        raise AssertionError("CellposeModel must not be built")

    monkeypatch.setattr(cp_models.CellposeModel, "__init__", refuse)


def two_channel_image(shape=(256, 256), seed=0) -> np.ndarray:
    """``(2, Y, X)`` uint16: bright discs in channel 0, their rims in channel 1, noise in both."""
    from scipy import ndimage as ndi

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    discs = np.zeros(shape)
    for _ in range(25):
        cy, cx, r = rng.uniform(15, shape[0] - 15), rng.uniform(15, shape[1] - 15), rng.uniform(6, 12)
        discs += ((yy - cy) ** 2 + (xx - cx) ** 2) <= r * r
    rims = ndi.morphological_gradient(discs, size=3)
    stack = np.stack([ndi.gaussian_filter(discs, 1.0), ndi.gaussian_filter(rims, 1.0)])
    return (stack * 3000 + 200 + rng.normal(0, 40, stack.shape)).clip(0, 65535).astype(np.uint16)


# ------------------------------------------------------------------ in both environments
def test_channel_lists_are_parsed_and_checked():
    assert SegmentationParams(channel="0,2").channel == [0, 2]
    assert SegmentationParams(channel=" DAPI , 1").channel == ["DAPI", 1]
    assert SegmentationParams(channel=[2]).channel == 2  # one channel stays a plain index
    assert SegmentationParams(channel="GFP").channel == "GFP"
    assert SegmentationParams.from_dict(SegmentationParams(channel="1,0").to_dict()).channel == [1, 0]
    with pytest.raises(ParameterError, match="up to 3"):
        SegmentationParams(channel="0,1,2,3")
    with pytest.raises(ParameterError, match="twice"):
        SegmentationParams(channel="1,1")
    with pytest.raises(ParameterError, match=">= 0"):
        SegmentationParams(channel="0,-1")
    with pytest.raises(ParameterError, match="one channel"):
        SegmentationParams(method="sam", channel="0,1")


def test_several_channels_are_prepared_as_cyx_in_the_order_asked(ome_tzcyx):
    from napari_batchseg.io.reader import open_source

    path, data = ome_tzcyx  # TZCYX, channels DAPI/GFP
    with open_source(path) as src:
        assert resolve_channels(src.info, ["GFP", 0]) == (1, 0)
        assert resolve_channels(src.info, "gfp") == 1 == resolve_channel(src.info, "gfp")  # one: an index
        with pytest.raises(InputError, match="no channel named"):
            resolve_channels(src.info, [0, "RFP"])
        frame = prepare_frame(src, 0, 2, (1, 0), ZRange.parse("1-2"), "max")
        single = prepare_frame(src, 0, 2, 1, ZRange.parse("1-2"), "max")
        best = prepare_frame(src, 0, 1, (1, 0), ZRange.parse("best"), "mean")
    expected = data[2, 1:3][:, [1, 0]].max(axis=0).astype(np.float32)  # (C, Y, X), GFP first
    assert frame.image.dtype == np.float32 and frame.image.shape == (2, *data.shape[-2:])
    assert np.array_equal(frame.image, expected)
    assert frame.channel == (1, 0) and frame.z_used == [1, 2]
    assert np.array_equal(single.image, expected[0]) and single.channel == 1
    # best focus: chosen on the first channel asked for, the same slice for every channel
    assert best.best_focus is not None and best.z_used == [best.best_focus]
    assert np.array_equal(best.image, data[1, best.best_focus][[1, 0]].astype(np.float32))


def test_weights_major_reads_the_key_names_only(tmp_path):
    import torch

    assert weights_major(CP3_MODEL) == 3
    fake_v4 = tmp_path / "tiny_cp4"
    torch.save({"encoder.patch_embed.proj.weight": torch.zeros(2, 3, 8, 8), "W2": torch.zeros(2)}, fake_v4)
    assert weights_major(fake_v4) == 4
    junk = tmp_path / "junk"
    junk.write_bytes(b"not a torch file")
    assert weights_major(junk) is None
    assert weights_major(tmp_path / "missing") is None


def test_catalog_per_major():
    assert catalog.cellpose_builtins(3)[0] == "cyto3" and "nuclei" in catalog.cellpose_builtins(3)
    assert catalog.cellpose_builtins(4) == ("cpsam_v2", "cpsam", "cpdino", "cpdino-vitb")
    assert catalog.is_cellpose_builtin("cpsam", 4) and not catalog.is_cellpose_builtin("cpsam", 3)
    assert not catalog.is_cellpose_builtin("cyto3", 4)
    installed = catalog.cellpose_major()
    assert catalog.default_model("cellpose") == catalog.cellpose_builtins(installed)[0]
    assert SegmentationParams().model == catalog.default_model("cellpose")
    assert catalog.offered_models("cellpose")[0] == catalog.default_model("cellpose")


def test_cli_help_follows_the_installed_cellpose():
    run = subprocess.run([sys.executable, "-m", "napari_batchseg.cli", "segment", "--help"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    text = " ".join(run.stdout.split())
    assert f"Cellpose {catalog.cellpose_version()} built-in name" in text
    if MAJOR == 4:
        assert "cpsam_v2" in text and "native scale" in text and "0,2" in text and "cyto3" not in text
    else:
        assert "cyto3" in text and "native scale" not in text and "cpsam" not in text


# ------------------------------------------------------------------ Cellpose 4: guards (no network built)
def test_catalog_follows_cellpose4(cp4):
    assert catalog.offered_models("cellpose") == ("cpsam_v2", "cpsam")
    assert SegmentationParams().model == "cpsam_v2"
    assert not catalog.is_cellpose_builtin("cyto3")


@pytest.mark.parametrize("name", ["cyto3", "nuclei"])
def test_cellpose3_name_is_refused_not_substituted(cp4, name, model_dir, no_download, no_load):
    t0 = time.perf_counter()
    with pytest.raises(ModelError) as err:
        load_segmenter(SegmentationParams(model=name, diameter=30))
    assert time.perf_counter() - t0 < time_bound(2.0, cap=10.0)  # not a download's 20 s timeout
    msg = str(err.value)
    assert f"'{name}' is a Cellpose 3 built-in model" in msg and cp4 in msg
    assert "cpsam_v2" in msg and "napari-batchseg[cp3]" in msg
    assert not no_download and not model_dir.exists()


def test_unknown_name_is_refused_not_substituted(cp4, model_dir, no_download, no_load):
    with pytest.raises(ModelError, match="'my_model' not found.*cpsam_v2"):
        load_segmenter(SegmentationParams(model="my_model", diameter=30))
    assert not no_download


def test_cellpose3_weights_are_refused_before_loading(cp4, no_load):
    t0 = time.perf_counter()
    with pytest.raises(ModelError) as err:
        load_segmenter(SegmentationParams(model=str(CP3_MODEL), diameter=30))
    assert time.perf_counter() - t0 < time_bound(2.0, cap=10.0)  # not a download's 20 s timeout
    msg = str(err.value)
    assert "is a Cellpose 3 model" in msg and cp4 in msg and "napari-batchseg[cp3]" in msg


def test_missing_cpsam_offline_is_a_clear_error_within_seconds(cp4, model_dir, no_download, monkeypatch):
    monkeypatch.setenv("BATCHSEG_OFFLINE", "1")
    t0 = time.perf_counter()
    with pytest.raises(ModelError) as err:
        load_segmenter(SegmentationParams(diameter=0))  # the default model: cpsam_v2
    assert time.perf_counter() - t0 < time_bound(2.0, cap=10.0)  # not a download's 20 s timeout
    msg = str(err.value)
    assert "'cpsam_v2'" in msg and str(model_dir) in msg and "BATCHSEG_OFFLINE" in msg
    assert "1.2 GB" in msg and "curl -L -o" in msg and "huggingface.co/mouseland/cellpose-sam" in msg
    assert "resolve/main/cpsam_v2" in msg and "//cpsam_v2" not in msg
    assert "CELLPOSE_LOCAL_MODELS_PATH" in msg
    assert not no_download and not model_dir.exists()


def test_failed_cpsam_download_is_bounded_and_clear(cp4, model_dir, monkeypatch):
    import socket

    monkeypatch.delenv("BATCHSEG_OFFLINE", raising=False)
    monkeypatch.setenv("BATCHSEG_DOWNLOAD_TIMEOUT", "5")
    seen = {}

    def fake_download(url, dst, progress=True):
        seen["url"], seen["timeout"] = url, socket.getdefaulttimeout()
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr("cellpose.utils.download_url_to_file", fake_download)
    # the host resolves (as with a network): the download itself fails (no network here would stop earlier)
    monkeypatch.setattr("napari_batchseg.segmenters.cellpose.files._check_host", lambda url: None)
    with pytest.raises(ModelError, match="downloading it failed.*name resolution.*1.2 GB"):
        load_segmenter(SegmentationParams(model="cpsam", diameter=0))
    assert seen == {"url": "https://huggingface.co/mouseland/cellpose-sam/resolve/main/cpsam", "timeout": 5.0}


def test_bad_bfloat16_setting_is_refused(cpsam_dir, no_load):
    with pytest.raises(ParameterError, match="use_bfloat16"):
        load_segmenter(SegmentationParams(model=str(cpsam_dir / "cpsam"), extra={"use_bfloat16": "no"}))


# ------------------------------------------------------------------ Cellpose 4: the real inference path
@pytest.fixture(scope="module")
def seg4(cpsam_dir):
    """The v4 segmenter for ``cpsam`` found in CELLPOSE_LOCAL_MODELS_PATH, channels 1,0, debug on."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CELLPOSE_LOCAL_MODELS_PATH", str(cpsam_dir))
        mp.setenv("BATCHSEG_OFFLINE", "1")
        return load_segmenter(
            SegmentationParams(model="cpsam", diameter=0, channel="1,0", debug=True, **RANDOM_NET)
        )


@pytest.fixture(scope="module")
def reference(cpsam_dir):
    """``CellposeModel.eval`` by hand on the prepared frame (channels 1,0 of :func:`two_channel_image`)."""
    from cellpose import models as cp_models

    model = cp_models.CellposeModel(gpu=False, pretrained_model=str(cpsam_dir / "cpsam"),
                                    use_bfloat16=AUTO_BF16)
    frame = two_channel_image()[[1, 0]].astype(np.float32)
    masks, flows, _ = model.eval(frame, channel_axis=0, diameter=None, **RANDOM_NET)
    return frame, masks, flows


def test_builtin_found_in_model_folder_and_logged(seg4, cpsam_dir, cp4):
    info = seg4.describe()
    weights = cpsam_dir / "cpsam"
    assert info["cellpose_major"] == 4 and info["cellpose_version"] == cp4
    assert info["model"] == "cpsam" and info["model_kind"] == "builtin"
    assert Path(info["weights"]) == weights and info["backbone"] == "sam_vitl"
    assert info["weights_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    import torch

    dtype = torch.bfloat16 if AUTO_BF16 else torch.float32
    assert info["bfloat16"] is AUTO_BF16 and next(seg4.model.net.parameters()).dtype == dtype
    assert info["precision_reason"].startswith("auto: the CPU has")
    assert "native scale" in info["diameter_rule"] and info["diameter"] == "native scale"
    assert info["channels"] == 2 and info["channel_axis"] == 0
    assert seg4.batch_size == 1 and seg4.eval_batch_size == 8
    # the channel mapping: a (C, Y, X) frame goes to eval with channel_axis=0, a plane without one
    assert seg4.eval_arguments(np.zeros((2, 8, 8)))["channel_axis"] == 0
    assert seg4.eval_arguments(np.zeros((8, 8)))["channel_axis"] is None
    assert seg4.eval_arguments(np.zeros((8, 8)))["diameter"] is None
    with pytest.raises(ValueError, match="C <= 3"):
        seg4.segment(np.zeros((4, 16, 16), np.float32))


def test_labels_equal_cellpose_eval_on_the_prepared_frame(seg4, reference):
    frame, masks, flows = reference
    out = seg4.segment(frame)
    assert masks.max() > 0, "the random network should find (random) objects with these thresholds"
    assert out.labels.dtype == masks.dtype and np.array_equal(out.labels, masks)
    assert np.array_equal(out.debug["cellprob"], flows[2]) and np.array_equal(out.debug["flows"], flows[0])
    assert out.info["diameter"] == "native" and out.info["n_objects"] == int(masks.max())


def test_cli_end_to_end_channels_and_log(cpsam_dir, reference, tmp_path, cp4):
    """``batchseg segment --channel 1,0`` on a 2-channel TIFF writes the labels eval gives by hand."""
    frame, masks, flows = reference
    data = tmp_path / "data"
    data.mkdir()
    tifffile.imwrite(data / "cells.ome.tif", two_channel_image(), ome=True,
                     metadata={"axes": "CYX", "Channel": {"Name": ["nuclei", "rims"]}})
    weights = cpsam_dir / "cpsam"
    env = {**os.environ, "BATCHSEG_OFFLINE": "1", "CELLPOSE_LOCAL_MODELS_PATH": str(tmp_path / "empty")}
    batchseg = Path(sys.executable).with_name("batchseg")
    cmd = [str(batchseg), "segment", str(data), "--model", str(weights), "--channel", "rims,0",
           "--diameter", "0", "--cellprob-threshold", "-0.5", "--flow-threshold", "0", "--debug",
           "--output-dir", str(tmp_path / "out")]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    written = tifffile.imread(tmp_path / "out" / "cells_vSM.ome.tif")  # TYX with T=1, stored as YX
    assert written.shape == frame.shape[-2:]
    assert np.array_equal(written, masks)
    log = (tmp_path / "out" / "cells_vSM.log").read_text()
    line = next(x for x in log.splitlines() if "segmenter: " in x)
    described = json.loads(line.split("segmenter: ", 1)[1])
    assert described["cellpose_major"] == 4 and described["cellpose_version"] == cp4
    assert described["model_kind"] == "user" and Path(described["weights"]) == weights
    assert described["weights_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert described["bfloat16"] is AUTO_BF16 and "native scale" in described["diameter_rule"]
    assert "channels used: 1 (rims), 0 (nuclei)" in log


# ------------------------------------------------------------------ micro-sam beside Cellpose 4
def test_microsam_and_cellpose4_share_segment_anything(cp4):
    """scripts/setup_cp4.sh installs segment-anything-py after Cellpose 4 (docs/cellpose4.md)."""
    import importlib.util
    import inspect
    from importlib import metadata

    if importlib.util.find_spec("micro_sam") is None:
        pytest.skip("micro-sam is not installed here (SAM=0 scripts/setup_cp4.sh)")
    from segment_anything.utils.transforms import ResizeLongestSide

    # the module is segment-anything-py's (micro-sam's fix of apply_image_torch), both distributions recorded
    assert "image.shape[2], image.shape[3]" in inspect.getsource(ResizeLongestSide.apply_image_torch)
    assert metadata.version("segment-anything-py") and metadata.version("segment_anything")
    from cellpose.vit import CPSAM  # Cellpose 4's network builds on that module (as the tests above do)

    from napari_batchseg.segmenters.microsam import import_microsam

    import_microsam()
    assert CPSAM.__module__ == "cellpose.vit"


# ------------------------------------------------------------------ the widget's channel choice
@pytest.mark.qt
@pytest.mark.parametrize("major", [3, 4])
def test_form_offers_up_to_three_channels_under_cellpose4(major, request, monkeypatch):
    pytest.importorskip("PyQt6")
    qtbot = request.getfixturevalue("qtbot")
    from napari_batchseg._napari import _form
    from napari_batchseg.io.sources import SourceInfo

    monkeypatch.setattr(_form, "cellpose_major", lambda: major)
    form = _form.ParamsForm()
    qtbot.addWidget(form)
    sizes = {"P": 1, "T": 1, "C": 3, "Z": 1, "Y": 8, "X": 8}
    info = SourceInfo("x.tif", sizes, np.uint16, ["DAPI", "GFP", "BF"])
    form.set_file_infos([info], info)
    assert form.channel2.isVisibleTo(form) == (major == 4) == form.channel3.isVisibleTo(form)
    assert ("native scale" in form.diameter.toolTip()) == (major == 4)
    form.channel.setCurrentIndex(form.channel.findText("2: BF"))  # by name (session 46)
    form.channel2.setCurrentIndex(form.channel2.findText("0: DAPI"))
    expected = ["BF", "DAPI"] if major == 4 else "BF"
    assert form.values()["channel"] == expected
    assert SegmentationParams(**form.values()).channel == expected
    form.channel3.setCurrentIndex(form.channel3.findText("2: BF"))  # a repeat is dropped
    assert form.values()["channel"] == expected
    if major == 4:
        form.set_params(SegmentationParams(channel=[1, "BF", 0]))
        assert form.values()["channel"] == [1, "BF", 0]
        form.set_params(SegmentationParams(channel=1))
        assert form.values()["channel"] == 1
        form.method.setCurrentIndex(form.method.findData("sam"))
        assert not form.channel2.isVisibleTo(form)
