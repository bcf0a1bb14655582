"""Cellpose 3 restoration before segmentation (``--restore``), with restore networks the tests build.

No restore weights can be downloaded here: the tests save a randomly initialised ``cellpose.denoise``
network (a ``CPnet`` with one output, seed 0) as a user file and as a built-in file in a model folder
of their own, and compare our restoration with ``DenoiseModel.eval`` on the same input; a run with
``--restore`` segments the restored plane with the project's own model, logs the restore weights'
hash, saves the restored image with ``--debug``, and ``batchseg rerun`` repeats it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.devices import pick_device
from napari_batchseg.errors import ModelError

pytestmark = pytest.mark.cp3

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "examples" / "models" / "batchseg_nuclei_cp3"


def _restore_net(path: Path, seed: int = 0) -> Path:
    """A randomly initialised Cellpose 3 restore network (one output), saved as a state dict."""
    import torch
    from cellpose.resnet_torch import CPnet

    torch.manual_seed(seed)
    net = CPnet([1, 32, 64, 128, 256], 1, sz=3, mkldnn=False, max_pool=True, diam_mean=30.0)
    torch.save(net.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def crop(tmp_path_factory, dsb2018) -> Path:
    folder = tmp_path_factory.mktemp("restore")
    tifffile.imwrite(folder / "crop.tif", np.asarray(tifffile.imread(dsb2018[0]))[:96, :112])
    return folder / "crop.tif"


def test_restorer_equals_denoise_model_eval(tmp_path: Path, crop: Path) -> None:
    from cellpose import denoise

    from napari_batchseg.segmenters.cellpose.restore import Restorer

    weights = _restore_net(tmp_path / "my_denoise_net")
    image = tifffile.imread(crop).astype(np.float32)
    for diameter in (None, 20.0):
        restorer = Restorer.load(str(weights), pick_device(False), diameter)
        got = restorer.restore(image)
        reference = denoise.DenoiseModel(pretrained_model=str(weights)).eval(
            image, channels=[0, 0], diameter=diameter)
        assert got.shape == image.shape and got.dtype == np.float32
        assert np.array_equal(got, np.asarray(reference)[..., 0])
        assert not np.allclose(got, image)  # it did something


def test_upsampling_model_keeps_the_input_grid(tmp_path: Path, crop: Path) -> None:
    from cellpose import denoise, transforms

    from napari_batchseg.segmenters.cellpose.restore import Restorer

    weights = _restore_net(tmp_path / "upsample_mine")
    image = tifffile.imread(crop).astype(np.float32)
    got = Restorer.load(str(weights), pick_device(False), 15.0).restore(image)
    big = np.asarray(denoise.DenoiseModel(pretrained_model=str(weights)).eval(
        image, channels=[0, 0], diameter=15.0))[..., 0]
    assert big.shape == (192, 224)  # Cellpose enlarged it by 30 / 15
    expected = transforms.resize_image(big, 96, 112, no_channels=True)
    assert got.shape == image.shape and np.array_equal(got, expected)


def test_builtin_name_is_read_from_the_model_folder(tmp_path: Path, monkeypatch) -> None:
    from napari_batchseg.segmenters.cellpose.restore import Restorer

    monkeypatch.setenv("CELLPOSE_LOCAL_MODELS_PATH", str(tmp_path))
    monkeypatch.setenv("BATCHSEG_OFFLINE", "1")
    with pytest.raises(ModelError) as exc:
        Restorer.load("denoise_cyto3", pick_device(False), None)
    text = str(exc.value)
    assert "denoise_cyto3" in text and str(tmp_path) in text and "\n" not in text
    _restore_net(tmp_path / "denoise_nuclei")
    restorer = Restorer.load("denoise_nuclei", pick_device(False), None)
    assert restorer.describe()["restore_kind"] == "builtin"
    assert restorer.weights == tmp_path / "denoise_nuclei"
    assert restorer.model.diam_mean == 17.0  # as Cellpose sets it for its nuclei restore models


def test_segmentation_model_given_as_restore_is_refused() -> None:
    from napari_batchseg.segmenters.cellpose.restore import Restorer

    with pytest.raises(ModelError, match="not a restore model"):
        Restorer.load(str(MODEL), pick_device(False), None)
    with pytest.raises(ModelError, match="not found"):
        Restorer.load("no_such_restore_model", pick_device(False), None)


def test_run_with_restore_segments_the_restored_plane_and_reruns(tmp_path: Path, crop: Path) -> None:
    import json

    from cellpose import models

    from napari_batchseg.cli import main
    from napari_batchseg.io.masks import read_mask
    from napari_batchseg.provenance import SEGMENTER_PREFIX
    from napari_batchseg.segmenters.cellpose.files import sha256

    weights = _restore_net(tmp_path / "denoise_mine")
    out = tmp_path / "out"
    assert main(["segment", str(crop), "--model", str(MODEL), "--diameter", "17", "--restore",
                 str(weights), "--debug", "--output-dir", str(out), "-q"]) == 0
    restored = tifffile.imread(out / "crop_vSM_restored.tif")
    image = tifffile.imread(crop).astype(np.float32)
    from napari_batchseg.segmenters.cellpose.restore import Restorer

    assert np.array_equal(restored, Restorer.load(str(weights), pick_device(False), 17.0).restore(image))
    model = models.CellposeModel(pretrained_model=str(MODEL))
    expected, _flows, _styles = model.eval(restored, channels=[0, 0], diameter=17.0)
    mask = read_mask(out / "crop_vSM.ome.tif").labels[0]
    assert np.array_equal(mask, expected)
    plain, _f, _s = model.eval(image, channels=[0, 0], diameter=17.0)
    assert not np.array_equal(mask, plain)  # restoration changed the result
    text = (out / "crop_vSM.log").read_text("utf-8")
    line = next(m for m in text.splitlines() if SEGMENTER_PREFIX in m)
    described = json.loads(line.split(SEGMENTER_PREFIX, 1)[1])
    assert described["restore_model"] == str(weights)
    assert described["restore_weights_sha256"] == sha256(weights)
    assert main(["rerun", str(out / "crop_vSM.log"), "--suffix", "again", "-q"]) == 0
    assert np.array_equal(read_mask(out / "crop_vSM-again.ome.tif").labels[0], mask)
