"""micro-sam on volumes (``--z-mode 3d``): identity with micro-sam's own 3D automatic segmentation.

micro-sam's ``3d`` segments each slice in 2D and merges the objects across Z
(``micro_sam.multi_dimensional_segmentation.automatic_3d_segmentation``, reached through
``automatic_instance_segmentation(..., ndim=3)``). The segmenter is compared with that call on the same
random-weight checkpoint (the fixtures of tests/_microsam_fixtures.py) in each mode: AIS untiled and
tiled, through the API and the CLI; APG untiled and tiled; AMG untiled (its ``with_background``, which
micro-sam's 3D call gives to its merge, against micro-sam's own slices and merge). ``stitch``, a
micro-sam without 3D, bad settings and a file without Z get one clear line.
"""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_batchseg.params import ParameterError, SegmentationParams

pytest.register_assert_rewrite("_microsam_fixtures")  # before the import: its asserts explain failures
from _microsam_fixtures import (  # noqa: E402
    _assert_same_objects,
    _image,
    _micro_sam_segmentation,
    _micro_sam_segmenter,
    needs_sam,
)

pytest_plugins = ["_microsam_fixtures"]  # checkpoints, cache_dir, ais_segmenter, seg, reference_model


def _volume(shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """``(Z, Y, X)`` float32: the same blobs in every slice, drifting one pixel per slice, dimmer with Z."""
    plane = _image(shape[1:], seed=seed)
    return np.stack([np.roll(plane, z, axis=-1) * (1.0 - 0.1 * z) for z in range(shape[0])])


def _spans_slices(labels: np.ndarray) -> int:
    """How many objects of a ``(Z, Y, X)`` label image are in more than one slice."""
    ids = [np.unique(plane) for plane in labels]
    counts: dict[int, int] = {}
    for plane_ids in ids:
        for i in plane_ids[plane_ids != 0].tolist():
            counts[i] = counts.get(i, 0) + 1
    return sum(1 for c in counts.values() if c > 1)


VOLUME_CASES = [  # (volume shape, seed, tile_shape, halo)
    pytest.param((3, 64, 80), 0, None, None, id="untiled"),
    pytest.param((3, 100, 64), 1, (64, 64), (16, 16), id="tiled"),
]


@needs_sam
@pytest.mark.parametrize(("shape", "seed", "tile", "halo"), VOLUME_CASES)
def test_3d_equals_micro_sam_automatic_3d_segmentation(seg, reference_model, shape, seed, tile, halo):
    """AIS per slice, merged across Z: micro-sam's own ``ndim=3`` result, with its settings."""
    from napari_batchseg.segmenters.microsam import AIS_DEFAULTS
    from napari_batchseg.segmenters.microsam.volume import check_volume_settings

    volume = _volume(shape, seed)
    seg.configure(mode="ais", tile_shape=tile, halo=halo)
    assert seg.volume_modes == ("3d",)
    out = seg.segment_volume(volume, "3d", None, 0.25)
    # tiled, micro-sam's 3D runs the watershed over each whole slice (no block-wise tile_shape to generate)
    theirs = _micro_sam_segmentation(reference_model, "ais", volume, tile, halo, ndim=3, **AIS_DEFAULTS)
    assert out.labels.shape == volume.shape and out.labels.dtype == np.uint32
    n = _assert_same_objects(out.labels, theirs, at_least=3)
    assert out.info["n_objects"] == n and out.info["z_slices"] == shape[0] and out.info["z_mode"] == "3d"
    assert np.array_equal(np.unique(out.labels), np.arange(n + 1))  # ids 1..N
    assert _spans_slices(out.labels) >= 1, "the drifting blobs should be merged across Z"
    if tile is not None:
        return
    # the merge settings reach micro-sam's merge too
    seg.volume_settings = check_volume_settings({"min_z_extent": 3})
    fewer = _micro_sam_segmentation(reference_model, "ais", volume, ndim=3, **AIS_DEFAULTS, min_z_extent=3)
    m = _assert_same_objects(seg.segment_volume(volume, "3d", None, 0.25).labels, fewer, at_least=1)
    assert m < n  # objects seen in fewer than 3 slices were dropped


def _micro_sam_slices_merged(reference_model, volume: np.ndarray, init: dict, **generate) -> np.ndarray:
    """micro-sam's 3D AMG with ``generate`` reaching every slice's ``generate`` (``with_background`` too).

    Its ``ndim=3`` call hands ``with_background`` to its merge instead, so this runs the two steps of
    ``automatic_3d_segmentation`` itself: ``_segment_slices`` (each slice's masks, numbered apart), then
    ``merge_instance_segmentation_3d`` with 0 as background.
    """
    from micro_sam.multi_dimensional_segmentation import _segment_slices, merge_instance_segmentation_3d

    predictor, segmenter = _micro_sam_segmenter(reference_model, "amg", init=init)
    slices, _ = _segment_slices(volume, predictor, segmenter, None, False, None, None, **generate)
    return np.asarray(merge_instance_segmentation_3d(slices, beta=0.5, with_background=True, verbose=False))


@needs_sam
def test_3d_amg_equals_micro_sam_automatic_3d_segmentation(seg, reference_model):
    """AMG per slice, merged across Z: micro-sam's ``ndim=3`` result, default and permissive thresholds.

    Untiled only: tiled, micro-sam's AMG drops every random-weight mask (they span most of a tile, see
    tests/test_microsam.py), so both would find nothing.
    """
    from napari_batchseg.segmenters.microsam import AMG_DEFAULTS

    volume = _volume((3, 64, 80), 0)
    init = {"points_per_side": 4}
    seg.configure(mode="amg", tile_shape=None, halo=None, **init)
    # micro-sam's default thresholds (random weights: no mask passes them)
    defaults = _micro_sam_segmentation(reference_model, "amg", volume, init=init, ndim=3)
    _assert_same_objects(seg.segment_volume(volume, "3d", None, 0.25).labels, defaults, at_least=0)
    # permissive thresholds and no box NMS reach each slice's generate in both. with_background stays at
    # its default (True: each slice's largest mask is background): micro-sam's 3D call cannot pass it to
    # AMG's generate. The random masks are one full-plane mask and, without NMS, its many overlaps.
    permissive = {"pred_iou_thresh": 0.0, "stability_score_thresh": 0.0, "box_nms_thresh": 1.0}
    seg.configure(**permissive)
    out = seg.segment_volume(volume, "3d", None, 0.25)
    theirs = _micro_sam_segmentation(reference_model, "amg", volume, init=init, ndim=3, **permissive)
    n = _assert_same_objects(out.labels, theirs, at_least=2)
    assert out.info["n_objects"] == n and out.info["mode"] == "amg" and out.info["z_slices"] == 3
    assert _spans_slices(out.labels) >= 1, "objects of consecutive slices should be merged"
    # with_background=False is AMG's (each slice keeps its largest mask), the merge keeps 0 as background:
    # micro-sam's own slices and merge with it given to generate (its 3D call would give it to the merge)
    kept = {"pred_iou_thresh": 0.0, "stability_score_thresh": 0.0, "with_background": False}
    seg.configure(**kept, box_nms_thresh=AMG_DEFAULTS["box_nms_thresh"])
    out = seg.segment_volume(volume, "3d", None, 0.25)
    theirs = _micro_sam_slices_merged(reference_model, volume, init, **kept)
    assert _assert_same_objects(out.labels, theirs, at_least=1) == out.info["n_objects"]
    assert _spans_slices(out.labels) >= 1, "objects of consecutive slices should be merged"


@needs_sam
@pytest.mark.parametrize(("shape", "seed", "tile", "halo"), VOLUME_CASES)
def test_3d_apg_equals_micro_sam_automatic_3d_segmentation(seg, reference_model, shape, seed, tile, halo):
    """APG per slice, merged across Z: micro-sam's ``ndim=3`` result, with its defaults and another NMS."""
    import inspect

    from micro_sam.instance_segmentation import AutomaticPromptGenerator

    from napari_batchseg.segmenters.microsam import APG_DEFAULTS

    volume = _volume(shape, seed)
    seg.configure(mode="apg", tile_shape=tile, halo=halo)
    out = seg.segment_volume(volume, "3d", None, 0.25)
    assert out.info["mode"] == "apg" and seg.describe()["settings"] == APG_DEFAULTS
    # micro-sam's 3D call takes batch_size for its encoder (Z planes per call), so APG's generate keeps
    # its own default prompt batch there: ours
    batch = inspect.signature(AutomaticPromptGenerator.generate).parameters["batch_size"].default
    assert APG_DEFAULTS["prompt_batch_size"] == batch
    generate = {k: v for k, v in APG_DEFAULTS.items() if k != "prompt_batch_size"}
    theirs = _micro_sam_segmentation(reference_model, "apg", volume, tile, halo, ndim=3, **generate)
    n = _assert_same_objects(out.labels, theirs, at_least=3)
    assert out.info["n_objects"] == n and out.info["z_slices"] == shape[0]
    assert _spans_slices(out.labels) >= 1, "objects of consecutive slices should be merged"
    # a setting of its own (NMS) reaches micro-sam's 3D too, and changes the result
    seg.configure(nms_threshold=0.3)
    generate["nms_threshold"] = 0.3
    other = _micro_sam_segmentation(reference_model, "apg", volume, tile, halo, ndim=3, **generate)
    m = _assert_same_objects(seg.segment_volume(volume, "3d", None, 0.25).labels, other, at_least=1)
    assert m != n or not np.array_equal(other, theirs)


@needs_sam
def test_3d_from_the_cli_equals_micro_sam_on_the_prepared_volume(checkpoints, reference_model, tmp_path,
                                                                  capsys):
    """``batchseg segment --method sam --z-mode 3d``: a TZYX mask, the log says what 3d means."""
    from napari_batchseg.cli import main
    from napari_batchseg.io.masks import read_mask
    from napari_batchseg.io.reader import open_source
    from napari_batchseg.prepare_3d import prepare_volume
    from napari_batchseg.segmenters.microsam import AIS_DEFAULTS

    src = tmp_path / "stack.ome.tif"
    data = (_volume((3, 64, 80)) * 1000).astype(np.uint16)[None]  # T Z Y X
    tifffile.imwrite(src, data, ome=True, metadata={"axes": "TZYX", "PhysicalSizeX": 0.5,
                                                   "PhysicalSizeY": 0.5, "PhysicalSizeZ": 2.0})
    args = ["segment", str(src), "--method", "sam", "--model", "vit_b", "--checkpoint",
            str(checkpoints["ais"]), "--sam-mode", "ais", "--z-mode", "3d", "--embedding-cache", "off",
            "--sam-set", "gap_closing=1", "-q"]
    assert main(args) == 0, capsys.readouterr().err
    mask = read_mask(tmp_path / "stack_vSM.ome.tif")
    assert mask.is_volume and mask.labels.shape == data.shape
    assert mask.pixel_size.z == pytest.approx(2.0)
    with open_source(src) as source:
        volume = prepare_volume(source, 0, 0, 0, [0, 1, 2], None).image
    theirs = _micro_sam_segmentation(reference_model, "ais", volume, ndim=3, **AIS_DEFAULTS, gap_closing=1)
    _assert_same_objects(mask.labels[0], theirs, at_least=3)
    log = mask.log_text
    assert "z mode 3d (micro-sam: each slice in 2D, objects merged across Z" in log
    assert "anisotropy not used" in log and '"gap_closing": 1' in log


def _cli_error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    from napari_batchseg.cli import main

    assert main(args) != 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@needs_sam
def test_stitch_and_bad_settings_one_line_nothing_written(checkpoints, tmp_path, capsys):
    src = tmp_path / "stack.tif"
    tifffile.imwrite(src, (_volume((3, 32, 32)) * 1000).astype(np.uint16), metadata={"axes": "ZYX"})
    out = tmp_path / "out"
    base = ["segment", str(src), "--method", "sam", "--model", "vit_b", "--checkpoint",
            str(checkpoints["ais"]), "--output-dir", str(out), "--embedding-cache", "off", "-q"]
    line = _cli_error([*base, "--z-mode", "stitch"], capsys)
    assert "z_mode 'stitch': micro-sam offers 3d only" in line and "use --z-mode 3d" in line
    line = _cli_error([*base, "--z-mode", "3d", "--sam-set", "gap_closing=-1"], capsys)
    assert "gap_closing must be a whole number >= 0" in line
    assert not out.exists() or not any(out.iterdir())


@needs_sam
def test_a_file_without_z_fails_alone(checkpoints, tmp_path):
    from napari_batchseg.api import segment_files

    flat = tmp_path / "flat.tif"
    tifffile.imwrite(flat, np.zeros((48, 48), np.uint16))
    params = SegmentationParams(method="sam", model="vit_b", checkpoint=str(checkpoints["ais"]), z_mode="3d",
                                extra={"embedding_cache": False})
    report = segment_files([flat], params).reports[0]
    assert report.status == "failed"
    assert "flat.tif: --z-mode 3d needs a Z stack; the file has 1 Z slice" in report.reason
    assert not list(tmp_path.glob("*_vSM*"))


def test_stitch_is_refused_before_micro_sam_is_imported():
    from napari_batchseg.segmenters.microsam.segmenter import MicroSamSegmenter

    with pytest.raises(ParameterError, match=r"z_mode 'stitch': micro-sam offers 3d only \(its 3d segments"):
        MicroSamSegmenter.from_params(SegmentationParams(method="sam", z_mode="stitch"))


@needs_sam
def test_a_micro_sam_without_3d_is_refused_before_loading(checkpoints, monkeypatch):
    from micro_sam import multi_dimensional_segmentation

    from napari_batchseg.segmenters import load_segmenter

    monkeypatch.delattr(multi_dimensional_segmentation, "automatic_3d_segmentation")
    params = SegmentationParams(method="sam", model="vit_b", checkpoint=str(checkpoints["ais"]), z_mode="3d")
    expected = r"z_mode '3d': micro-sam segments 2D planes only \(the installed micro-sam \S+ has no "
    with pytest.raises(ParameterError, match=expected + r".*automatic_3d_segmentation"):
        load_segmenter(params)


@needs_sam
def test_volume_settings_are_checked(seg):
    from napari_batchseg.errors import ModelError
    from napari_batchseg.segmenters.microsam.volume import check_volume_settings

    assert check_volume_settings({"gap_closing": 2, "other": 1}) == {"gap_closing": 2, "min_z_extent": None}
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(ModelError, match="min_z_extent must be a whole number"):
            check_volume_settings({"min_z_extent": bad})
    with pytest.raises(ValueError, match=r"a volume is \(Z, Y, X\)"):
        seg.segment_volume(np.zeros((8, 8), np.float32), "3d", None, 0.25)
    with pytest.raises(ParameterError, match="z_mode 'stitch': micro-sam offers 3d only"):
        seg.segment_volume(np.zeros((2, 8, 8), np.float32), "stitch", None, 0.25)
    assert "volume_settings" not in seg.describe()  # the defaults are not logged as a change
    seg.volume_settings = check_volume_settings({"gap_closing": 2})
    assert seg.describe()["volume_settings"] == {"gap_closing": 2, "min_z_extent": None}

