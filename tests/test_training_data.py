"""Training data: pairs from _vSM masks (prepared as their log says), <name>_masks.tif pairs and arrays;
frame choice (corrected frames), min_masks, the validation split, and every bad input refused with a clear
error before anything is written."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.errors import InputError, ModelError, OutputError
from napari_batchseg.params import ParameterError
from napari_batchseg.segmenters.catalog import cellpose_major
from napari_batchseg.training import (
    TrainingParams,
    collect_training_data,
    corrected_frames,
    frames_from_arrays,
    parse_frames,
    recent_models,
    train_model,
)
from napari_batchseg.training.data import objects_cut

ROOT = Path(__file__).resolve().parents[1]
DSB_IMAGE = ROOT / "examples" / "data" / "dsb2018_nuclei.tif"
DSB_MASK = ROOT / "examples" / "groundtruth" / "dsb2018_nuclei_masks.tif"
pytestmark = pytest.mark.skipif(cellpose_major() != 3, reason="training uses Cellpose 3's train_seg")


@pytest.fixture(autouse=True)
def _private_registry(tmp_path, monkeypatch):
    monkeypatch.setenv("BATCHSEG_CONFIG_DIR", str(tmp_path / "config"))


def dsb_tiles(size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    img = tifffile.imread(DSB_IMAGE)
    gt = tifffile.imread(DSB_MASK)
    starts = range(0, img.shape[0] - size + 1, size)
    tiles = [(y, x) for y in starts for x in starts]
    return (np.stack([img[y:y + size, x:x + size] for y, x in tiles]),
            np.stack([gt[y:y + size, x:x + size] for y, x in tiles]))


def write_pairs(folder: Path, n: int = 4, size: int = 128) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    imgs, masks = dsb_tiles(size)
    out = []
    for i in range(n):
        tifffile.imwrite(folder / f"tile{i}.tif", imgs[i])
        tifffile.imwrite(folder / f"tile{i}_masks.tif", masks[i])
        out.append(folder / f"tile{i}_masks.tif")
    return out


def test_pairs_are_read_with_counts_and_hashes(tmp_path):
    write_pairs(tmp_path / "pairs", n=3)
    data = collect_training_data([tmp_path / "pairs"], min_masks=1)
    imgs, masks = dsb_tiles()
    assert len(data.frames) == 3
    for i, frame in enumerate(sorted(data.frames, key=lambda f: f.group)):
        np.testing.assert_array_equal(frame.image, imgs[i].astype(np.float32))
        assert frame.n_masks == len(np.unique(masks[i])) - 1
        assert frame.labels.max() == frame.n_masks  # renumbered 1..N
    assert len(data.files) == 6 and all(len(h) == 64 for h in data.files.values())


def test_image_given_finds_its_mask_partner(tmp_path):
    write_pairs(tmp_path, n=1)
    data = collect_training_data([tmp_path / "tile0.tif"], min_masks=1)
    assert len(data.frames) == 1 and data.frames[0].group.endswith("tile0_masks.tif")


def test_min_masks_skips_and_reports(tmp_path):
    imgs, masks = dsb_tiles()
    masks[1] = 0
    masks[1, 10:20, 10:20] = 7  # one object
    data = frames_from_arrays(imgs[:3], masks[:3], "layer", min_masks=2)
    assert [f.index for f in data.frames] == [0, 2]
    assert len(data.skipped) == 1 and data.skipped[0].index == 1
    assert "1 object(s), fewer than min_masks=2" in data.skipped[0].reason


def test_split_is_seeded_by_frame_and_by_file(tmp_path):
    write_pairs(tmp_path / "p", n=4)
    data = collect_training_data([tmp_path / "p"], min_masks=1)
    a = data.split(0.25, "frame", seed=3)
    b = data.split(0.25, "frame", seed=3)
    assert [f.name for f in a[1]] == [f.name for f in b[1]] and len(a[1]) == 1 and len(a[0]) == 3
    names = {tuple(f.name for f in data.split(0.25, "frame", seed=s)[1]) for s in range(10)}
    assert len(names) > 1  # the seed matters
    train, val = data.split(0.5, "file", seed=0)
    assert {f.group for f in train}.isdisjoint({f.group for f in val}) and len(val) == 2


def test_parse_frames_and_corrected_records():
    assert parse_frames("all") == "all" and parse_frames("corrected") == "corrected"
    assert parse_frames("0,3-5, 2") == [0, 2, 3, 4, 5]
    assert parse_frames(" 0 - 1 ") == [0, 1]  # (spaces around the dash too)
    with pytest.raises(ParameterError, match="is not a frame number"):
        parse_frames("first")
    log = (
        "2026-01-01 10:00:00.000 | segmentation | INFO | frame t=0: z 0; 3 objects\n"
        "2026-01-01 10:01:00.000 | correction | INFO | manual correction saved: frame(s) 0, 3-4 edited; "
        "4 label(s) changed (frame 0: 1, frame 3: 2, frame 4: 1)\n"
        "2026-01-01 10:02:00.000 | correction | INFO | manual correction saved: frame(s) 7 edited; "
        "1 label(s) changed (frame 7: 1)\n"
        "--- earlier processing of the input ---\n"
        "2025-01-01 10:02:00.000 | correction | INFO | manual correction saved: frame(s) 9 edited; x\n"
    )
    assert corrected_frames(log) == [0, 3, 4, 7]


# --------------------------------------------------------------------------- _vSM masks
def _segment_stack(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """A real run of the engine on a 3-frame, 3-slice stack made of DSB2018 crops."""
    from napari_batchseg import SegmentationParams, segment_files

    imgs, _ = dsb_tiles(128)
    frames = imgs[[0, 5, 10]].astype(np.uint16)
    stack = np.stack([frames, (frames * 0.5).astype(np.uint16), (frames * 0.8).astype(np.uint16)], axis=1)
    path = tmp_path / "movie.tif"
    tifffile.imwrite(path, stack, imagej=True, metadata={"axes": "TZYX"})
    params = SegmentationParams(
        model=str(ROOT / "examples" / "models" / "batchseg_nuclei_cp3"), diameter=0, z_range="all",
        z_projection="max",
    )
    summary = segment_files([path], params)
    assert summary.ok, summary.to_frame()
    return tmp_path / "movie_vSM.ome.tif", stack


def test_vsm_mask_frames_are_prepared_as_logged_and_corrections_select(tmp_path):
    from napari_batchseg.corrections import delete_label, save_corrections
    from napari_batchseg.io.masks import read_mask

    mask_path, stack = _segment_stack(tmp_path)
    mask = read_mask(mask_path).labels
    data = collect_training_data([mask_path], min_masks=1)
    assert [f.index for f in data.frames] == [i for i in range(3) if len(np.unique(mask[i])) > 1]
    for f in data.frames:  # the max projection the log records, computed independently here
        np.testing.assert_array_equal(f.image, stack[f.index].max(axis=0).astype(np.float32))
        assert f.preparation["z_projection"] == "max" and f.preparation["z_used"] == [0, 1, 2]
        assert f.t == f.index
    assert str(mask_path) in data.files and str(tmp_path / "movie.tif") in data.files

    with pytest.raises(InputError, match="no training frames"):  # nothing corrected yet
        collect_training_data([mask_path], frames="corrected", min_masks=1)
    edited = mask.copy()
    edited[1] = delete_label(mask[1], int(mask[1].max()))
    save_corrections(mask_path, edited)
    data = collect_training_data([mask_path], frames="corrected", min_masks=1)
    assert [f.index for f in data.frames] == [1] and data.frames[0].preparation["corrected"]
    np.testing.assert_array_equal(data.frames[0].labels > 0, edited[1] > 0)


def test_vsm_mask_whose_input_changed_is_refused(tmp_path):
    mask_path, stack = _segment_stack(tmp_path)
    tifffile.imwrite(tmp_path / "movie.tif", stack[:, :2], imagej=True, metadata={"axes": "TZYX"})
    with pytest.raises(InputError, match=r"movie.tif changed since it was segmented \(\d+ bytes"):
        collect_training_data([mask_path], min_masks=1)  # (said before its Z slices are prepared)


def test_a_moved_input_is_named_once(tmp_path):
    """Walk: a mask whose input (beside it) was moved said ``.../movie.tif, does not exist (nor
    .../movie.tif)``, the same path twice; it is named once, and a second place only when it is another."""
    mask_path, _stack = _segment_stack(tmp_path)
    logged = tmp_path / "movie.tif"
    logged.rename(tmp_path / "moved.tif")
    with pytest.raises(InputError) as err:
        collect_training_data([mask_path], min_masks=1)
    assert f"the input its log names, {logged}, does not exist; the training image" in str(err.value)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for name in (mask_path.name, mask_path.name[: -len(".ome.tif")] + ".log"):
        (mask_path.parent / name).rename(elsewhere / name)
    with pytest.raises(InputError) as err:
        collect_training_data([elsewhere / mask_path.name], min_masks=1)
    assert f"names, {logged}, does not exist (nor {elsewhere / 'movie.tif'}); the" in str(err.value)


# --------------------------------------------------------------------------- bad input
def _nothing_written(folder: Path, out: Path) -> None:
    assert not out.exists() and not out.with_name(out.name + ".json").exists()
    assert not [p for p in folder.iterdir() if ".partial-" in p.name]
    assert recent_models() == []


def _cli(argv: list[str]) -> int:
    from napari_batchseg.cli_train import main

    return main(argv)


def test_no_masks_at_all(tmp_path, capsys):
    tifffile.imwrite(tmp_path / "lonely.tif", np.zeros((32, 32), np.uint16))
    out = tmp_path / "model"
    with pytest.raises(InputError, match="no masks found"):
        train_model([tmp_path], out, TrainingParams(base_model="scratch", epochs=1))
    assert _cli([str(tmp_path), "--output", str(out)]) == 2
    assert "no masks found" in capsys.readouterr().err
    with pytest.raises(InputError, match="lonely.tif: not a mask"):
        collect_training_data([tmp_path / "lonely.tif"])
    _nothing_written(tmp_path, out)


def test_all_frames_below_min_masks(tmp_path, capsys):
    write_pairs(tmp_path / "p", n=2)
    out = tmp_path / "model"
    with pytest.raises(InputError, match=r"all 2 frame\(s\) were skipped \(min_masks=1000\)"):
        train_model([tmp_path / "p"], out, TrainingParams(min_masks=1000))
    assert _cli([str(tmp_path / "p"), "--output", str(out), "--min-masks", "1000"]) == 2
    assert "tile0_masks.tif frame 0: " in capsys.readouterr().err
    _nothing_written(tmp_path, out)


def test_image_and_mask_of_different_shapes(tmp_path, capsys):
    tifffile.imwrite(tmp_path / "a.tif", np.zeros((64, 64), np.uint16))
    tifffile.imwrite(tmp_path / "a_masks.tif", np.zeros((64, 60), np.uint16))
    out = tmp_path / "model"
    assert _cli([str(tmp_path), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert "a.tif and a_masks.tif: image and mask have different shapes" in err and "(64, 60)" in err
    with pytest.raises(InputError, match="different shapes"):
        frames_from_arrays(np.zeros((3, 8, 8)), np.zeros((3, 8, 9), np.uint16))
    _nothing_written(tmp_path, out)


def test_base_model_missing_or_not_loadable(tmp_path, capsys):
    write_pairs(tmp_path / "p", n=3)
    out = tmp_path / "model"
    missing = tmp_path / "no_such_model"
    with pytest.raises(ModelError, match="no_such_model' not found"):
        train_model([tmp_path / "p"], out, TrainingParams(base_model=str(missing), validation_fraction=0.34))
    assert _cli([str(tmp_path / "p"), "-o", str(out), "--from", str(missing)]) == 2
    assert "not found" in capsys.readouterr().err
    junk = tmp_path / "junk_model"
    junk.write_bytes(b"this is not a model")
    with pytest.raises(ModelError, match="could not be loaded"):
        train_model([tmp_path / "p"], out, TrainingParams(base_model=str(junk), validation_fraction=0.34))
    _nothing_written(tmp_path, out)


def test_output_in_unwritable_folder(tmp_path, capsys):
    write_pairs(tmp_path / "p", n=3)
    targets = [Path("/proc/batchseg-test/model")] if Path("/proc").is_dir() else []
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if not os.access(locked, os.W_OK):  # permission bits do not stop root
            targets.append(locked / "model")
        assert targets, "no unwritable folder available on this system"
        for out in targets:
            with pytest.raises(OutputError, match="not writable") as err:
                train_model([tmp_path / "p"], out, TrainingParams(validation_fraction=0.34))
            # names the model's path, and the folder it lacks (a user walk: "/proc ... the model model")
            assert f"cannot save the model {out}: folder " in str(err.value)
            assert (f"to make the missing {out.parent} in" in str(err.value)) == (not out.parent.exists())
            assert _cli([str(tmp_path / "p"), "-o", str(out)]) == 2
            assert "not writable" in capsys.readouterr().err
            assert not out.exists()
    finally:
        locked.chmod(0o755)
    file_parent = tmp_path / "a_file"
    file_parent.write_text("x")
    with pytest.raises(OutputError, match="not a folder"):
        train_model([tmp_path / "p"], file_parent / "model", TrainingParams(validation_fraction=0.34))
    assert recent_models() == []


def test_one_image_holds_out_a_strip_of_it():
    """A user walk: one corrected image could not be trained on (0.2 of 1 frame "rounds to 0", 0.99
    "takes them all"); a strip of each frame, the validation fraction of its width, is held out."""
    image = tifffile.imread(DSB_IMAGE).astype(np.float32)
    mask = tifffile.imread(DSB_MASK)
    data = frames_from_arrays(image, mask, "dsb")
    train, val = data.split(0.2, seed=1)
    assert len(train) == len(val) == 1
    width = mask.shape[1]
    a, b = sorted([train[0].columns, val[0].columns])
    assert a[0] == 0 and a[1] == b[0] and b[1] == width  # the two strips tile the frame
    held = val[0].columns[1] - val[0].columns[0]
    assert 0.75 * round(0.2 * width) <= held <= 1.25 * round(0.2 * width)  # about the fraction of the width
    # review: the strip's edge cut objects in two (half trained on, half validated on): it cuts the fewest
    # near the fraction's width (seed 2: a left strip; 102 px would cut 8 nuclei)
    split, n_val = objects_cut(mask), round(0.2 * width)
    cut = data.split(0.2, seed=2)[1][0].columns[1]
    assert split[cut] == min(split[round(0.75 * n_val):round(1.25 * n_val) + 1]) < split[n_val]
    cut_by_hand = [lab for lab in np.unique(mask)[1:]
                   if (mask[:, :cut] == lab).any() and (mask[:, cut:] == lab).any()]
    assert split[cut] == len(cut_by_hand)
    assert val[0].name == f"dsb frame 0 x {val[0].columns[0]}-{val[0].columns[1] - 1}"
    for part in (train[0], val[0]):
        start, stop = part.columns
        assert np.array_equal(part.image, image[:, start:stop])
        ids = np.unique(part.labels)[1:]
        assert part.n_masks == len(ids) > 0 and ids.tolist() == list(range(1, len(ids) + 1))
        assert np.array_equal(part.labels > 0, mask[:, start:stop] > 0)
    again = data.split(0.2, seed=1)
    assert [f.columns for f in again[1]] == [val[0].columns]  # seeded
    clear_edges = mask.copy()
    clear_edges[:, :5] = clear_edges[:, -5:] = 0
    middle = mask.copy()
    middle[:, :150] = middle[:, 360:] = 0  # objects in the middle only: every strip left at an edge is empty
    with pytest.raises(InputError, match="no training objects left"):
        frames_from_arrays(image, middle, "dsb").split(0.999, seed=1)
    with pytest.raises(InputError, match="the held-out strips of 0.005 of each frame's width hold no "
                                         "object; use a larger --validation-fraction"):
        frames_from_arrays(image, clear_edges, "dsb").split(0.005, seed=1)  # a 3 px strip, empty
    # a review: the cut with the fewest objects cut could be an empty margin, leaving the strip empty
    sparse = np.zeros((64, 100), np.uint16)
    for i, (a, b) in enumerate([(18, 26), (30, 40), (45, 55), (60, 70), (80, 92)], 1):
        sparse[10 + 8 * i: 16 + 8 * i, a:b] = i  # nothing in the first 18 columns
    for seed in range(6):
        train, val = frames_from_arrays(np.ones((1, 64, 100), np.float32), sparse[None], "sparse",
                                        min_masks=1).split(0.2, seed=seed)
        assert val[0].n_masks >= 1 and train[0].n_masks >= 1, (seed, val[0].columns)
    frames_of_three = frames_from_arrays(np.stack([image] * 3), np.stack([mask] * 3), "three")
    train, val = frames_of_three.split(0.4, seed=0)  # 1 of 3 whole frames: no strips
    assert len(val) == 1 and len(train) == 2 and {f.columns for f in train + val} == {None}


def test_empty_validation_split(tmp_path, capsys):
    write_pairs(tmp_path / "p", n=3)
    out = tmp_path / "model"
    with pytest.raises(InputError, match="empty validation split"):  # one file cannot be split by file
        train_model([tmp_path / "p" / "tile0.tif"], out,
                    TrainingParams(validation_fraction=0.3, split="file"))
    assert _cli([str(tmp_path / "p" / "tile0.tif"), "-o", str(out), "--split", "file"]) == 2
    assert "empty validation split" in capsys.readouterr().err
    with pytest.raises(ParameterError, match="validation_fraction must be between 0 and 1"):
        TrainingParams(validation_fraction=0)
    _nothing_written(tmp_path, out)


def test_validation_inputs_must_not_be_training_inputs(tmp_path):
    write_pairs(tmp_path / "p", n=3)
    out = tmp_path / "model"
    with pytest.raises(InputError, match="validation inputs are also training inputs"):
        train_model([tmp_path / "p"], out, TrainingParams(min_masks=1),
                    validation=[tmp_path / "p" / "tile0.tif"])
    _nothing_written(tmp_path, out)


def test_recent_models_registry(tmp_path):
    from napari_batchseg.training.registry import add_listener, registry_path, remember_model, remove_listener

    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"x")
    b.write_bytes(b"y")
    heard = []
    add_listener(heard.append)
    try:
        remember_model(a)
        remember_model(b)
        remember_model(a)
    finally:
        remove_listener(heard.append)
    assert recent_models() == [str(a), str(b)]  # newest first, no duplicates
    assert heard == [str(a), str(b), str(a)]
    assert registry_path().parent == tmp_path / "config"
    b.unlink()
    assert recent_models() == [str(a)]  # files that are gone are left out


def test_batchseg_train_subcommand(tmp_path, capsys):
    from napari_batchseg.cli import build_parser, main

    help_text = build_parser().format_help()
    assert "train" in help_text
    args = build_parser().parse_args(["train", str(tmp_path), "--output", "m"])  # no --learning-rate
    assert TrainingParams(learning_rate=args.learning_rate).learning_rate == 0.001  # fine-tuning cyto3
    tifffile.imwrite(tmp_path / "lonely.tif", np.zeros((32, 32), np.uint16))
    assert main(["train", str(tmp_path), "--output", str(tmp_path / "model")]) == 2
    assert "no masks found" in capsys.readouterr().err
    _nothing_written(tmp_path, tmp_path / "model")


# --------------------------------------------------------------------------- what counts as a mask
def test_intensity_image_as_mask_is_refused(tmp_path, capsys):
    write_pairs(tmp_path / "p", n=3)
    tile = tifffile.imread(tmp_path / "p" / "tile0.tif")  # the real DSB2018 image, not its annotation
    tifffile.imwrite(tmp_path / "p" / "tile0_masks.tif", tile)
    with pytest.raises(InputError) as exc:
        collect_training_data([tmp_path / "p"], min_masks=1)
    message = str(exc.value)
    assert "tile0_masks.tif: looks like an intensity image" in message and "--force-labels" in message
    out = tmp_path / "model"
    assert _cli([str(tmp_path / "p"), "-o", str(out), "--from", "scratch"]) == 2
    assert "looks like an intensity image" in capsys.readouterr().err
    _nothing_written(tmp_path, out)
    forced = collect_training_data([tmp_path / "p"], min_masks=1, force_labels=True)
    assert len(forced.frames) == 3


def test_plain_multipage_mask_needs_axes(tmp_path, capsys):
    imgs, masks = dsb_tiles()
    folder = tmp_path / "ctc"
    folder.mkdir()
    tifffile.imwrite(folder / "movie.tif", imgs[:4])
    with tifffile.TiffWriter(folder / "movie_masks.tif") as tw:  # pages without axes metadata
        for frame in masks[:4]:
            tw.write(frame, metadata=None)
    with pytest.raises(InputError, match=r"movie_masks.tif: ambiguous axes.*--axes TYX"):
        collect_training_data([folder], min_masks=1)
    out = tmp_path / "model"
    assert _cli([str(folder), "-o", str(out), "--from", "scratch"]) == 2
    assert "--axes TYX" in capsys.readouterr().err
    data = collect_training_data([folder], min_masks=1, axes="TYX")
    assert [f.index for f in data.frames] == [0, 1, 2, 3]
    for f in data.frames:
        np.testing.assert_array_equal(f.labels > 0, masks[f.index] > 0)
    with pytest.raises(InputError, match="movie_masks.tif: .*2 letters but the file has 3 dimensions"):
        collect_training_data([folder], min_masks=1, axes="YX")


def test_float_masks_one_rule(tmp_path):
    imgs, masks = dsb_tiles()
    tifffile.imwrite(tmp_path / "a.tif", imgs[0])
    tifffile.imwrite(tmp_path / "a_masks.tif", masks[0].astype(np.float32))
    (frame,) = collect_training_data([tmp_path], min_masks=1).frames
    np.testing.assert_array_equal(frame.labels > 0, masks[0] > 0)
    assert frame.n_masks == len(np.unique(masks[0])) - 1
    half = masks[0].astype(np.float32)
    half[half == half.max()] += 0.5
    tifffile.imwrite(tmp_path / "a_masks.tif", half)
    with pytest.raises(InputError, match=r"a_masks.tif: not a label mask: .*not whole numbers"):
        collect_training_data([tmp_path], min_masks=1)


def test_validation_frames_are_separate_from_frames(tmp_path, capsys):
    imgs, masks = dsb_tiles()
    (tmp_path / "p").mkdir()
    tifffile.imwrite(tmp_path / "p" / "movie.tif", imgs[:4])
    tifffile.imwrite(tmp_path / "p" / "movie_masks.tif", masks[:4], imagej=True, metadata={"axes": "TYX"})
    val = tmp_path / "val"
    val.mkdir()
    tifffile.imwrite(val / "v.tif", imgs[5])
    tifffile.imwrite(val / "v_masks.tif", masks[5])  # one frame
    out = tmp_path / "model"
    missing = tmp_path / "no_such_model"
    # --frames picks frame 3 of the 4-frame training movie; the one-frame validation file keeps its frame:
    # the data are collected and the run gets as far as the (missing) base model
    params = TrainingParams(base_model=str(missing), frames=[3], min_masks=1)
    with pytest.raises(ModelError, match="no_such_model"):
        train_model([tmp_path / "p"], out, params, validation=[val])
    assert _cli([str(tmp_path / "p"), "-o", str(out), "--from", str(missing), "--frames", "3",
                 "--validation", str(val), "--min-masks", "1"]) == 2
    assert "no_such_model" in capsys.readouterr().err
    params = TrainingParams(base_model=str(missing), min_masks=1, validation_frames=[2])
    with pytest.raises(InputError, match=r"v_masks.tif: frame\(s\) \[2\] out of range"):
        train_model([tmp_path / "p"], out, params, validation=[val])
    assert _cli([str(tmp_path / "p"), "-o", str(out), "--validation-frames", "1"]) == 2
    assert "--validation-frames applies to --validation files" in capsys.readouterr().err
    _nothing_written(tmp_path, out)


def test_missing_builtin_model_fails_at_once(tmp_path):
    """``--from cyto3`` without its weights and without network fails before Cellpose (torch) is imported."""
    import subprocess
    import sys

    from _timing import time_bound

    write_pairs(tmp_path / "p", n=3)
    code = (
        "import sys, time\n"
        "from napari_batchseg.cli_train import main\n"
        "t0 = time.perf_counter()\n"
        "rc = main(sys.argv[1:])\n"
        "print(f'rc={rc} seconds={time.perf_counter() - t0:.3f} torch={\"torch\" in sys.modules}')\n"
    )
    env = {**os.environ, "CELLPOSE_LOCAL_MODELS_PATH": str(tmp_path / "models"), "BATCHSEG_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "p"), "-o", str(tmp_path / "model"), "--from", "cyto3"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert "weights file 'cyto3' not found" in proc.stderr and "BATCHSEG_OFFLINE is set" in proc.stderr
    result = dict(item.split("=") for item in proc.stdout.split()[-3:])
    assert result["rc"] == "2"
    assert result["torch"] == "False"  # the error comes before Cellpose and torch are imported
    assert float(result["seconds"]) < time_bound(2.0, cap=20.0)


def test_volume_arrays_give_one_pair_per_xy_slice():
    """(T, Z, Y, X) layers (a volume run in napari): each XY slice with enough objects is one pair."""
    imgs, masks = dsb_tiles()
    image = np.stack([imgs[:3], imgs[1:4]])  # T = 2 volumes of 3 slices, real images and real annotations
    labels = np.stack([masks[:3], masks[1:4]])
    labels[1, 2] = 0  # an empty slice: skipped and reported with its z
    data = frames_from_arrays(image, labels, "volume layer", frames=[1], min_masks=1)
    assert [(f.index, f.z) for f in data.frames] == [(1, 0), (1, 1)]
    for f in data.frames:
        np.testing.assert_array_equal(f.image, image[1, f.z].astype(np.float32))
        assert f.n_masks == len(np.unique(labels[1, f.z])) - 1 and f.preparation["slice_axes"] == "yx"
        assert f.name == f"volume layer frame 1 z {f.z}"
    assert [(s.index, s.z) for s in data.skipped] == [(1, 2)] and data.skipped[0].reason.startswith("z 2: 0 ")
