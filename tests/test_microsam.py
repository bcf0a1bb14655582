"""micro-sam segmenter: the real micro-sam code path on small checkpoints built here.

The checkpoints hold a real ``vit_b`` SAM (random weights, built by micro-sam's own builder with a
128 px input so the encoder is cheap) and a random UNETR decoder saved in micro-sam's checkpoint format
(``model_state`` + ``decoder_state``). Random weights give arbitrary objects: these tests check the
plumbing (loading, modes, tiling, cache, labels, errors), not accuracy.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import _areas
from _timing import time_bound
from napari_batchseg.errors import ModelError
from napari_batchseg.params import SegmentationParams

pytest.register_assert_rewrite("_microsam_fixtures")  # before the import: its asserts explain failures
from _microsam_fixtures import (  # noqa: E402
    IMAGE_SIZE,
    _assert_same_objects,
    _image,
    _micro_sam_segmentation,
    needs_sam,
)

pytest_plugins = ["_microsam_fixtures"]  # checkpoints, cache_dir, ais_segmenter, seg, reference_model

HAS_TV = importlib.util.find_spec("torchvision") is not None
_OPTIONAL = not _areas.required("sam")
needs_tv = pytest.mark.skipif(not HAS_TV and _OPTIONAL, reason="torchvision not installed")


def _run_py(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
        env=full_env,
    )


def assert_label_semantics(labels: np.ndarray, shape: tuple[int, ...]) -> int:
    assert labels.shape == shape
    assert labels.dtype == np.uint32
    ids = np.unique(labels)
    ids = ids[ids != 0]
    assert np.array_equal(ids, np.arange(1, ids.size + 1)), "ids must be 1..N"
    return int(ids.size)


# ============================================================================ torchvision compatibility
def _nms_bruteforce(boxes: np.ndarray, scores: np.ndarray, thr: float) -> list[int]:
    order = sorted(range(len(scores)), key=lambda i: -float(scores[i]))  # stable for ties
    keep: list[int] = []
    for i in order:
        x1, y1, x2, y2 = (float(v) for v in boxes[i])
        ok = True
        for j in keep:
            a1, b1, a2, b2 = (float(v) for v in boxes[j])
            iw = max(0.0, min(x2, a2) - max(x1, a1))
            ih = max(0.0, min(y2, b2) - max(y1, b1))
            inter = iw * ih
            union = (x2 - x1) * (y2 - y1) + (a2 - a1) * (b2 - b1) - inter
            if union > 0 and inter / union > thr:
                ok = False
                break
        if ok:
            keep.append(i)
    return keep


def _random_boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    xy = rng.uniform(0, 100, size=(n, 2))
    wh = rng.uniform(1, 40, size=(n, 2))
    boxes = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
    boxes[: n // 10] = boxes[n // 10 : 2 * (n // 10)]  # exact duplicates
    return boxes


@needs_tv
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("thr", [0.0, 0.3, 0.7])
def test_nms_reference_matches_bruteforce(seed, thr):
    import torch

    from napari_batchseg.segmenters.microsam._torchvision_compat import nms_reference

    rng = np.random.default_rng(seed)
    boxes = _random_boxes(rng, 200)
    scores = rng.random(200).astype(np.float32)
    scores[5:15] = 0.5  # ties: kept in index order, as torchvision's stable sort does
    kept = nms_reference(torch.from_numpy(boxes), torch.from_numpy(scores), thr)
    assert kept.dtype == torch.int64
    assert kept.tolist() == _nms_bruteforce(boxes, scores, thr)


@needs_tv
def test_nms_reference_edge_cases():
    import torch

    from napari_batchseg.segmenters.microsam._torchvision_compat import nms_reference

    empty = nms_reference(torch.zeros((0, 4)), torch.zeros(0), 0.5)
    assert empty.shape == (0,) and empty.dtype == torch.int64
    one = nms_reference(torch.tensor([[0.0, 0, 1, 1]]), torch.tensor([0.3]), 0.5)
    assert one.tolist() == [0]
    # Zero-area boxes never suppress anything (IoU is 0 or undefined), as in torchvision.
    deg = torch.tensor([[1.0, 1, 1, 1], [1.0, 1, 1, 1], [0, 0, 2, 2]])
    assert sorted(nms_reference(deg, torch.tensor([0.9, 0.8, 0.7]), 0.1).tolist()) == [0, 1, 2]
    with pytest.raises(RuntimeError):
        nms_reference(torch.zeros((3, 5)), torch.zeros(3), 0.5)


@needs_tv
def test_ensure_torchvision_gives_working_nms():
    import torch

    from napari_batchseg.segmenters.microsam._torchvision_compat import (
        ensure_torchvision,
        nms_reference,
        real_nms_available,
        shim_active,
    )

    tv = ensure_torchvision()
    assert ensure_torchvision() is tv  # idempotent
    assert shim_active() != real_nms_available()
    rng = np.random.default_rng(3)
    boxes = torch.from_numpy(_random_boxes(rng, 300))
    scores = torch.from_numpy(rng.random(300).astype(np.float32))
    kept = tv.ops.nms(boxes, scores, 0.5)
    assert kept.tolist() == nms_reference(boxes, scores, 0.5).tolist()
    idxs = torch.from_numpy(rng.integers(0, 3, 300))
    batched = tv.ops.batched_nms(boxes, scores, idxs, 0.5)
    expected = []
    for c in range(3):
        sel = torch.nonzero(idxs == c).flatten()
        expected += sel[nms_reference(boxes[sel], scores[sel], 0.5)].tolist()
    assert sorted(batched.tolist()) == sorted(expected)
    # scores in the result are non-increasing
    assert torch.all(scores[batched][1:] <= scores[batched][:-1])


@needs_tv
def test_shim_only_when_the_real_op_is_missing():
    """``BATCHSEG_TORCHVISION_SHIM=0`` lets torchvision's own error through; a registered
    ``torchvision::nms`` (the real op) is never replaced."""
    proc = _run_py(
        """
        import os, sys
        import torch
        from napari_batchseg.segmenters.microsam import _torchvision_compat as c

        if c.real_nms_available():
            print("REAL-OPS")  # torchvision's compiled ops are there: nothing to simulate
            c.ensure_torchvision()
            assert not c.shim_active()
            sys.exit(0)
        os.environ["BATCHSEG_TORCHVISION_SHIM"] = "0"
        try:
            c.ensure_torchvision()
        except RuntimeError as exc:
            print("RAISED", exc)
        else:
            assert c.real_nms_available() and not c.shim_active()
            print("REAL-OPS")
            sys.exit(0)
        os.environ["BATCHSEG_TORCHVISION_SHIM"] = "1"
        for m in [m for m in sys.modules if m.startswith("torchvision")]:
            del sys.modules[m]
        lib = torch.library.Library("torchvision", "FRAGMENT")
        lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        lib.impl("nms", lambda d, s, t: torch.full((1,), 42, dtype=torch.long), "CPU")
        lib.impl("qnms", lambda d, s, t: torch.full((1,), 43, dtype=torch.long), "CPU")
        assert c.real_nms_available()
        tv = c.ensure_torchvision()
        assert not c.shim_active(), "shim installed although the real op exists"
        print("KEPT", torch.ops.torchvision.nms(torch.zeros((2, 4)), torch.zeros(2), 0.5).tolist())
        """
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    if "REAL-OPS" not in proc.stdout:
        assert "RAISED operator torchvision::nms does not exist" in proc.stdout
        assert "KEPT [42]" in proc.stdout


# ============================================================================ errors without micro-sam
def test_missing_microsam_package_says_how_to_install(monkeypatch):
    from napari_batchseg.segmenters import load_segmenter

    monkeypatch.setitem(sys.modules, "micro_sam", None)  # import micro_sam now fails
    t0 = time.perf_counter()
    with pytest.raises(ModelError) as info:
        load_segmenter(SegmentationParams(method="sam", model="vit_b_lm"))
    assert time.perf_counter() - t0 < time_bound(5.0, cap=15.0)
    msg = str(info.value)
    assert "micro-sam" in msg and "not installed" in msg
    assert "pip install 'napari-batchseg[sam]'" in msg and "docs/microsam.md" in msg


def test_relabel_consecutive():
    from napari_batchseg.segmenters.microsam import relabel_consecutive

    seg = np.array([[0, 7, 7], [3, 0, 2**40]], dtype=np.uint64)
    out, n = relabel_consecutive(seg)
    assert n == 3 and out.dtype == np.uint32
    assert out.tolist() == [[0, 2, 2], [1, 0, 3]]
    out, n = relabel_consecutive(np.zeros((2, 2), np.int64))
    assert n == 0 and out.dtype == np.uint32 and not out.any()


def test_embedding_cache_dir_settings(monkeypatch, tmp_path):
    from napari_batchseg.segmenters.microsam import embedding_cache_dir

    monkeypatch.setenv("BATCHSEG_EMBEDDING_CACHE", str(tmp_path / "env"))
    assert embedding_cache_dir() == tmp_path / "env"
    assert embedding_cache_dir(str(tmp_path / "x")) == tmp_path / "x"
    assert embedding_cache_dir(False) is None
    monkeypatch.setenv("BATCHSEG_EMBEDDING_CACHE", "off")
    assert embedding_cache_dir() is None
    monkeypatch.delenv("BATCHSEG_EMBEDDING_CACHE")
    assert embedding_cache_dir().name == "sam-embeddings"


def test_embedding_cache_key_covers_pixels_model_and_tiling(tmp_path):
    from napari_batchseg.segmenters.microsam import EmbeddingCache

    cache = EmbeddingCache(tmp_path)
    img = np.arange(12, dtype=np.float32).reshape(3, 4)
    model = {"model": "vit_b_lm", "weights_hash": "xxh128:1", "image_size": 1024}
    base = cache.key(img, model, None, None)
    assert base == cache.key(img.copy(), dict(model), None, None)
    other_px = img.copy()
    other_px[0, 0] += 1
    variants = [
        cache.key(other_px, model, None, None),
        cache.key(img.reshape(4, 3), model, None, None),
        cache.key(img.astype(np.float64), model, None, None),
        cache.key(img, {**model, "weights_hash": "xxh128:2"}, None, None),
        cache.key(img, {**model, "model": "vit_b"}, None, None),
        cache.key(img, {**model, "image_size": 512}, None, None),
        cache.key(img, model, (2, 2), (1, 1)),
        cache.key(img, model, (2, 2), (0, 0)),
    ]
    assert len({base, *variants}) == len(variants) + 1


def test_embedding_cache_prune_keeps_recent_entries(tmp_path):
    from napari_batchseg.segmenters.microsam import EmbeddingCache

    cache = EmbeddingCache(tmp_path, max_bytes=2500)
    entries = []
    for i in range(4):
        key = f"{i:02d}" + "ab" * 19
        entry = cache.path(key)
        entry.mkdir(parents=True)
        (entry / "chunk").write_bytes(b"x" * 1000)
        os.utime(entry, (1000 + i, 1000 + i))
        entries.append(entry)
    assert cache.prune(keep=entries[0]) == 2  # the oldest are dropped, never the one just written
    assert [e.exists() for e in entries] == [True, False, False, True]


# ============================================================================ real micro-sam path
def _amg_finds_objects(segmenter) -> None:
    """AMG settings under which the random-weight checkpoints give objects, through the segmenter's settings.

    With random weights every point prompt yields a mask over most of the plane, with arbitrary IoU
    predictions and stability. Thresholds at zero keep the masks; ``with_background=False`` keeps the
    largest one, which micro-sam would otherwise take for the background. The rest is micro-sam's AMG.
    """
    segmenter.configure(mode="amg", pred_iou_thresh=0.0, stability_score_thresh=0.0, with_background=False)


@needs_sam
def test_loads_checkpoint_auto_mode_is_ais_with_decoder(ais_segmenter, checkpoints):
    s = ais_segmenter
    assert s.name == "sam" and s.decoder is not None
    assert s.weights.image_size == IMAGE_SIZE
    d = s.describe()
    json.dumps(d)
    assert d["method"] == "sam" and d["model"] == "vit_b" and d["architecture"] == "vit_b"
    assert d["checkpoint"] == str(checkpoints["ais"])
    assert d["decoder"] == "in checkpoint" and d["device"] == "cpu"
    assert d["weights_hash"].startswith("xxh128:")
    assert "micro_sam" in d["versions"] and "torch" in d["versions"]


@needs_sam
def test_ais_segments_with_label_semantics_and_cache(seg, cache_dir, monkeypatch):
    img = _image((96, 120))
    out = seg.segment(img)
    n = assert_label_semantics(out.labels, (96, 120))
    assert out.info["mode"] == "ais" and out.info["n_objects"] == n
    assert out.info["embedding_cache"] == "miss"
    assert seg.stats["embeddings_computed"] == 1
    entries = list(cache_dir.glob("*/*.zarr"))
    assert len(entries) == 1 and not list(cache_dir.glob("*/.*tmp*"))

    # Same file, frame and pixels, other thresholds: the encoder must not run again.
    def boom(*a, **k):
        raise AssertionError("image encoder ran although the embeddings are cached")

    monkeypatch.setattr(seg.predictor.model.image_encoder, "forward", boom)
    seg.configure(center_distance_threshold=0.9, boundary_distance_threshold=0.9, min_size=5)
    again = seg.segment(img)
    assert again.info["embedding_cache"] == "hit"
    assert seg.stats == {"embeddings_computed": 1, "cache_hits": 1, "planes": 2}
    assert_label_semantics(again.labels, (96, 120))
    # Same thresholds as the first run: identical labels from the cached embeddings.
    seg.configure(center_distance_threshold=0.5, boundary_distance_threshold=0.5, min_size=0)
    assert np.array_equal(seg.segment(img).labels, out.labels)
    # AMG on the same plane reuses the same embeddings too, and finds objects (see _amg_finds_objects).
    _amg_finds_objects(seg)
    amg = seg.segment(img)
    assert amg.info["mode"] == "amg" and amg.info["embedding_cache"] == "hit"
    n_amg = assert_label_semantics(amg.labels, (96, 120))
    assert n_amg >= 1 and amg.info["n_objects"] == n_amg
    monkeypatch.undo()

    # Without the cache (fresh embeddings): the same labels as from the cached ones.
    seg.configure(mode="ais")
    cache, seg.cache = seg.cache, None
    try:
        uncached = seg.segment(img)
    finally:
        seg.cache = cache
    assert uncached.info["embedding_cache"] == "off"
    assert np.array_equal(uncached.labels, out.labels)
    # Other pixels under the same file/frame name: never the cached embeddings.
    _, hit = seg.embeddings(img * 2 + 1)
    assert not hit and len(list(cache_dir.glob("*/*.zarr"))) == 2
    # The same pixels under another file and frame: found again; the entry records where it came from.
    seg.set_context("copy.tif", "T7")
    _, hit = seg.embeddings(img)
    assert hit
    import zarr

    (entry,) = [e for e in cache_dir.glob("*/*.zarr") if e in entries]
    meta = zarr.open_group(str(entry), mode="r").attrs["napari_batchseg"]
    assert meta["file"] == "file.tif" and meta["frame"] == "T0" and meta["model"] == "vit_b"


@needs_sam
def test_damaged_cache_entry_is_recomputed(seg, cache_dir):
    img = _image((64, 64), seed=5)
    key = seg.cache.key(img, seg.model_id, None, None)
    entry = seg.cache.path(key)
    entry.mkdir(parents=True)  # looks complete (signature written), but holds no features
    (entry / "zarr.json").write_text(
        json.dumps({"zarr_format": 3, "node_type": "group", "attributes": {"input_size": [128, 128]}})
    )
    with pytest.warns(UserWarning, match="unreadable"):
        emb, hit = seg.embeddings(img)
    assert not hit and emb["features"].shape == (1, 256, IMAGE_SIZE // 16, IMAGE_SIZE // 16)
    assert seg.cache.contains(key)
    emb2, hit = seg.embeddings(img)
    assert hit and np.array_equal(np.asarray(emb2["features"]), np.asarray(emb["features"]))


@needs_sam
def test_segment_batch_equals_one_by_one(seg):
    imgs = [_image((64, 64), seed=s) for s in (6, 7)]
    seg.set_context("movie.tif", "T0-T1")
    batch = seg.segment_batch(imgs)
    seg.set_context("movie.tif", "T0-T1")
    singles = [seg.segment(imgs[0])]
    assert len(batch) == 2
    assert np.array_equal(batch[0].labels, singles[0].labels)
    assert batch[1].labels.shape == (64, 64)


@needs_sam
def test_tiled_ais_and_amg(seg, cache_dir, monkeypatch):
    img = _image((120, 64), seed=1)  # two tiles, one seam
    seg.configure(tile_shape=(64, 64), halo=(16, 16))
    assert seg.describe()["tile_shape"] == [64, 64] and seg.describe()["halo"] == [16, 16]
    out = seg.segment(img)
    assert_label_semantics(out.labels, (120, 64))
    assert out.info["embedding_cache"] == "miss" and seg.stats["embeddings_computed"] == 1

    def boom(*a, **k):
        raise AssertionError("image encoder ran although the tiled embeddings are cached")

    monkeypatch.setattr(seg.predictor.model.image_encoder, "forward", boom)
    seg.configure(foreground_threshold=0.6)
    assert seg.segment(img).info["embedding_cache"] == "hit"
    # Objects are not asserted here: micro-sam's tiled AMG drops every mask whose box lies within 20 px
    # of an inner tile edge, and the random-weight masks span most of a tile (the untiled AMG tests
    # check that AMG finds objects).
    _amg_finds_objects(seg)
    amg = seg.segment(img)
    assert amg.info["embedding_cache"] == "hit"
    assert_label_semantics(amg.labels, (120, 64))
    monkeypatch.undo()
    seg.configure(tile_shape=None)
    assert seg.halo is None


def _disk_maps(shape, centers, radius):
    """Decoder-like maps for disks: foreground, normalised centre and boundary distances."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    fg = np.zeros(shape, np.float32)
    center = np.ones(shape, np.float32)
    boundary = np.ones(shape, np.float32)
    for cy, cx in centers:
        r = np.hypot(yy - cy, xx - cx) / radius
        inside = r < 1
        fg[inside] = 1
        center[inside] = np.minimum(center[inside], r[inside])
        boundary[inside] = np.minimum(boundary[inside], r[inside])
    return fg, center, boundary


@needs_sam
def test_tiled_ais_keeps_objects_across_tile_seams(seg):
    """micro-sam stitches the decoder maps and runs one block-wise watershed: no split at seams."""
    shape = (128, 128)
    # Disks centred on the seams at 64 (and one on the corner where four tiles meet).
    centers = [(64, 20), (20, 64), (64, 64), (100, 64), (64, 105)]
    maps = _disk_maps(shape, centers, radius=12)
    seg.configure(mode="ais", tile_shape=None)
    untiled = seg.labels_from_maps(*maps)
    seg.configure(tile_shape=(64, 64), halo=(16, 16))
    tiled = seg.labels_from_maps(*maps)
    for labels in (untiled, tiled):
        assert_label_semantics(labels, shape)
        assert labels.max() == len(centers)
        for cy, cx in centers:
            ids = np.unique(labels[cy - 8 : cy + 9, cx - 8 : cx + 9])
            assert ids.tolist() == [int(labels[cy, cx])], f"object at {(cy, cx)} split: {ids}"
    # Same partition up to the id order.
    pairs = {(int(a), int(b)) for a, b in zip(untiled.ravel(), tiled.ravel(), strict=True)}
    assert len(pairs) == len(centers) + 1


@needs_sam
def test_engine_writes_mask_with_sam(seg, tmp_path):
    """The engine's output contract: *_vSM.ome.tif, uint16 on disk, log naming micro-sam."""
    import tifffile

    from napari_batchseg import segment_files
    from napari_batchseg.io.masks import read_mask

    movie = np.stack([_image((64, 72), seed=s) for s in (8, 9)])
    src = tmp_path / "movie.tif"
    tifffile.imwrite(src, (movie * 1000).astype(np.uint16), imagej=True, metadata={"axes": "TYX"})
    params = SegmentationParams(
        method="sam", model="vit_b", checkpoint=str(seg.weights.checkpoint), output_dir=str(tmp_path / "out")
    )
    summary = segment_files(src, params, segmenter=seg)
    assert summary.ok, summary.reports
    (report,) = summary.reports
    assert report.mask.name.endswith("_vSM.ome.tif")
    mask = read_mask(report.mask)
    assert mask.labels.shape == (2, 64, 72) and mask.labels.dtype == np.uint16
    assert "sam" in mask.log_text and "vit_b" in mask.log_text
    assert seg.stats["embeddings_computed"] == 2
    # Re-running (other thresholds) over the same file reuses every frame's embeddings.
    seg.configure(center_distance_threshold=0.4)
    summary = segment_files(src, params.replace(existing="overwrite"), segmenter=seg)
    assert summary.ok
    assert seg.stats["embeddings_computed"] == 2 and seg.stats["cache_hits"] == 2


@needs_sam
def test_plain_checkpoint_auto_is_amg_and_ais_is_refused(checkpoints, cache_dir):
    from napari_batchseg.segmenters import load_segmenter

    base = dict(method="sam", model="vit_b", checkpoint=str(checkpoints["plain"]))
    with pytest.raises(ModelError, match="decoder"):
        load_segmenter(SegmentationParams(**base, sam_mode="ais"))
    s = load_segmenter(SegmentationParams(**base, extra={"points_per_side": 4}))
    assert s.mode == "amg" and s.decoder is None
    _amg_finds_objects(s)
    out = s.segment(_image((64, 64), seed=2))
    assert out.info["mode"] == "amg"
    n = assert_label_semantics(out.labels, (64, 64))
    assert n >= 1 and out.info["n_objects"] == n
    # micro-sam's own background rule drops the largest mask: one object less
    s.configure(with_background=True)
    assert assert_label_semantics(s.segment(_image((64, 64), seed=2)).labels, (64, 64)) == n - 1
    with pytest.raises(ModelError, match="decoder"):
        s.configure(mode="ais")


@needs_sam
def test_builtin_model_from_cache_folder_offline(checkpoints, tmp_path, monkeypatch, cache_dir):
    """A model placed in MICROSAM_CACHEDIR/models is used as is: no download, decoder found."""
    import shutil

    from napari_batchseg.segmenters import load_segmenter

    models = tmp_path / "msam" / "models"
    models.mkdir(parents=True)
    shutil.copy(checkpoints["plain"], models / "vit_b_lm")
    shutil.copy(checkpoints["decoder"], models / "vit_b_lm_decoder")
    monkeypatch.setenv("MICROSAM_CACHEDIR", str(tmp_path / "msam"))
    monkeypatch.setenv("BATCHSEG_OFFLINE", "1")
    s = load_segmenter(SegmentationParams(method="sam", model="vit_b_lm"))
    assert s.mode == "ais" and s.decoder is not None
    d = s.describe()
    assert d["model"] == "vit_b_lm" and d["checkpoint"] is None
    assert d["weights"] == str(models / "vit_b_lm") and d["decoder"] == str(models / "vit_b_lm_decoder")


@needs_sam
@pytest.mark.parametrize("mode", ["auto", "amg"])
def test_missing_builtin_weights_offline_is_a_fast_clear_error(tmp_path, monkeypatch, mode):
    from napari_batchseg.segmenters import load_segmenter
    from napari_batchseg.segmenters.microsam import _import_microsam

    _import_microsam()  # import cost is not part of the check
    monkeypatch.setenv("MICROSAM_CACHEDIR", str(tmp_path / "empty"))
    monkeypatch.setenv("BATCHSEG_OFFLINE", "1")
    t0 = time.perf_counter()
    with pytest.raises(ModelError) as info:
        load_segmenter(SegmentationParams(method="sam", model="vit_b_lm", sam_mode=mode))
    assert time.perf_counter() - t0 < time_bound(5.0, cap=15.0)
    msg = str(info.value)
    folder = tmp_path / "empty" / "models"
    assert "'vit_b_lm'" in msg and str(folder) in msg and "MICROSAM_CACHEDIR" in msg
    assert str(folder / "vit_b_lm") in msg and "https://" in msg and "--checkpoint" in msg
    assert ("vit_b_lm_decoder" in msg) == (mode == "auto")


@needs_sam
def test_failed_download_becomes_model_error(tmp_path, monkeypatch):
    import pooch

    from napari_batchseg.segmenters import load_segmenter

    calls = []

    import requests

    def no_network(self, url, output_file, pooch_obj, check_only=False):
        calls.append(url)
        # what requests raises without a network (a walk: 13 lines of it in the dock)
        raise requests.exceptions.ConnectionError(
            f"HTTPSConnectionPool(host='x.org', port=443): Max retries exceeded with url: {url} (Caused by "
            "NameResolutionError(\"<urllib3.connection.HTTPSConnection object at 0x7f>: Failed to resolve "
            "'x.org' ([Errno -3] Temporary failure in name resolution)\"))")

    monkeypatch.setattr(pooch.HTTPDownloader, "__call__", no_network)
    # the host's name resolves (where it does not, the run fails before downloading: test_s46_weights_lookup)
    monkeypatch.setattr("napari_batchseg.segmenters.on_disk.check_host", lambda url: None)
    monkeypatch.setenv("MICROSAM_CACHEDIR", str(tmp_path / "empty"))
    monkeypatch.delenv("BATCHSEG_OFFLINE", raising=False)
    with pytest.raises(ModelError, match="download failed: no connection to the server") as info:
        load_segmenter(SegmentationParams(method="sam", model="vit_l_em_organelles"))
    assert calls and "vit_l_em_organelles" in str(info.value)
    assert "HTTPSConnectionPool" not in str(info.value) and "0x7f" not in str(info.value)


@needs_sam
def test_bad_model_arguments(tmp_path, checkpoints):
    from napari_batchseg.segmenters import load_segmenter

    with pytest.raises(ModelError, match="not a micro-sam model"):
        load_segmenter(SegmentationParams(method="sam", model="cyto3"))
    with pytest.raises(ModelError, match="not found"):
        load_segmenter(SegmentationParams(method="sam", model="vit_b", checkpoint=str(tmp_path / "no.pt")))
    with pytest.raises(ModelError, match="architecture"):
        load_segmenter(SegmentationParams(method="sam", model="big", checkpoint=str(checkpoints["plain"])))
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="cannot be loaded"):
        load_segmenter(SegmentationParams(method="sam", model="vit_b", checkpoint=str(junk)))


# ============================================================================ identity with micro-sam itself
IDENTITY_CASES = [  # (image shape, seed, tile_shape, halo)
    pytest.param((96, 120), 0, None, None, id="untiled"),
    pytest.param((120, 64), 1, (64, 64), (16, 16), id="tiled"),
]


#: tiled AIS runs micro-sam's block-wise watershed on one thread (its result depends on the number of
#: threads; with its default, the machine's cores, 11 objects were split into 16 id pairs)
AIS_IDENTITY_CASES = IDENTITY_CASES


@needs_sam
@pytest.mark.parametrize(("shape", "seed", "tile", "halo"), AIS_IDENTITY_CASES)
def test_ais_equals_micro_sam_automatic_segmentation(seg, reference_model, shape, seed, tile, halo):
    """Our AIS with its default settings gives micro-sam's own result with those settings."""
    from napari_batchseg.segmenters.microsam import AIS_DEFAULTS

    img = _image(shape, seed=seed)
    seg.configure(mode="ais", tile_shape=tile, halo=halo)
    ours = seg.segment(img)
    threads = {"n_threads": 1} if tile is not None else {}
    theirs = _micro_sam_segmentation(reference_model, "ais", img, tile, halo, **threads, **AIS_DEFAULTS)
    n = _assert_same_objects(ours.labels, theirs, at_least=3)
    assert ours.info["n_objects"] == n
    # and other thresholds, set through the segmenter's settings, reach micro-sam the same way
    seg.configure(foreground_threshold=0.55, min_size=10)
    changed = {**AIS_DEFAULTS, "foreground_threshold": 0.55, "min_size": 10}
    other = _micro_sam_segmentation(reference_model, "ais", img, tile, halo, **threads, **changed)
    m = _assert_same_objects(seg.segment(img).labels, other, at_least=1)
    assert m != n or not np.array_equal(other, theirs)


@needs_sam
@pytest.mark.parametrize(("shape", "seed", "tile", "halo"), IDENTITY_CASES)
def test_amg_equals_micro_sam_automatic_segmentation(seg, reference_model, shape, seed, tile, halo):
    """Our AMG equals micro-sam's, with micro-sam's default thresholds and with permissive ones."""
    img = _image(shape, seed=seed)
    seg.configure(mode="amg", tile_shape=tile, halo=halo, points_per_side=4)
    init = {"points_per_side": 4} if tile is None else {"points_per_side": 4, "points_per_batch": 64}
    defaults = _micro_sam_segmentation(reference_model, "amg", img, tile, halo, init=init)
    _assert_same_objects(seg.segment(img).labels, defaults, at_least=0)
    permissive = {"pred_iou_thresh": 0.0, "stability_score_thresh": 0.0, "with_background": False}
    seg.configure(**permissive)
    theirs = _micro_sam_segmentation(reference_model, "amg", img, tile, halo, init=init, **permissive)
    # tiled, micro-sam's AMG drops every mask whose box lies within 20 px of an inner tile edge, and the
    # random-weight masks span most of a tile: there both find nothing (untiled both find objects)
    _assert_same_objects(seg.segment(img).labels, theirs, at_least=1 if tile is None else 0)


APG_IDENTITY_CASES = [  # APG runs SAM's mask decoder once per prompt: small planes keep it cheap
    pytest.param((64, 80), 0, None, None, id="untiled"),
    pytest.param((100, 64), 1, (64, 64), (16, 16), id="tiled"),
]


@needs_sam
@pytest.mark.parametrize(("shape", "seed", "tile", "halo"), APG_IDENTITY_CASES)
def test_apg_equals_micro_sam_automatic_segmentation(seg, reference_model, shape, seed, tile, halo):
    """``sam_mode='apg'``: prompts from the decoder's maps, SAM masks, NMS - micro-sam's own result."""
    from napari_batchseg.segmenters.microsam import APG_DEFAULTS

    img = _image(shape, seed=seed)
    seg.configure(mode="apg", tile_shape=tile, halo=halo)
    out = seg.segment(img)
    assert out.info["mode"] == "apg" and seg.describe()["settings"] == APG_DEFAULTS
    # automatic_instance_segmentation's own batch_size is the encoder's (tiles per call), never APG's
    # generate's: the prompt batch stays at generate's default there (32), which is ours
    generate = {k: v for k, v in APG_DEFAULTS.items() if k != "prompt_batch_size"}
    theirs = _micro_sam_segmentation(reference_model, "apg", img, tile, halo, **generate)
    n = _assert_same_objects(out.labels, theirs, at_least=3)
    assert out.info["n_objects"] == n
    # a setting of its own (NMS) reaches micro-sam too
    seg.configure(nms_threshold=0.3)
    generate["nms_threshold"] = 0.3
    fewer = _micro_sam_segmentation(reference_model, "apg", img, tile, halo, **generate)
    _assert_same_objects(seg.segment(img).labels, fewer, at_least=1)


@needs_sam
def test_apg_settings_and_errors(seg, checkpoints, monkeypatch):
    from micro_sam import instance_segmentation

    from napari_batchseg.segmenters import load_segmenter

    # min_size is shared with AIS: one setting changes both, the other keys stay per mode
    seg.configure(min_size=7, prompt_batch_size=8)
    assert seg.ais_settings["min_size"] == 7 and seg.apg_settings["min_size"] == 7
    assert seg.apg_settings["prompt_batch_size"] == 8 and "prompt_batch_size" not in seg.ais_settings
    with pytest.raises(ModelError, match="unknown micro-sam setting 'nms_thresh'.*APG: .*nms_threshold"):
        seg.configure(nms_thresh=0.5)
    with pytest.raises(ModelError, match="sam_mode 'xyz' unknown; choose auto, ais, amg or apg"):
        seg.configure(mode="xyz")
    # a plain SAM checkpoint has no decoder: APG is refused before any work
    with pytest.raises(ModelError, match="sam_mode 'apg' needs a model with an instance-segmentation"):
        load_segmenter(SegmentationParams(method="sam", model="vit_b", checkpoint=str(checkpoints["plain"]),
                                          sam_mode="apg"))
    # a micro-sam without automatic prompt generation: one clear line, at load and when switching
    monkeypatch.delattr(instance_segmentation, "AutomaticPromptGenerator")
    with pytest.raises(ModelError, match=r"sam_mode 'apg': the installed micro-sam \S+ has no automatic"):
        load_segmenter(SegmentationParams(method="sam", model="vit_b", checkpoint=str(checkpoints["ais"]),
                                          sam_mode="apg"))
    with pytest.raises(ModelError, match="upgrade micro-sam, or use --sam-mode ais or amg"):
        seg.configure(mode="apg")
    assert seg.mode == "ais"


@needs_sam
def test_apg_from_the_cli(checkpoints, tmp_path, capsys):
    """``batchseg segment --sam-mode apg`` with APG settings through --sam-set: mask and log say APG."""
    import tifffile

    from napari_batchseg.cli import main
    from napari_batchseg.io.masks import read_mask

    src = tmp_path / "blobs.tif"
    tifffile.imwrite(src, (_image((64, 80), seed=0) * 1000).astype(np.uint16))
    args = ["segment", str(src), "--method", "sam", "--model", "vit_b",
            "--checkpoint", str(checkpoints["ais"]), "--sam-mode", "apg",
            "--sam-set", "nms_threshold=0.5", "--sam-set", "prompt_batch_size=16",
            "--embedding-cache", "off", "-q"]
    assert main(args) == 0, capsys.readouterr().err
    mask = read_mask(tmp_path / "blobs_vSM.ome.tif")
    assert mask.labels.shape == (1, 64, 80) and mask.labels.max() >= 1
    log = (tmp_path / "blobs_vSM.log").read_text()
    assert "apg" in log and "nms_threshold" in log and "prompt_batch_size" in log
