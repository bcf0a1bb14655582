from pathlib import Path

import numpy as np
import pytest
import tifffile
from scipy import ndimage as ndi

from napari_batchseg.errors import InputError
from napari_batchseg.io.sources import ImageSource, SourceInfo
from napari_batchseg.params import ZRange
from napari_batchseg.prepare import (
    best_focus_index,
    check_z_range,
    focus_measure,
    prepare_frame,
    project,
    resolve_channel,
    window_around,
)


class ArraySource(ImageSource):
    """An in-memory PTCZYX array behind the ImageSource contract (records which planes were read)."""

    def __init__(self, data, channel_names=()):
        self.data = data
        sizes = dict(zip("PTCZYX", data.shape, strict=True))
        self.info = SourceInfo("mem.tif", sizes, data.dtype, list(channel_names))
        self.reads = []

    def read_plane(self, p, t, c, z):
        self._check_index(p, t, c, z)
        self.reads.append((p, t, c, z))
        return self.data[p, t, c, z]


def _focus_stack(nz=9, sharp=5, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.random((64, 64)) * 1000
    return np.stack([ndi.gaussian_filter(base, 0.2 + 1.2 * abs(z - sharp)) for z in range(nz)])


def test_best_focus_finds_sharpest_slice():
    for sharp in (0, 3, 8):
        assert best_focus_index(_focus_stack(sharp=sharp)) == sharp


def test_focus_measure_uses_running_mean():
    stack = _focus_stack()
    scores = focus_measure(stack)
    assert scores.shape == (9,)
    # one isolated sharp slice is damped by the 3-slice running mean
    noisy = np.zeros((5, 32, 32), np.float32)
    noisy[2] = np.random.default_rng(1).random((32, 32))
    s = focus_measure(noisy)
    assert s[1] > 0 and s[3] > 0


@pytest.mark.parametrize(
    ("center", "radius", "n", "expected"),
    [(5, 3, 11, [2, 3, 4, 5, 6, 7, 8]), (0, 3, 11, list(range(7))), (10, 3, 11, list(range(4, 11))),
     (2, 3, 4, [0, 1, 2, 3]), (4, 0, 9, [4])],
)
def test_window_shifts_inward(center, radius, n, expected):
    assert window_around(center, radius, n) == expected


def test_projections_are_float_and_not_truncated():
    stack = np.array([[[1, 2]], [[2, 2]]], dtype=np.uint8)
    mean = project(stack, "mean")
    assert mean.dtype == np.float32
    np.testing.assert_allclose(mean, [[1.5, 2.0]])
    np.testing.assert_allclose(project(stack, "std"), [[np.std([1, 2], ddof=1), 0.0]])
    np.testing.assert_allclose(project(stack, "max"), [[2, 2]])
    np.testing.assert_allclose(project(stack, "min"), [[1, 2]])
    np.testing.assert_allclose(project(np.array([[[1]], [[5]], [[2]]]), "median"), [[2]])


def test_resolve_channel_by_index_and_name():
    src = ArraySource(np.zeros((1, 1, 3, 1, 4, 4), np.uint16), ["BF", "GFP", "DAPI"])
    assert resolve_channel(src.info, 2) == 2
    assert resolve_channel(src.info, "gfp") == 1
    with pytest.raises(InputError, match="out of range.*3 channel"):
        resolve_channel(src.info, 3)
    with pytest.raises(InputError, match="no channel named"):
        resolve_channel(src.info, "mCherry")
    # walk: "gfp" did not find "GFP 488 nm"; a word of one name is enough, of several it is refused
    named = ArraySource(np.zeros((1, 1, 3, 1, 4, 4), np.uint16), ["BF", "GFP 488 nm", "mCherry 561 nm"])
    assert resolve_channel(named.info, "gfp") == 1 and resolve_channel(named.info, "MCHERRY") == 2
    with pytest.raises(InputError, match="'nm' is a word of several channel names"):
        resolve_channel(named.info, "nm")
    with pytest.raises(InputError, match="no channel named 'gf'"):
        resolve_channel(named.info, "gf")


def test_z_range_out_of_bounds_names_file():
    src = ArraySource(np.zeros((1, 1, 1, 5, 4, 4), np.uint16))
    with pytest.raises(InputError, match="mem.tif.*out of bounds.*5 Z slices"):
        check_z_range(src.info, ZRange.parse("3-7"))
    check_z_range(src.info, ZRange.parse("3-4"))


def test_prepare_reads_only_needed_planes():
    data = np.arange(2 * 3 * 2 * 6 * 4 * 4, dtype=np.uint16).reshape(2, 3, 2, 6, 4, 4)
    src = ArraySource(data)
    frame = prepare_frame(src, 1, 2, 1, ZRange.parse("1-3"), "max")
    assert src.reads == [(1, 2, 1, z) for z in (1, 2, 3)]
    np.testing.assert_array_equal(frame.image, data[1, 2, 1, 1:4].max(axis=0))
    assert frame.z_used == [1, 2, 3] and frame.best_focus is None


def test_prepare_best_focus_window():
    stack = _focus_stack(nz=9, sharp=7)
    data = stack[None, None, None].astype(np.float32)
    frame = prepare_frame(ArraySource(data), 0, 0, 0, ZRange.parse("best:2"), "mean")
    assert frame.best_focus == 7
    assert len(frame.z_used) == 5 and frame.z_used == [4, 5, 6, 7, 8]
    np.testing.assert_allclose(frame.image, stack[4:9].mean(axis=0), rtol=1e-5)


# --------------------------------------------------------------------------- issue 22: z-range, complex
def _threshold_run(path, **changes):
    from napari_batchseg import engine
    from napari_batchseg.params import SegmentationParams
    from napari_batchseg.testing import ThresholdSegmenter

    the_plan = engine.plan([path], SegmentationParams(**changes))
    return list(engine.run(the_plan, segmenter=ThresholdSegmenter()))


def test_z_range_on_a_single_slice_file_is_an_error_naming_its_z_size(tmp_path):
    from napari_batchseg import engine

    path = tmp_path / "flat.tif"
    tifffile.imwrite(path, (np.random.default_rng(0).random((24, 24)) * 1000).astype(np.uint16))
    events = _threshold_run(path, z_range="5-9")
    failed = [e for e in events if isinstance(e, engine.TaskFailed)]
    assert len(failed) == 1 and "Z range 5-9 out of bounds" in failed[0].reason
    assert "1 Z slice" in failed[0].reason and not failed[0].details
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flat.tif"]
    assert any(isinstance(e, engine.TaskDone) for e in _threshold_run(path, z_range="0"))  # slice 0 exists


def test_complex_pixels_are_refused_not_silently_made_real(tmp_path):
    from napari_batchseg import engine

    path = tmp_path / "complex.tif"
    rng = np.random.default_rng(0)
    tifffile.imwrite(path, (rng.random((24, 24)) + 1j * rng.random((24, 24))).astype(np.complex64))
    events = _threshold_run(path)
    failed = [e for e in events if isinstance(e, engine.TaskFailed)]
    assert len(failed) == 1 and "complex pixels (complex64)" in failed[0].reason and not failed[0].details
    assert sorted(p.name for p in tmp_path.iterdir()) == ["complex.tif"]


STARTER = Path(__file__).resolve().parents[1] / "examples" / "models" / "batchseg_nuclei_cp3"


@pytest.mark.skipif(not STARTER.exists(), reason="the project's model is missing")
def test_float_image_in_tiny_units_gives_the_same_objects_as_the_original(tmp_path, dsb2018):
    from napari_batchseg import engine
    from napari_batchseg.io.masks import read_mask
    from napari_batchseg.params import SegmentationParams
    from napari_batchseg.segmenters import load_segmenter

    plane = tifffile.imread(dsb2018[0])[:160, :160].astype(np.float32)
    plane /= plane.max()
    tifffile.imwrite(tmp_path / "original.tif", plane)
    tifffile.imwrite(tmp_path / "tiny.tif", plane * np.float32(1e-4))  # 1-99 % range far below 1e-3
    params = SegmentationParams(model=str(STARTER), diameter=17)
    the_plan = engine.plan([tmp_path / "original.tif", tmp_path / "tiny.tif"], params)
    events = list(engine.run(the_plan, segmenter=load_segmenter(params)))
    assert len([e for e in events if isinstance(e, engine.TaskDone)]) == 2, events
    original = read_mask(tmp_path / "original_vSM.ome.tif").labels[0]
    tiny = read_mask(tmp_path / "tiny_vSM.ome.tif").labels[0]
    assert len(np.unique(original)) > 5  # real objects
    assert len(np.unique(tiny)) == len(np.unique(original))
    assert np.mean((tiny > 0) == (original > 0)) > 0.99
