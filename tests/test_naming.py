from pathlib import Path

import pytest

from napari_batchseg.errors import OutputError
from napari_batchseg.io.naming import check_collisions, find_collisions, output_names, stem_of


@pytest.mark.parametrize(
    ("name", "stem"),
    [("smp01_BF.nd2", "smp01_BF"), ("a.ome.tif", "a"), ("a.OME.TIFF", "a"), ("a.b.tif", "a.b"),
     ("x.tiff", "x")],
)
def test_stem(name, stem):
    assert stem_of(name) == stem


def test_reference_names(tmp_path):
    n = output_names(tmp_path / "smp01_BF.nd2")
    assert n.mask == tmp_path / "smp01_BF_vSM.ome.tif"
    assert n.log == tmp_path / "smp01_BF_vSM.log"
    n = output_names(tmp_path / "smp01_BF.nd2", suffix="v2", output_dir=tmp_path / "out")
    assert n.mask == tmp_path / "out" / "smp01_BF_vSM-v2.ome.tif"
    assert n.debug("flows") == tmp_path / "out" / "smp01_BF_vSM-v2_flows.tif"


def test_positions_get_distinct_names(tmp_path):
    names = {output_names(tmp_path / "m.nd2", position=p, n_positions=12).mask.name for p in range(12)}
    assert len(names) == 12
    assert "m_P03_vSM.ome.tif" in names


def test_bad_suffix():
    with pytest.raises(OutputError):
        output_names("a.tif", suffix="x y")


def test_collision_names_both_inputs(tmp_path):
    a, b = tmp_path / "d1" / "s_BF.tif", tmp_path / "d2" / "s_BF.nd2"
    out = tmp_path / "out"
    pairs = [(a, output_names(a, output_dir=out)), (b, output_names(b, output_dir=out))]
    problems = find_collisions(pairs)
    assert problems and str(a) in problems[0] and str(b) in problems[0]
    with pytest.raises(OutputError, match="collide"):
        check_collisions(pairs)
    # beside their inputs they do not collide
    check_collisions([(a, output_names(a)), (b, output_names(b))])


def test_output_may_not_be_an_input(tmp_path):
    a = tmp_path / "x.tif"
    b = tmp_path / "x_vSM.ome.tif"  # an earlier mask used as input, written into the same folder
    pairs = [(a, output_names(a)), (b, output_names(b))]
    assert any("overwrite input" in p for p in find_collisions(pairs))


def test_case_only_difference_is_a_collision(tmp_path):
    a, b = Path(tmp_path / "d1" / "A.tif"), Path(tmp_path / "d2" / "a.tif")
    out = tmp_path / "o"
    assert find_collisions([(a, output_names(a, output_dir=out)), (b, output_names(b, output_dir=out))])


# --------------------------------------------------------------------------- case and length (issue 22)
def _image(path: Path) -> Path:
    import numpy as np
    import tifffile

    path.parent.mkdir(parents=True, exist_ok=True)
    data = (np.random.default_rng(0).random((1, 32, 32)) * 1000).astype(np.uint16)
    tifffile.imwrite(path, data, metadata={"axes": "TYX"}, photometric="minisblack")
    return path


def test_case_only_collision_is_refused_before_work_naming_both(tmp_path):
    from napari_batchseg import engine
    from napari_batchseg.params import SegmentationParams

    a, b = _image(tmp_path / "Img.tif"), _image(tmp_path / "img.TIF")
    if a.samefile(b):  # pragma: no cover - a case-insensitive file system holds one file
        pytest.skip("case-insensitive file system")
    with pytest.raises(OutputError) as err:
        engine.plan([a, b], SegmentationParams())
    text = str(err.value)
    assert str(a) in text and str(b) in text and "case" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Img.tif", "img.TIF"]  # nothing written


def test_same_file_named_twice_is_no_collision(tmp_path):
    a = _image(tmp_path / "Img.tif")
    assert find_collisions([(a, output_names(a)), (a, output_names(a))]) == []


def test_long_legal_output_name_gets_short_lock_and_partial_names(tmp_path):
    """An output name of 255 bytes is legal; its lock and temporary files must not fail on NAME_MAX."""
    from napari_batchseg import engine
    from napari_batchseg.io import locks
    from napari_batchseg.io.atomic import NAME_MAX, partial_prefix
    from napari_batchseg.params import SegmentationParams
    from napari_batchseg.testing import ThresholdSegmenter

    stem = "s" * (NAME_MAX - len("_vSM.ome.tif"))
    movie = _image(tmp_path / f"{stem}.tif")
    names = output_names(movie)
    assert len(names.mask.name.encode()) == NAME_MAX
    assert len(locks.lock_path(names.mask).name.encode()) <= NAME_MAX
    assert len(partial_prefix(names.mask).encode()) + len("XXXXXXXX.buffer") <= NAME_MAX
    assert locks.lock_path(names.mask) != locks.lock_path(names.mask.with_name("t" + names.mask.name[1:]))
    events = list(engine.run(engine.plan([movie], SegmentationParams()), segmenter=ThresholdSegmenter()))
    done = [e for e in events if isinstance(e, engine.TaskDone)]
    assert len(done) == 1, [getattr(e, "reason", e) for e in events]
    assert names.mask.exists() and names.log.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_segmentation_masks_are_told_from_tracked_and_kept_copies(tmp_path):
    """A walk: after `batchseg track` the folder commands took the -tracked copy for a mask (measure and
    train failed, exports and scores doubled), and a kept .corrected copy was listed as an *input*."""
    from napari_batchseg.cli_downstream import expand_masks
    from napari_batchseg.discovery import FileFilter, collect_files
    from napari_batchseg.io.naming import is_segmentation_mask, mask_name_for
    from napari_batchseg.training.sources import find_training_inputs

    masks = ["a_vSM.ome.tif", "a_vSM-rt.ome.tif", "b_P1_vSM.ome.tif"]
    others = ["a_vSM-tracked.ome.tif", "a_vSM-rt-tracked.ome.tif", "a_vSM.corrected.ome.tif",
              "a_vSM.corrected-2.ome.tif", "a_vSM.corrected-tracked.ome.tif", "a_vSM_dP.tif", "a_vSM.log",
              "a.ome.tif"]
    assert [n for n in masks + others if is_segmentation_mask(n)] == masks
    assert mask_name_for("a_vSM.corrected-2.log") == "a_vSM.corrected-2.ome.tif"  # an output: not an input
    for name in masks + others + ["a_BF.tif"]:
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in expand_masks([tmp_path])] == sorted(masks)
    assert sorted(p.name for _kind, p in find_training_inputs([tmp_path])) == sorted(masks)
    named = find_training_inputs([tmp_path / "a_vSM.corrected.ome.tif"])  # a kept copy named: a mask
    assert named == [("vsm", tmp_path / "a_vSM.corrected.ome.tif")]
    found = collect_files([tmp_path], FileFilter(contains=[], extensions=[".tif", ".ome.tif"]))
    assert [p.name for p in found] == ["a.ome.tif", "a_BF.tif"]


def test_the_log_beside_a_mask():
    from napari_batchseg.io.naming import log_path_of

    assert log_path_of(Path("/d/x_vSM-a.ome.tif")) == Path("/d/x_vSM-a.log")
    assert log_path_of(Path("/d/X_VSM.OME.TIF")) == Path("/d/X_VSM.log")  # the extension in any case
    assert log_path_of(Path("/d/gt.tif")) == Path("/d/gt.log")  # another name: its stem's
