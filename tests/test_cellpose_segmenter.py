"""The Cellpose 3 adapter: labels identical to CellposeModel.eval, model resolution, offline errors, and the
guards against Cellpose 4 models (Cellpose 4 itself: tests/test_cellpose4.py)."""

from __future__ import annotations

import shutil
import socket
import time
import urllib.error
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("cellpose")
tifffile = pytest.importorskip("tifffile")

from napari_batchseg.segmenters import catalog  # noqa: E402

if catalog.cellpose_major() != 3:  # the other environment runs tests/test_cellpose4.py
    pytest.skip(f"Cellpose 3 adapter; installed: {catalog.cellpose_version()}", allow_module_level=True)

from cellpose import metrics  # noqa: E402
from cellpose import models as cp_models  # noqa: E402

from _timing import time_bound  # noqa: E402
from napari_batchseg.errors import ModelError  # noqa: E402
from napari_batchseg.params import ParameterError, SegmentationParams  # noqa: E402
from napari_batchseg.segmenters import Segmenter, load_segmenter  # noqa: E402
from napari_batchseg.segmenters.cellpose import CellposeSegmenter  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
STARTER = REPO / "examples" / "models" / "batchseg_nuclei_cp3"
DSB_IMAGE = REPO / "examples" / "data" / "dsb2018_nuclei.tif"
DSB_TRUTH = REPO / "examples" / "groundtruth" / "dsb2018_nuclei_masks.tif"

#: F1 at IoU 0.5 of the starter model on the DSB2018 image was measured 0.917 (AP 0.846; see
#: examples/README.md); the floor leaves a margin for floating-point differences between machines.
DSB_F1_FLOOR = 0.85


def blobs(shape=(128, 128), n=10, seed=0, radius=(6, 11)):
    """Small synthetic nuclei image: bright discs, blur, noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    img = np.zeros(shape, np.float64)
    for _ in range(n):
        cy, cx = rng.uniform(12, shape[0] - 12), rng.uniform(12, shape[1] - 12)
        r = rng.uniform(*radius)
        img += rng.uniform(0.6, 1.4) * (((yy - cy) ** 2 + (xx - cx) ** 2) <= r * r)
    from scipy import ndimage as ndi

    img = ndi.gaussian_filter(img, 1.0) + 0.05 + rng.normal(0, 0.03, shape)
    return (img * 1000).astype(np.float32)


@pytest.fixture(scope="module")
def starter() -> CellposeSegmenter:
    return CellposeSegmenter.from_params(SegmentationParams(model=str(STARTER), diameter=0))


@pytest.fixture(scope="module")
def plain():
    """A plain Cellpose model built by hand from the same weights."""
    return cp_models.CellposeModel(gpu=False, pretrained_model=str(STARTER))


@pytest.fixture(scope="module")
def dsb():
    return tifffile.imread(DSB_IMAGE).astype(np.float32), tifffile.imread(DSB_TRUTH)


@pytest.fixture(scope="module")
def dsb_out(starter, dsb):
    return starter.segment(dsb[0])


@pytest.fixture()
def empty_model_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cellpose-models"
    monkeypatch.setenv("CELLPOSE_LOCAL_MODELS_PATH", str(folder))
    return folder


# ------------------------------------------------------------------ equivalence with Cellpose itself
def test_dsb2018_labels_equal_plain_cellpose_eval(plain, dsb, dsb_out):
    expected = plain.eval(
        dsb[0], channels=[0, 0], diameter=None, flow_threshold=0.4, cellprob_threshold=0.0,
        niter=None, batch_size=8,
    )[0]
    assert dsb_out.labels.dtype == expected.dtype
    assert dsb_out.labels.dtype in (np.uint16, np.uint32)
    assert dsb_out.labels.shape == dsb[0].shape
    assert np.array_equal(dsb_out.labels, expected)
    assert dsb_out.labels.max() > 50


def test_synthetic_labels_and_debug_equal_plain_eval_with_all_parameters(plain):
    image = blobs(seed=3)
    params = SegmentationParams(
        model=str(STARTER), diameter=19.0, cellprob_threshold=-0.5, flow_threshold=0.6, niter=150,
        batch_size=4, debug=True,
    )
    seg = CellposeSegmenter.from_params(params)
    out = seg.segment(image)
    masks, flows, _ = plain.eval(
        image, channels=[0, 0], diameter=19.0, flow_threshold=0.6, cellprob_threshold=-0.5,
        niter=150, batch_size=4,
    )
    assert np.array_equal(out.labels, masks) and out.labels.dtype == masks.dtype
    assert masks.max() >= 5
    assert out.debug["flows"].dtype == np.uint8 and out.debug["flows"].shape == (*image.shape, 3)
    assert np.array_equal(out.debug["flows"], flows[0])
    assert out.debug["cellprob"].dtype == np.float32 and out.debug["cellprob"].shape == image.shape
    assert np.array_equal(out.debug["cellprob"], flows[2])
    assert out.info["diameter"] == 19.0
    assert seg.describe()["diameter_rule"] == "given"


def test_user_model_diameter_zero_uses_training_diameter(starter, plain):
    image = blobs(seed=5)
    out = starter.segment(image)
    training = float(plain.diam_labels)
    assert 10 < training < 40
    assert out.info["diameter"] == pytest.approx(training, abs=1e-3)
    info = starter.describe()
    assert info["diameter"] == pytest.approx(training, abs=1e-3)
    assert info["training_diameter"] == pytest.approx(training, abs=1e-3)
    assert info["diameter_rule"] == "model training diameter"
    # the same as asking Cellpose for that diameter explicitly
    explicit = plain.eval(image, channels=[0, 0], diameter=training)[0]
    assert np.array_equal(out.labels, explicit)
    assert not out.debug  # debug off by default


def test_segment_batch_equals_one_by_one_and_model_is_not_reloaded(starter, monkeypatch):
    images = [blobs(shape=(96, 96), n=6, seed=11), blobs(shape=(80, 112), n=6, seed=12)]
    model_before = starter.model

    def no_reload(*args, **kwargs):
        raise AssertionError("segment() must not build a new model")

    monkeypatch.setattr(cp_models.CellposeModel, "__init__", no_reload)
    batch = starter.segment_batch(images)
    single = [starter.segment(im) for im in images]
    assert starter.model is model_before
    assert len(batch) == 2
    for b, s, im in zip(batch, single, images, strict=True):
        assert b.labels.shape == im.shape
        assert np.array_equal(b.labels, s.labels)


def test_describe_and_protocol(starter):
    assert isinstance(starter, Segmenter)
    assert starter.name == "cellpose"
    info = starter.describe()
    assert info["method"] == "cellpose"
    assert info["model_kind"] == "user"
    assert Path(info["weights"]) == STARTER.resolve()
    assert info["device"].startswith("CPU (")
    assert info["cellpose_version"].startswith("3.")
    assert info["torch_version"]
    assert info["niter"] == "auto"


def test_load_segmenter_builds_cellpose():
    seg = load_segmenter(SegmentationParams(method="cellpose", model=str(STARTER), diameter=20))
    assert isinstance(seg, CellposeSegmenter)
    assert seg.describe()["diameter"] == 20.0


def test_rejects_non_2d_input(starter):
    with pytest.raises(ValueError, match="2D"):
        starter.segment(np.zeros((2, 32, 32), np.float32))


# ------------------------------------------------------------------ accuracy guard on real data
def test_starter_model_accuracy_on_dsb2018(dsb, dsb_out):
    import fastremap

    truth = fastremap.renumber(dsb[1])[0]
    ap, tp, fp, fn = metrics.average_precision(truth, dsb_out.labels, threshold=[0.5])
    f1 = 2 * tp[0] / (2 * tp[0] + fp[0] + fn[0])
    assert f1 >= DSB_F1_FLOOR, f"F1@0.5 {f1:.3f} (AP {ap[0]:.3f}, TP {tp[0]}, FP {fp[0]}, FN {fn[0]})"


def test_bundled_dsb2018_is_the_stardist_file():
    import _realdata  # tests/_realdata.py

    try:
        image, truth = _realdata.stardist_dsb2018()
    except RuntimeError as exc:  # no package index reachable: fails under CI, skips elsewhere
        _realdata.unavailable(f"stardist wheel: {exc}")
    assert np.array_equal(tifffile.imread(image), tifffile.imread(DSB_IMAGE))
    assert np.array_equal(tifffile.imread(truth), tifffile.imread(DSB_TRUTH))


# ------------------------------------------------------------------ model resolution and errors
def test_missing_user_path_fails_at_once_without_download(tmp_path, empty_model_dir):
    missing = tmp_path / "no" / "such_model"
    t0 = time.perf_counter()
    with pytest.raises(ModelError) as err:
        CellposeSegmenter.from_params(SegmentationParams(model=str(missing), diameter=30))
    assert time.perf_counter() - t0 < time_bound(2.0, cap=10.0)
    assert str(missing) in str(err.value) and "not found" in str(err.value)
    assert not empty_model_dir.exists()  # nothing downloaded, nothing created
    assert not any(p.name == "cyto3" for p in tmp_path.rglob("*"))


def test_directory_path_asks_for_the_file(tmp_path, empty_model_dir):
    folder = tmp_path / "my_models"
    folder.mkdir()
    (folder / "my_nuclei_model").write_bytes(b"x")
    with pytest.raises(ModelError, match="folder; pick the model file") as err:
        CellposeSegmenter.from_params(SegmentationParams(model=str(folder), diameter=30))
    assert "my_nuclei_model" in str(err.value)


def test_corrupt_user_file_is_a_model_error(tmp_path):
    bad = tmp_path / "bad_model"
    bad.write_bytes(b"this is not a torch file")
    with pytest.raises(ModelError, match="could not be loaded"):
        CellposeSegmenter.from_params(SegmentationParams(model=str(bad), diameter=30))


def test_a_file_torch_refuses_to_load_safely_is_one_line(tmp_path):
    """A text file picked as the model (here the project's README): PyTorch's refusal runs to ten
    lines and advises ``weights_only=False``; the error says it in one line and never advises that."""
    bad = tmp_path / "README.md"
    bad.write_bytes((Path(__file__).parents[1] / "README.md").read_bytes())
    with pytest.raises(ModelError) as err:
        CellposeSegmenter.from_params(SegmentationParams(model=str(bad), diameter=30))
    message = str(err.value)
    assert "\n" not in message and "weights_only` set to `False`" not in message
    assert "could not be loaded" in message and "torch.load(weights_only=True) refused it" in message


def test_model_name_inside_cellpose_model_folder(empty_model_dir):
    empty_model_dir.mkdir()
    shutil.copyfile(STARTER, empty_model_dir / "my_gui_model")
    seg = CellposeSegmenter.from_params(SegmentationParams(model="my_gui_model", diameter=20))
    assert seg.kind == "user" and seg.weights == (empty_model_dir / "my_gui_model").resolve()


@pytest.mark.parametrize(("model", "file_name"), [("cyto3", "cyto3"), ("nuclei", "nucleitorch_0")])
def test_missing_builtin_offline_names_model_folder_and_file(model, file_name, empty_model_dir,
                                                            monkeypatch):
    monkeypatch.setenv("BATCHSEG_OFFLINE", "1")
    called = []
    monkeypatch.setattr("cellpose.utils.download_url_to_file", lambda *a, **k: called.append(a))
    t0 = time.perf_counter()
    with pytest.raises(ModelError) as err:
        CellposeSegmenter.from_params(SegmentationParams(model=model, diameter=30))
    assert time.perf_counter() - t0 < time_bound(2.0, cap=10.0)
    msg = str(err.value)
    assert f"'{model}'" in msg and str(empty_model_dir) in msg and f"'{file_name}'" in msg
    assert f"/models/{file_name}" in msg  # where to download it by hand
    assert "BATCHSEG_OFFLINE" in msg and "CELLPOSE_LOCAL_MODELS_PATH" in msg
    assert not called and not empty_model_dir.exists()


def test_failed_download_is_bounded_and_clear(empty_model_dir, monkeypatch):
    monkeypatch.delenv("BATCHSEG_OFFLINE", raising=False)
    monkeypatch.setenv("BATCHSEG_DOWNLOAD_TIMEOUT", "7")
    seen = {}

    def fake_download(url, dst, progress=True):
        seen["url"], seen["dst"], seen["timeout"] = url, dst, socket.getdefaulttimeout()
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr("cellpose.utils.download_url_to_file", fake_download)
    # the host resolves (as with a network): the download itself fails (no network here would stop earlier)
    monkeypatch.setattr("napari_batchseg.segmenters.cellpose.files._check_host", lambda url: None)
    before = socket.getdefaulttimeout()
    with pytest.raises(ModelError) as err:
        CellposeSegmenter.from_params(SegmentationParams(model="cyto3", diameter=30))
    assert seen["timeout"] == 7.0 and socket.getdefaulttimeout() == before
    assert seen["url"].endswith("/models/cyto3")
    assert Path(seen["dst"]) == empty_model_dir / "cyto3"
    msg = str(err.value)
    assert "downloading it failed" in msg and "name resolution" in msg
    assert str(empty_model_dir) in msg and "'cyto3'" in msg


def test_diameter_zero_without_size_model_is_a_parameter_error(empty_model_dir, monkeypatch):
    monkeypatch.setenv("BATCHSEG_OFFLINE", "1")
    with pytest.raises(ParameterError, match="tissuenet_cp3.*diameter"):
        CellposeSegmenter.from_params(SegmentationParams(model="tissuenet_cp3", diameter=0))


def test_builtin_from_local_folder_matches_cellpose_with_size_model(empty_model_dir, monkeypatch):
    """A built-in name loads from CELLPOSE_LOCAL_MODELS_PATH exactly as cellpose.models.Cellpose does.

    No real built-in weights are available offline, so the starter weights stand in for ``cyto3``
    and a neutral size model (always 30 px from the style, then refined by the masks) for
    ``size_cyto3.npy``.
    """
    monkeypatch.setenv("BATCHSEG_OFFLINE", "1")
    empty_model_dir.mkdir()
    shutil.copyfile(STARTER, empty_model_dir / "cyto3")
    with pytest.raises(ModelError, match="size_cyto3.npy"):
        CellposeSegmenter.from_params(SegmentationParams(model="cyto3", diameter=0))
    size = {"A": np.zeros(256), "smean": np.zeros(256), "ymean": 0.0, "diam_mean": 30.0}
    np.save(empty_model_dir / "size_cyto3.npy", size)

    seg = CellposeSegmenter.from_params(SegmentationParams(model="cyto3", diameter=0))
    info = seg.describe()
    assert info["model_kind"] == "builtin"
    assert Path(info["weights"]) == empty_model_dir / "cyto3"
    assert Path(info["size_weights"]) == empty_model_dir / "size_cyto3.npy"
    assert info["diameter_rule"].startswith("estimated")
    image = blobs(shape=(112, 112), n=6, seed=7, radius=(12, 15))
    out = seg.segment(image)

    monkeypatch.setattr(cp_models, "MODEL_DIR", empty_model_dir)
    reference = cp_models.Cellpose(gpu=False, model_type="cyto3")
    masks, _, _, diams = reference.eval(image, channels=[0, 0], diameter=0)
    assert np.array_equal(out.labels, masks)
    assert out.info["diameter"] == pytest.approx(float(diams), abs=1e-3)


# ------------------------------------------------------------------ Cellpose 4 models under Cellpose 3
def test_describe_records_major_and_precision(starter):
    info = starter.describe()
    assert info["cellpose_major"] == 3 and info["bfloat16"] is False
    assert len(info["weights_sha256"]) == 64


@pytest.mark.parametrize("name", ["cpsam", "cpsam_v2"])
def test_cellpose4_name_says_how_to_get_cellpose4(name, empty_model_dir):
    with pytest.raises(ModelError) as err:
        CellposeSegmenter.from_params(SegmentationParams(model=name, diameter=30))
    msg = str(err.value)
    assert f"'{name}' not found" in msg and "cyto3" in msg  # the built-ins of the installed Cellpose
    assert f"'{name}' is a Cellpose 4 built-in model" in msg and "napari-batchseg[cp4]" in msg
    assert catalog.cellpose_version() in msg


def test_cellpose4_weights_are_refused_before_loading(tmp_path, monkeypatch):
    import torch

    v4_file = tmp_path / "my_cpsam_model"  # the state-dict names of a CPSAM network (tiny tensors)
    torch.save({"encoder.patch_embed.proj.weight": torch.zeros(2, 3, 8, 8), "W2": torch.zeros(2)}, v4_file)

    def no_load(*args, **kwargs):
        raise AssertionError("the model must not be built")

    monkeypatch.setattr(cp_models.CellposeModel, "__init__", no_load)
    t0 = time.perf_counter()
    with pytest.raises(ModelError) as err:
        CellposeSegmenter.from_params(SegmentationParams(model=str(v4_file), diameter=30))
    assert time.perf_counter() - t0 < time_bound(2.0, cap=10.0)
    msg = str(err.value)
    assert "is a Cellpose 4 (Cellpose-SAM) model" in msg and "napari-batchseg[cp4]" in msg
    assert catalog.cellpose_version() in msg


def test_several_channels_need_cellpose4():
    with pytest.raises(ParameterError, match="several channels.*Cellpose 4.*napari-batchseg\\[cp4\\]"):
        CellposeSegmenter.from_params(SegmentationParams(model=str(STARTER), diameter=30, channel="0,1"))


def test_catalog_answers_for_cellpose3():
    assert catalog.default_model("cellpose") == "cyto3" == SegmentationParams().model
    assert catalog.offered_models("cellpose") == catalog.CELLPOSE3_MODELS
