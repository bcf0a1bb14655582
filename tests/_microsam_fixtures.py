"""micro-sam test fixtures shared by tests/test_microsam.py and tests/test_microsam_3d.py.

A test module uses them with ``pytest_plugins = ["_microsam_fixtures"]`` and imports the helpers.
The checkpoints hold a real ``vit_b`` SAM (random weights, built by micro-sam's own builder with a
128 px input so the encoder is cheap) and a random UNETR decoder saved in micro-sam's checkpoint format
(``model_state`` + ``decoder_state``). Random weights give arbitrary objects: identity with micro-sam's
own calls is what they can check, not accuracy.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import _areas
import _realdata
from napari_batchseg.params import SegmentationParams

__all__ = [
    "HAS_MICROSAM",
    "IMAGE_SIZE",
    "_assert_same_objects",
    "_image",
    "_micro_sam_segmentation",
    "needs_sam",
]

HAS_MICROSAM = importlib.util.find_spec("micro_sam") is not None
# CI installs the [sam] extra (scripts/setup.sh): there a missing micro-sam fails, never skips (SAM=0: out).
_OPTIONAL = not _areas.required("sam")
_skip_without_sam = pytest.mark.skipif(
    not HAS_MICROSAM and _OPTIONAL, reason="micro-sam not installed (extra [sam])"
)


def needs_sam(func):
    """Mark a test as needing micro-sam (marker ``sam``); skip it when micro-sam is missing, outside CI."""
    return pytest.mark.sam(_skip_without_sam(func))


IMAGE_SIZE = 128


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A random vit_b SAM (128 px input) with and without a random AIS decoder, in micro-sam's formats."""
    if not HAS_MICROSAM:
        _realdata.unavailable("micro-sam not installed (extra [sam])")
    import torch

    from napari_batchseg.segmenters.microsam import _import_microsam

    _import_microsam()  # the compatibility step, and micro-sam's imports with their warnings silenced
    from micro_sam.instance_segmentation import get_unetr
    from micro_sam.models.build_sam import build_sam_vit_b

    torch.manual_seed(0)
    sam = build_sam_vit_b(image_size=IMAGE_SIZE)
    unetr = get_unetr(sam.image_encoder, None, "cpu")
    decoder_state = {k: v.half() for k, v in unetr.state_dict().items() if not k.startswith("encoder")}
    model_state = {k: v.half() for k, v in sam.state_dict().items()}
    root = tmp_path_factory.mktemp("sam-checkpoints")
    with_decoder = root / "vit_b_with_decoder.pt"
    plain = root / "vit_b_plain.pth"
    # micro-sam's fine-tuned format (torch_em "sam." prefix) and the plain SAM release format.
    torch.save(
        {"model_state": {f"sam.{k}": v for k, v in model_state.items()}, "decoder_state": decoder_state},
        with_decoder,
    )
    torch.save(model_state, plain)
    decoder_only = root / "decoder_only.pt"
    torch.save(decoder_state, decoder_only)
    return {"ais": with_decoder, "plain": plain, "decoder": decoder_only}


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    d = tmp_path / "emb-cache"
    monkeypatch.setenv("BATCHSEG_EMBEDDING_CACHE", str(d))
    return d


@pytest.fixture(scope="module")
def ais_segmenter(checkpoints, tmp_path_factory):
    from napari_batchseg.segmenters import load_segmenter

    params = SegmentationParams(
        method="sam",
        model="vit_b",
        checkpoint=str(checkpoints["ais"]),
        extra={"points_per_side": 4, "embedding_cache": str(tmp_path_factory.mktemp("ais-cache"))},
    )
    return load_segmenter(params)


@pytest.fixture
def seg(ais_segmenter, cache_dir):
    """The loaded segmenter, reset to AIS without tiling and with a fresh cache folder."""
    from napari_batchseg.segmenters.microsam import (
        AIS_DEFAULTS,
        AMG_DEFAULTS,
        APG_DEFAULTS,
        VOLUME_DEFAULTS,
        EmbeddingCache,
    )

    s = ais_segmenter
    s.configure(mode="auto", tile_shape=None, halo=None)
    s.configure(**{**AMG_DEFAULTS, "points_per_side": 4})
    # AIS and APG share some keys (min_size, thresholds) with different defaults: reset each mode's own
    s.ais_settings, s.apg_settings = dict(AIS_DEFAULTS), dict(APG_DEFAULTS)
    s.volume_settings = dict(VOLUME_DEFAULTS)
    s.cache = EmbeddingCache(cache_dir)
    s.stats.update(embeddings_computed=0, cache_hits=0, planes=0)
    s.set_context("file.tif", "T0")
    return s


def _image(shape, seed=0) -> np.ndarray:
    """Bright blobs on a dark background, float32 like a prepared plane."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    img = rng.normal(0.1, 0.02, shape)
    for _ in range(6):
        cy, cx = rng.uniform(0, shape[0]), rng.uniform(0, shape[1])
        img += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * rng.uniform(4, 9) ** 2))
    return img.astype(np.float32)


@pytest.fixture(scope="module")
def reference_model(checkpoints):
    """micro-sam's own predictor and state for the AIS checkpoint, loaded by micro-sam alone."""
    from micro_sam import util

    predictor, state = util.get_sam_model(
        model_type="vit_b", device="cpu", checkpoint_path=str(checkpoints["ais"]), image_size=IMAGE_SIZE,
        return_state=True,
    )
    return predictor, state


def _micro_sam_segmenter(reference_model, mode, tiled=False, init=None):
    """micro-sam's own predictor and segmenter for ``mode`` (``get_predictor_and_segmenter``)."""
    from micro_sam.automatic_segmentation import get_predictor_and_segmenter

    predictor, state = reference_model
    _, segmenter = get_predictor_and_segmenter(
        "vit_b", predictor=predictor, state=state, device="cpu", segmentation_mode=mode,
        is_tiled=tiled, **(init or {}),
    )
    decoder = getattr(segmenter, "_decoder", None)
    if decoder is not None:
        # micro-sam 1.8.14's get_decoder leaves the UNETR decoder in training mode, so its BatchNorm
        # layers (in the up-sampling blocks) normalise with the one image's own statistics and overwrite
        # the stored ones at every call (micro-sam issue 1325); the segmenter runs it in eval mode, as
        # inference should. Everything else is micro-sam's own pipeline.
        decoder.eval()
    return predictor, segmenter


def _micro_sam_segmentation(reference_model, mode, img, tile_shape=None, halo=None, init=None, ndim=2,
                            **generate):
    """``micro_sam.automatic_segmentation.automatic_instance_segmentation``: micro-sam's own pipeline.

    ``ndim=3``: a ``(Z, Y, X)`` volume through micro-sam's 3D automatic segmentation.
    """
    from micro_sam.automatic_segmentation import automatic_instance_segmentation

    predictor, segmenter = _micro_sam_segmenter(reference_model, mode, tile_shape is not None, init)
    return np.asarray(automatic_instance_segmentation(
        predictor, segmenter, img, ndim=ndim, tile_shape=tile_shape, halo=halo, verbose=False, **generate
    ))


def _assert_same_objects(ours: np.ndarray, theirs: np.ndarray, at_least: int) -> int:
    """Pixel for pixel the same objects (the same background, and a one-to-one map between the ids:
    micro-sam's block-wise watershed numbers objects in the order its threads finish), enough of them."""
    ids = np.unique(theirs)
    n = int(np.count_nonzero(ids))
    assert n >= at_least, f"micro-sam itself finds {n} objects: the comparison would say little"
    assert ours.shape == theirs.shape
    assert np.array_equal(ours == 0, theirs == 0), f"{int(np.count_nonzero((ours == 0) != (theirs == 0)))} px"
    pairs = np.unique(np.stack([ours.ravel().astype(np.int64), theirs.ravel().astype(np.int64)]), axis=1)
    assert pairs.shape[1] == ids.size == np.unique(ours).size, "objects split or merged differently"
    return n
