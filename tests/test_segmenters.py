"""The segmenter contract, the model catalog and the download rules every segmenter shares."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_batchseg.params import METHODS, SegmentationParams
from napari_batchseg.segmenters import Segmenter, SegmenterBase, SegmentOutput, _weights, catalog


# --------------------------------------------------------------------------- protocol and base class
class _Counting(SegmenterBase):
    name = "counting"

    def __init__(self, batch_size: int = 1) -> None:
        self.batch_size = batch_size
        self.calls: list[tuple[str, object]] = []

    def describe(self) -> dict[str, object]:
        return {"method": self.name}

    def segment(self, image: np.ndarray) -> SegmentOutput:
        self.calls.append(("segment", int(image[0, 0])))
        return SegmentOutput(np.full(image.shape, int(image[0, 0]) + 1, np.uint32))

    def segment_batch(self, images):
        self.calls.append(("segment_batch", [int(im[0, 0]) for im in images]))
        return [SegmentOutput(np.full(im.shape, int(im[0, 0]) + 1, np.uint32)) for im in images]

    def set_context(self, file_key: str, frame_key: str) -> None:
        self.calls.append(("context", frame_key))


def test_base_class_defaults_satisfy_the_protocol():
    with pytest.raises(TypeError):
        SegmenterBase()  # describe and segment must be implemented

    class Minimal(SegmenterBase):
        name = "minimal"

        def describe(self):
            return {}

        def segment(self, image):
            return SegmentOutput(np.asarray(image > 0, np.uint32))

    seg = Minimal()
    assert isinstance(seg, Segmenter) and seg.batch_size == 1
    images = [np.eye(3, dtype=np.float32), np.zeros((3, 3), np.float32)]
    outs = seg.segment_batch(images)
    assert [o.labels.tolist() for o in outs] == [seg.segment(im).labels.tolist() for im in images]
    assert seg.set_context("file", "T0") is None


def test_every_segmenter_class_states_the_whole_protocol():
    from napari_batchseg.segmenters.cellpose import CellposeSegmenter
    from napari_batchseg.segmenters.microsam import MicroSamSegmenter
    from napari_batchseg.testing import ThresholdSegmenter

    for cls in (CellposeSegmenter, MicroSamSegmenter, ThresholdSegmenter):
        assert issubclass(cls, SegmenterBase), cls
        for member in ("name", "batch_size", "describe", "segment", "segment_batch", "set_context"):
            assert hasattr(cls, member), (cls, member)
    # micro-sam keys its embedding cache by the context and gains nothing from grouping frames
    assert MicroSamSegmenter.set_context is not SegmenterBase.set_context
    assert MicroSamSegmenter.batch_size == 1
    assert CellposeSegmenter.segment_batch is not SegmenterBase.segment_batch


def _frames(shapes):
    from napari_batchseg.prepare import PreparedFrame

    return [PreparedFrame(0, t, np.full(s, t, np.float32), 0) for t, s in enumerate(shapes)]


def _task(tmp_path: Path):
    from napari_batchseg import engine

    return engine.Task(tmp_path / "x.tif", 0, 1, None)  # type: ignore[arg-type]


def test_batched_frames_names_each_call_and_respects_batch_size(tmp_path):
    from napari_batchseg.runners.batching import BatchedFrames

    frames = _frames([(4, 4)] * 5)
    seg = _Counting(batch_size=4)
    out = list(BatchedFrames(seg, 2)(_task(tmp_path), iter(frames)))
    assert [int(o.labels[0, 0]) for _, o, _ in out] == [1, 2, 3, 4, 5]
    assert seg.calls == [
        ("context", "T0-T1"), ("segment_batch", [0, 1]),
        ("context", "T2-T3"), ("segment_batch", [2, 3]),
        ("context", "T4"), ("segment", 4),
    ]
    # batch_size 1: grouping brings nothing, so every frame goes alone, named
    one = _Counting(batch_size=1)
    list(BatchedFrames(one, 8)(_task(tmp_path), iter(frames[:2])))
    assert one.calls == [("context", "T0"), ("segment", 0), ("context", "T1"), ("segment", 1)]


# --------------------------------------------------------------------------- catalog
def test_catalog_defaults_are_the_parameters_defaults():
    for method in METHODS:
        default = catalog.default_model(method)
        assert SegmentationParams(method=method).model == default
        assert catalog.offered_models(method)[0] == default
    with pytest.raises(ValueError, match="unknown"):
        catalog.offered_models("stardist")


def test_catalog_lists():
    assert catalog.is_cellpose_builtin("cyto3") and not catalog.is_cellpose_builtin("/m/my_model")
    assert set(catalog.CELLPOSE_SIZE_MODELS) <= set(catalog.CELLPOSE_MODELS)
    offered = catalog.offered_models("sam")
    assert "vit_b_lm" in offered and not any(catalog.needs_mobile_sam(m) for m in offered)
    assert {m[:5] for m in catalog.SAM_MODELS} == set(catalog.SAM_ARCHITECTURES)


# --------------------------------------------------------------------------- offline and time-out rules
@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, False), ("", False), ("0", False), ("false", False), ("No", False), (" off ", False),
     ("none", False), ("1", True), ("true", True), ("YES", True), ("on", True)],
)
def test_offline_switch(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv(_weights.OFFLINE_ENV, raising=False)
    else:
        monkeypatch.setenv(_weights.OFFLINE_ENV, value)
    assert _weights.offline() is expected


@pytest.mark.parametrize(("value", "expected"), [(None, 20.0), ("7", 7.0), ("2.5", 2.5), ("0", 1.0),
                                                 ("soon", 20.0)])
def test_download_timeout(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv(_weights.TIMEOUT_ENV, raising=False)
    else:
        monkeypatch.setenv(_weights.TIMEOUT_ENV, value)
    assert _weights.download_timeout() == expected


@pytest.mark.parametrize(("value", "expected"), [(None, 20.0), ("soon", 20.0), ("3", 3.0)])
def test_microsam_download_follows_the_same_timeout_rule(monkeypatch, tmp_path, value, expected):
    """micro-sam's downloads are bounded like Cellpose's (default 20 s; a bad value does not crash)."""
    pytest.importorskip("micro_sam")
    pooch = pytest.importorskip("pooch")
    from napari_batchseg.errors import ModelError
    from napari_batchseg.segmenters.microsam import import_microsam
    from napari_batchseg.segmenters.microsam.weights import resolve_builtin

    util, _ = import_microsam()
    seen = []

    def no_network(self, url, output_file, pooch_obj, check_only=False):
        seen.append(self.kwargs.get("timeout"))
        raise ConnectionError("network unreachable")

    monkeypatch.setattr(pooch.HTTPDownloader, "__call__", no_network)
    monkeypatch.setenv("MICROSAM_CACHEDIR", str(tmp_path / "empty"))
    monkeypatch.delenv(_weights.OFFLINE_ENV, raising=False)
    if value is None:
        monkeypatch.delenv(_weights.TIMEOUT_ENV, raising=False)
    else:
        monkeypatch.setenv(_weights.TIMEOUT_ENV, value)
    with pytest.raises(ModelError, match="download failed"):
        resolve_builtin(util, "vit_b_lm", want_decoder=False)
    assert seen == [expected]
